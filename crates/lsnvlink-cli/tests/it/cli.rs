//! The command line as users meet it: `--help` with examples and exit codes, colour only
//! where it is wanted (a terminal or `CLICOLOR_FORCE`, never with `NO_COLOR`), and the
//! definition `cargo xtask dist` turns into man pages and completions.

use std::process::{Command, Output};

use crate::common;

fn lsnvlink(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::lsnvlink_command();
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd.env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

const ESC: &str = "\u{1b}[";

#[test]
fn help_shows_examples_and_exit_codes() {
    let o = lsnvlink(&["--help"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Examples:"));
    assert!(text.contains("lsnvlink --format prom -o"));
    assert!(text.contains("Exit codes:"));
    for flag in ["--sosreport", "--hwloc", "--output", "--memlock-domain"] {
        assert!(text.contains(flag), "{flag}");
    }
    let o = lsnvlink(&["fleet", "--help"], &[]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Examples:") && text.contains("--format json"));
}

#[test]
fn colour_only_when_forced_and_never_with_no_color() {
    // Piped (not a terminal): plain.
    let plain = lsnvlink(&["--help"], &[]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains(ESC));
    // Forced, as a terminal would get it: coloured. This shows the check below can fail.
    let forced = lsnvlink(&["--help"], &[("CLICOLOR_FORCE", "1")]);
    assert!(String::from_utf8_lossy(&forced.stdout).contains(ESC));
    // NO_COLOR wins over everything.
    let no = lsnvlink(&["--help"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!String::from_utf8_lossy(&no.stdout).contains(ESC));
    // Usage errors too (exit 2, on stderr).
    let bad = lsnvlink(&["--bogus"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&bad.stderr).contains(ESC));
    // The report itself is never coloured.
    let cap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/captures/ac922-4gpu-eeh-removed.tar.gz"
    );
    let report = lsnvlink(&["--capture", cap], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(report.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&report.stdout).contains(ESC));
}

#[test]
fn the_library_command_is_the_binary_command() {
    let cmd = lsnvlink_cli::cli::command();
    let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    assert_eq!(names, ["capture", "diff", "dt", "fleet", "memlock", "pci"]);
    let o = lsnvlink(&["--version"], &[]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim(),
        format!("lsnvlink {}", lsnvlink::VERSION)
    );
}

#[test]
fn the_ansible_fact_script_prints_json_whatever_happens() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/ansible/lsnvlink.fact"
    );
    for bin in [env!("CARGO_BIN_EXE_lsnvlink"), "/nonexistent/lsnvlink"] {
        let o = Command::new("sh")
            .arg(script)
            .env("LSNVLINK", bin)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The report of this machine (whatever it is), or why there is none.
        assert!(
            v.get("schema_version").is_some() || v.get("error").is_some(),
            "{v}"
        );
    }
}

#[test]
fn capture_help_lists_what_sanitize_removes() {
    let o = lsnvlink(&["capture", "--help"], &[]);
    let text = String::from_utf8(o.stdout).unwrap();
    for kind in [
        "/chosen",
        "bootargs",
        "mac-address",
        "ibm,partition-uuid",
        "vm,uuid",
        "serial",
        "location codes",
        "host",
    ] {
        assert!(text.contains(kind), "{kind}: {text}");
    }
}

/// `-o -` is standard output for every command that writes a file, never a file named `-`.
#[test]
fn dash_output_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let cap = common::capture("ac922-4gpu-16gb-nvidia");
    let cap = cap.to_str().unwrap();
    let run = |args: &[&str]| {
        common::lsnvlink_command()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let report = run(&["--capture", cap, "--format", "json", "-o", "-"]);
    assert_eq!(report.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&report.stdout).contains("\"schema_version\""));
    let fleet = run(&["fleet", cap, "-o", "-"]);
    assert_eq!(fleet.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&fleet.stdout).contains("wsp-4gpu"));
    // A capture of a copied root to standard output is a gzip stream a replay reads back.
    let root = tempfile::tempdir().unwrap();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(cap).unwrap());
    tar::Archive::new(gz).unpack(root.path()).unwrap();
    let capture = run(&[
        "capture",
        "--root",
        root.path().to_str().unwrap(),
        "-o",
        "-",
    ]);
    assert_eq!(
        capture.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&capture.stderr)
    );
    assert_eq!(
        capture.stdout.get(..2),
        Some(&[0x1f, 0x8b][..]),
        "gzip magic"
    );
    let again = dir.path().join("again.tar.gz");
    std::fs::write(&again, &capture.stdout).unwrap();
    let replay = run(&["--capture", again.to_str().unwrap(), "--format", "json"]);
    assert_eq!(replay.status.code(), Some(0));
    assert!(!dir.path().join("-").exists(), "no file named -");
}

/// --root, --capture and --limits-scale may come before the subcommand's name as well as
/// after it, with the same output.
#[test]
fn global_options_before_or_after_the_subcommand() {
    let cap = common::capture("ac922-4gpu-16gb-nvidia");
    let cap = cap.to_str().unwrap();
    let same = |a: &[&str], b: &[&str]| {
        let (x, y) = (common::lsnvlink(a), common::lsnvlink(b));
        assert_eq!(
            x.status.code(),
            Some(0),
            "{a:?}: {}",
            String::from_utf8_lossy(&x.stderr)
        );
        assert_eq!(x.stdout, y.stdout, "{a:?} vs {b:?}");
        assert_eq!(x.status.code(), y.status.code());
    };
    same(
        &["--capture", cap, "pci", "-n"],
        &["pci", "--capture", cap, "-n"],
    );
    same(
        &["--capture", cap, "--limits-scale", "2", "dt", "ls", "/"],
        &["dt", "ls", "--capture", cap, "/"],
    );
    same(
        &[
            "--capture",
            cap,
            "memlock",
            "--memory",
            "64GiB",
            "--hostdev",
            "0004:04:00.0",
        ],
        &[
            "memlock",
            "--memory",
            "64GiB",
            "--hostdev",
            "0004:04:00.0",
            "--capture",
            cap,
        ],
    );
}

/// A reader that goes away (`lsnvlink … | head -1`) ends every command quietly with exit 0.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::process::Stdio;
    let cap = common::capture("ac922-6gpu-32gb-vfio");
    let cap = cap.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["--capture", cap, "--format", "json"],
        &["pci", "--capture", cap, "--format", "vmm"],
        &["dt", "dump", "--capture", cap],
        &[
            "memlock",
            "--capture",
            cap,
            "--memory",
            "64GiB",
            "--format",
            "json",
        ],
        &["fleet", cap, cap, cap, "--format", "json"],
    ];
    for args in commands {
        // A pipe whose reading end is closed before the command writes: every write fails
        // with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = common::lsnvlink_command()
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
