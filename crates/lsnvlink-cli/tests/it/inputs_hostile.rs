//! Files named on the command line are opened once, must be regular files, and are read from
//! that handle within a bound: `/dev/zero`, a FIFO (nobody writing) or a directory never
//! makes a command read without end, block, or print bytes of a file a symlink names.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common;

/// Runs lsnvlink, killing it after 10 s (a blocked read is a failure, not a hung test); its
/// output is read as it comes, so a long one cannot block it.
fn run(args: &[&str]) -> (Output, Duration) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = common::lsnvlink_command()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // A watchdog, not a measure: a reader blocked on a FIFO would hang the test run;
        // killed, it has no exit code and the caller's exit-code check fails.
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, started.elapsed())
}

fn fifo(dir: &Path) -> String {
    let path = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    path.to_str().unwrap().to_owned()
}

fn refused(args: &[&str]) {
    let (o, _) = run(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Exit 2 by itself: a run that blocked on the FIFO is killed by the watchdog instead.
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains("not a regular file") || stderr.contains("Is a directory"),
        "{args:?}: {stderr}"
    );
}

#[test]
fn device_nodes_and_fifos_on_the_command_line_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo(dir.path());
    let capture = common::capture("ac922-4gpu-16gb-nvidia");
    let capture = capture.to_str().unwrap();
    for bad in ["/dev/zero", fifo.as_str()] {
        refused(&["pci", "--capture", capture, "--pci-ids", bad]);
        refused(&["dt", "dump", bad]);
        refused(&["dt", "get", "/", "--blob", bad]);
        refused(&["--capture", bad]);
        refused(&["--hwloc", bad]);
        refused(&["--sosreport", bad]);
        refused(&["memlock", "--domain", bad]);
        refused(&[
            "--capture",
            capture,
            "--format",
            "prom",
            "--memlock-domain",
            bad,
        ]);
    }
    // fleet lists an unreadable input and exits 2.
    let (o, _) = run(&["fleet", "/dev/zero", &fifo]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_blob_over_the_input_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.dtb");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(17 << 20).unwrap(); // sparse: 17 MiB of zeros cost nothing on disk
    let (o, _) = run(&["dt", "dump", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("limit"), "{stderr}");
    // --limits-scale raises it (then the blob is refused as a blob, not for its size).
    let (o, _) = run(&["dt", "dump", "--limits-scale", "2", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains("limit of") && stderr.contains("big.dtb"),
        "{stderr}"
    );
}

#[test]
fn fleet_threads_are_bounded() {
    let capture = common::capture("ac922-4gpu-16gb-nvidia");
    let (o, _) = run(&["fleet", "-j", "100000", capture.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let (o, _) = run(&["fleet", "-j", "2", capture.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

/// `pci --format json` and `vmm` stream their output (they once built it whole, 20 KB per
/// device, and refused more than 1,024 devices): every device of a capture past that number is
/// listed, with no `--limits-scale`. What bounds them is the input (`cargo xtask hostile`
/// measures the 49,000-device capture).
#[test]
fn pci_json_and_vmm_list_every_device_of_a_large_capture() {
    let mut tree = lsnvlink::capture::Tree::new();
    for i in 0..1100 {
        tree.insert_dir(&format!("sys/bus/pci/devices/{i:04x}:00:00.0"))
            .unwrap();
    }
    let capture = lsnvlink::capture::Capture {
        tree,
        manifest: lsnvlink::capture::Manifest::fixed("test"),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.tar.gz");
    std::fs::write(&file, capture.to_tar_gz().unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let (o, _) = run(&["pci", "--capture", file, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let devices = doc["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1100);
    assert_eq!(devices[1099]["address"], "044b:00:00.0");
    let (o, _) = run(&["pci", "--capture", file, "--format", "vmm"]);
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.matches("Slot:\t").count(), 1100);
    assert!(stdout.ends_with("Slot:\t044b:00:00.0\n\n"), "{stdout}");
    let (o, _) = run(&["pci", "--capture", file]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1100);
}
