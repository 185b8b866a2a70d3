//! `contrib/systemd/`: the timer and hardened service that write `--format prom` for
//! node_exporter, checked by `systemd-analyze verify` (unit syntax, the timer's service, the
//! ExecStart binary) and `systemd-analyze security --offline=yes` (exposure 1.0 or less).
//! systemd-analyze is required (Debian: the `systemd` package; CI installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn contrib(name: &str) -> PathBuf {
    lsnvlink_test_support::workspace()
        .join("contrib/systemd")
        .join(name)
}

fn analyze(args: &[&str], dir: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): install it (Debian: apt-get install systemd)")
        })
}

#[test]
fn the_units_verify_and_the_service_is_hardened() {
    let service = std::fs::read_to_string(contrib("lsnvlink-prom.service")).unwrap();
    let timer = std::fs::read_to_string(contrib("lsnvlink-prom.timer")).unwrap();
    // The packages install the binary as /usr/bin/lsnvlink; verify checks that ExecStart's
    // binary exists, so the copy checked here points at the one just built.
    assert!(service.contains("\nExecStart=/usr/bin/lsnvlink --format prom -o "));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lsnvlink-prom.service"),
        service.replace("/usr/bin/lsnvlink", env!("CARGO_BIN_EXE_lsnvlink")),
    )
    .unwrap();
    std::fs::write(dir.path().join("lsnvlink-prom.timer"), &timer).unwrap();

    // Any complaint (an unknown key is only a warning, with exit 0) fails the test.
    let o = analyze(
        &[
            "verify",
            "--man=no",
            "./lsnvlink-prom.service",
            "./lsnvlink-prom.timer",
        ],
        dir.path(),
    );
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "systemd-analyze verify: {}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = analyze(
        &[
            "security",
            "--offline=yes",
            "--threshold=10",
            "./lsnvlink-prom.service",
        ],
        dir.path(),
    );
    assert!(
        o.status.success(),
        "systemd-analyze security: exposure above 1.0\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // What the issue asks for, line by line; the output file is inside the one writable path.
    let lines: Vec<&str> = service.lines().collect();
    for line in [
        "Type=oneshot",
        "SuccessExitStatus=1",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/prometheus/node-exporter",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateNetwork=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ProtectKernelTunables=yes",
    ] {
        assert!(lines.contains(&line), "{line}");
    }
    assert!(
        service.contains("-o /var/lib/prometheus/node-exporter/lsnvlink.prom\n"),
        "{service}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("ReadWritePaths="))
            .count(),
        1
    );
    assert!(timer.contains("\nWantedBy=timers.target\n"));
}
