//! `lsnvlink fleet`: snapshots of the text and JSON lines for a small fleet built from the
//! bundled captures, the majority and the odd hosts out, unreadable inputs, exit codes.

use std::path::Path;
use std::process::Output;

use crate::common::{self, capture};

/// A fleet of five: three healthy 4-GPU hosts, one with a link down, one 6-GPU host; plus a
/// copied root with an empty PCI bus.
fn fleet_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, name) in [
        ("node01.tar.gz", "ac922-4gpu-16gb-nvidia"),
        ("node02.tar.gz", "ac922-4gpu-16gb-nvidia"),
        ("node03.tar.gz", "ac922-4gpu-eeh-removed"),
        ("node04.tar.gz", "ac922-4gpu-16gb-nvidia"),
        ("node05.tar.gz", "ac922-6gpu-32gb-vfio"),
    ] {
        std::fs::copy(capture(name), dir.path().join(file)).unwrap();
    }
    // Not a capture: ignored in a directory scan.
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    dir
}

fn fleet(dir: &Path, args: &[&str]) -> Output {
    common::lsnvlink_command()
        .current_dir(dir)
        .arg("fleet")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn text_lists_each_host_and_the_odd_ones_out() {
    let dir = fleet_dir();
    let o = fleet(dir.path(), &["."]);
    assert_eq!(o.status.code(), Some(1), "node03 has an error finding");
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with(' ') && l.contains("./node"))
            .count(),
        5
    );
    assert!(text.contains("Majority (3 of 5)"));
    assert!(text.contains(
        "wsp-eeh (./node03.tar.gz): CPU links 9, majority 12; findings error link-missing"
    ));
    assert_snapshot!("fleet_text", text);
}

#[test]
fn json_lines_are_one_object_per_host_then_the_summary() {
    let dir = fleet_dir();
    let o = fleet(dir.path(), &["--format", "json", "."]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[..5].iter().all(|l| l["kind"] == "host"));
    let summary = &lines[5];
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["hosts"], 5);
    assert_eq!(summary["with_errors"], 1);
    assert_eq!(summary["majority"]["hosts"], 3);
    assert_eq!(
        summary["differing"],
        serde_json::json!(["./node03.tar.gz", "./node05.tar.gz"])
    );
    assert_eq!(lines[0]["matches_majority"], true);
    assert_eq!(lines[2]["cpu_links"], 9);
    assert_snapshot!("fleet_json", text);
}

#[test]
fn one_thread_or_many_give_the_same_bytes() {
    let dir = fleet_dir();
    let one = fleet(dir.path(), &["-j", "1", "--format", "json", "."]);
    let many = fleet(dir.path(), &["-j", "4", "--format", "json", "."]);
    assert_eq!(one.stdout, many.stdout);
}

#[test]
fn an_unreadable_capture_is_listed_and_exits_2() {
    let dir = fleet_dir();
    std::fs::write(dir.path().join("node06.tar.gz"), b"not a tarball").unwrap();
    let o = fleet(dir.path(), &["."]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("node06  "), "{text}");
    assert!(text.contains("Unreadable (1):"));
    // The other hosts are still there: six host lines.
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with(' ') && l.contains("./node"))
            .count(),
        6
    );
}

#[test]
fn files_and_copied_roots_can_be_named_one_by_one() {
    let dir = fleet_dir();
    let root = dir.path().join("emptyhost");
    std::fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
    let o = fleet(dir.path(), &["node01.tar.gz", "node02.tar.gz", "emptyhost"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("emptyhost"), "{text}");
    assert!(text.contains("Majority (2 of 3)"));
}

#[test]
fn a_directory_without_captures_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let o = fleet(dir.path(), &["."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no capture archives"));
    let o = fleet(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "an input is required");
}

#[test]
fn without_a_majority_no_host_is_said_to_match_it() {
    let dir = tempfile::tempdir().unwrap();
    for (file, name) in [
        ("a.tar.gz", "ac922-4gpu-16gb-nvidia"),
        ("b.tar.gz", "ac922-6gpu-32gb-vfio"),
        ("c.tar.gz", "ac922-2gpu-16gb-nvidia"),
    ] {
        std::fs::copy(capture(name), dir.path().join(file)).unwrap();
    }
    let o = fleet(dir.path(), &[".", "--format", "json"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for host in lines.iter().filter(|l| l["kind"] == "host") {
        assert_eq!(host["matches_majority"], serde_json::Value::Null, "{host}");
    }
    // With a majority, a boolean.
    let o = fleet(fleet_dir().path(), &[".", "--format", "json"]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["matches_majority"], true);
}

/// A sosreport-like tarball named as sos names them, holding a capture's device tree, host
/// name and kernel release.
fn sosreport_of(name: &str, out: &Path) {
    use std::io::Read;
    let bytes = std::fs::read(capture(name)).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let top = "sosreport-node09-2026";
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_owned();
        let keep = path.starts_with("sys/firmware/devicetree/base/")
            || path == "proc/sys/kernel/hostname"
            || path == "proc/sys/kernel/osrelease";
        if !keep || entry.header().entry_type().is_dir() {
            continue;
        }
        let rest = path
            .strip_prefix("sys/firmware/devicetree/base/")
            .map_or(path.clone(), |r| format!("proc/device-tree/{r}"));
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let mut h = entry.header().clone();
        b.append_data(&mut h, format!("{top}/{rest}"), data.as_slice())
            .unwrap();
    }
    std::fs::write(out, b.into_inner().unwrap().finish().unwrap()).unwrap();
}

#[test]
fn a_fleet_reads_sosreports_too() {
    let dir = fleet_dir();
    sosreport_of(
        "ac922-4gpu-16gb-nvidia",
        &dir.path().join("sosreport-node09-2026.tar.gz"),
    );
    let o = fleet(dir.path(), &[".", "--format", "json"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let sos: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| {
            l["source"]
                .as_str()
                .is_some_and(|s| s.contains("sosreport"))
        })
        .unwrap();
    assert_eq!(sos["error"], serde_json::Value::Null, "{sos}");
    assert_eq!(sos["hostname"], "wsp-4gpu");
    assert_eq!(sos["nvlink2_gpus"], 4);
    assert_eq!(sos["cpu_links"], 12);
}
