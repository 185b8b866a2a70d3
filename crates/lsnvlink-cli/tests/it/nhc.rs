//! `contrib/nhc/lsnvlink.nhc`: the NHC check sourced by bash with NHC's `die`, `log` and `dbg`
//! stubbed, run against the real binary replaying bundled captures (a healthy host, the
//! EEH-removed host with a link-missing error, a 5.14 kernel with a warning), a capture that
//! cannot be read, and a binary that does not exist.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::capture;

/// The check file, from the repository root.
fn check_file() -> PathBuf {
    lsnvlink_test_support::workspace().join("contrib/nhc/lsnvlink.nhc")
}

/// A wrapper script standing in for `lsnvlink` on a node: the test binary, started through
/// the emulator when the tests run under one (`LSNVLINK_TEST_RUNNER`).
fn wrapper(dir: &Path) -> PathBuf {
    let runner = std::env::var(lsnvlink_test_support::RUNNER_VAR).unwrap_or_default();
    let path = dir.join("lsnvlink");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nexec {runner} '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_lsnvlink")
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// What one `check_lsnvlink ARGS…` call did: the stubs' lines and the function's status.
struct Outcome {
    /// `die CODE: MESSAGE` lines (NHC's `die` marks the node down).
    dies: Vec<String>,
    /// Everything the check printed through the stubs.
    out: String,
    status: i32,
}

/// Sources the check file in bash with stub `die`/`log`/`dbg` and runs `check_lsnvlink`.
fn check(args: &[&str], env_binary: Option<&Path>) -> Outcome {
    let script = r#"
die() { echo "die $1: $2"; return 0; }
log() { echo "log: $*"; }
dbg() { echo "dbg: $*"; }
source "$CHECK_FILE"
check_lsnvlink "$@"
echo "status=$?"
"#;
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .arg("nhc-test")
        .args(args)
        .env("CHECK_FILE", check_file())
        .env_remove("LSNVLINK");
    if let Some(bin) = env_binary {
        cmd.env("LSNVLINK", bin);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    let status = out
        .lines()
        .find_map(|l| l.strip_prefix("status="))
        .unwrap()
        .parse()
        .unwrap();
    let dies = out
        .lines()
        .filter(|l| l.starts_with("die "))
        .map(str::to_owned)
        .collect();
    Outcome { dies, out, status }
}

fn cap(name: &str) -> String {
    capture(name).to_string_lossy().into_owned()
}

#[test]
fn a_healthy_node_passes() {
    let dir = tempfile::tempdir().unwrap();
    let bin = wrapper(dir.path());
    let healthy = cap("ac922-4gpu-16gb-nvidia");
    let o = check(&["--", "--capture", &healthy], Some(&bin));
    assert_eq!(o.status, 0, "{}", o.out);
    assert!(o.dies.is_empty(), "{}", o.out);
    // -w too: the healthy host has no warning either.
    let o = check(
        &[
            "-w",
            "-b",
            bin.to_str().unwrap(),
            "--",
            "--capture",
            &healthy,
        ],
        None,
    );
    assert_eq!(o.status, 0, "{}", o.out);
}

#[test]
fn an_error_finding_fails_the_node_with_its_code_and_subject() {
    let dir = tempfile::tempdir().unwrap();
    let bin = wrapper(dir.path());
    let o = check(
        &[
            "-b",
            bin.to_str().unwrap(),
            "--",
            "--capture",
            &cap("ac922-4gpu-eeh-removed"),
        ],
        None,
    );
    assert_eq!(o.status, 1, "{}", o.out);
    assert_eq!(
        o.dies,
        [
            "die 1: check_lsnvlink:  1 NVLink2 error finding(s), first: link-missing on \
          0035:04:00.0 (lsnvlink for details)"
        ],
        "{}",
        o.out
    );
    assert!(
        o.out
            .contains("dbg: check_lsnvlink:  error link-missing 0035:04:00.0")
    );
    // Four errors on the host whose GPU memory is missing: the count and the first one.
    let o = check(
        &["--", "--capture", &cap("ac922-4gpu-no-gpu-memory")],
        Some(&bin),
    );
    assert_eq!(o.status, 1);
    assert_eq!(o.dies.len(), 1);
    assert!(
        o.dies[0].contains(" 4 NVLink2 error finding(s), first: "),
        "{}",
        o.out
    );
}

#[test]
fn warnings_fail_the_node_only_with_w() {
    let dir = tempfile::tempdir().unwrap();
    let bin = wrapper(dir.path());
    let kernel = cap("ac922-4gpu-kernel-5.14");
    let o = check(&["--", "--capture", &kernel], Some(&bin));
    assert_eq!(o.status, 0, "{}", o.out);
    assert!(
        o.out
            .contains("dbg: check_lsnvlink:  warning nvlink2-kernel-unsupported host")
    );
    let o = check(&["-w", "--", "--capture", &kernel], Some(&bin));
    assert_eq!(o.status, 1, "{}", o.out);
    assert!(
        o.dies[0].contains("warning finding(s), first: nvlink2-kernel-unsupported on host"),
        "{}",
        o.out
    );
}

#[test]
fn an_unreadable_host_a_missing_binary_and_a_bad_option_fail_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let bin = wrapper(dir.path());
    let missing = dir.path().join("missing.tar.gz");
    let o = check(&["--", "--capture", missing.to_str().unwrap()], Some(&bin));
    assert_eq!(o.status, 1, "{}", o.out);
    assert!(
        o.dies[0].contains("cannot report on this node: "),
        "{}",
        o.out
    );
    assert!(o.dies[0].contains("missing.tar.gz"), "{}", o.out);

    let nowhere = dir.path().join("no-such-lsnvlink");
    let o = check(&["-b", nowhere.to_str().unwrap()], None);
    assert_eq!(o.status, 1);
    assert_eq!(
        o.dies,
        [format!(
            "die 1: check_lsnvlink:  {} not found or not runnable.",
            nowhere.display()
        )]
    );

    let o = check(&["-x"], Some(&bin));
    assert_eq!(o.status, 1);
    assert_eq!(o.dies, ["die 1: check_lsnvlink:  Invalid option:  -x"]);
}
