//! Output files and standard output: temporary files with random names, removed on every
//! error; output names as long as the file system allows; a closed standard output is an
//! error, not a silent success.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

/// A tiny copied root a capture can be taken from.
fn small_root(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::write(root.join("proc/sys/kernel/osrelease"), "5.14.0\n").unwrap();
    root
}

/// Runs lsnvlink through `sh -c` with a shell prelude (a closed descriptor, a file size
/// limit), where no test runner wraps the binary.
fn through_sh(prelude: &str, args: &[&str]) -> Option<Output> {
    if std::env::var_os(lsnvlink_test_support::RUNNER_VAR).is_some() {
        return None; // the runner cannot be exec'd with a shell prelude in the same way
    }
    let bin = env!("CARGO_BIN_EXE_lsnvlink");
    let script = format!("{prelude}; exec \"$0\" \"$@\"");
    Some(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(bin)
            .args(args)
            .output()
            .unwrap(),
    )
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn output_names_up_to_255_bytes_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_root(dir.path());
    let name = format!("{}.tar.gz", "c".repeat(248));
    assert_eq!(name.len(), 255);
    let out = dir.path().join(&name);
    let o = common::lsnvlink(&[
        "capture",
        "--root",
        root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.is_file());
    let report = dir.path().join(format!("{}.prom", "r".repeat(250)));
    let capture = common::capture("ac922-4gpu-16gb-nvidia");
    let o = common::lsnvlink(&[
        "--capture",
        capture.to_str().unwrap(),
        "--format",
        "prom",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1));
    assert!(report.is_file(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_capture_that_cannot_be_written_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_root(dir.path());
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("c.tar.gz");
    // A file size limit of 512 bytes with SIGXFSZ ignored: the write fails with EFBIG, as
    // on a full disk.
    let Some(o) = through_sh(
        "trap '' XFSZ; ulimit -f 1",
        &[
            "capture",
            "--root",
            root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    assert_eq!(leftovers(&outdir), Vec::<String>::new());
    // Without --force an existing file is kept, and nothing is left behind either.
    std::fs::write(&out, "keep").unwrap();
    let o = common::lsnvlink(&[
        "capture",
        "--root",
        root.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    assert!(leftovers(&outdir).is_empty());
}

#[test]
fn a_closed_standard_output_is_an_error() {
    let capture = common::capture("ac922-4gpu-16gb-nvidia");
    let capture = capture.to_str().unwrap();
    for args in [
        vec!["--capture", capture],
        vec!["pci", "--capture", capture],
        vec!["dt", "ls", "/", "--capture", capture],
        vec!["memlock", "--memory", "1GiB"],
        vec!["fleet", capture],
        vec!["diff", capture, capture],
    ] {
        let Some(o) = through_sh("exec >&-", &args) else {
            return;
        };
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("standard output"), "{args:?}: {stderr}");
    }
}
