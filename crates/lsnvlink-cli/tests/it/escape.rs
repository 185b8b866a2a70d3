//! Untrusted text never reaches a terminal raw: a host whose host name, model, driver name,
//! device-tree strings and pci.ids names carry escape sequences and newlines is read by every
//! text renderer (report text and matrix, `pci` list and vmm, `fleet`, `memlock`), and the
//! output holds no escape character and no forged line.

use std::path::Path;

use crate::common::{capture, lsnvlink_command};

const EVIL: &str = "wsp\x1b]0;pwned\x07\x1b[2J\nFORGED line\r\u{9b}31m\u{202e}";

fn unpack(name: &str, dir: &Path) {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(capture(name)).unwrap());
    tar::Archive::new(gz).unpack(dir).unwrap();
}

/// A 4-GPU host with hostile strings wherever the host supplies text.
fn hostile_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    unpack("ac922-4gpu-16gb-nvidia", dir.path());
    let p = |rel: &str| dir.path().join(rel);
    std::fs::write(p("proc/sys/kernel/hostname"), format!("{EVIL}\n")).unwrap();
    let dt = "sys/firmware/devicetree/base";
    std::fs::write(p(&format!("{dt}/model")), format!("{EVIL}\0")).unwrap();
    std::fs::write(
        p(&format!(
            "{dt}/pciex@600c3c0400000/pci@0/pci@0/pci@a/3d-controller@0/ibm,loc-code"
        )),
        format!("GPU0{EVIL}\0"),
    )
    .unwrap();
    // A driver whose name carries the same.
    let gpu = std::fs::read_link(p("sys/bus/pci/devices/0004:04:00.0")).unwrap();
    let dev = p("sys/bus/pci/devices").join(gpu);
    std::fs::remove_file(dev.join("driver")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../bus/pci/drivers/{EVIL}"),
        dev.join("driver"),
    )
    .unwrap();
    dir
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = lsnvlink_command().args(args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_clean(what: &str, out: &str) {
    for c in ['\x1b', '\x07', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(c), "{what}: raw {c:?} in\n{out}");
    }
    assert!(
        !out.lines().any(|l| l.starts_with("FORGED")),
        "{what}: a forged line in\n{out}"
    );
}

#[test]
fn report_text_and_matrix_escape_host_strings() {
    let root = hostile_root();
    let root = root.path().to_str().unwrap();
    for format in ["text", "matrix"] {
        let (code, out, err) = run(&["--root", root, "--format", format]);
        assert_eq!(code, Some(0), "{err}");
        assert_clean(format, &out);
        assert!(
            out.contains("\\x1b"),
            "{format}: the escape is shown\n{out}"
        );
    }
    // JSON keeps the value as it is (escaped by JSON's own rules).
    let (_, json, _) = run(&["--root", root, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["platform"]["hostname"], EVIL);
}

#[test]
fn pci_list_and_vmm_escape_names_and_drivers() {
    let root = hostile_root();
    let ids = root.path().join("pci.ids");
    std::fs::write(&ids, format!("10de  NVIDIA{EVIL}\n\t1db1  GV100{EVIL}\n")).unwrap();
    let root_s = root.path().to_str().unwrap();
    let ids_s = ids.to_str().unwrap();
    for format in ["text", "vmm"] {
        let (code, out, err) = run(&[
            "pci",
            "--root",
            root_s,
            "--pci-ids",
            ids_s,
            "--format",
            format,
        ]);
        assert_eq!(code, Some(0), "{err}");
        assert_clean(format, &out);
        assert!(out.contains("NVIDIAwsp\\x1b"), "{format}: {out}");
    }
}

#[test]
fn fleet_lines_cannot_be_forged() {
    let root = hostile_root();
    let (_, out, _) = run(&["fleet", root.path().to_str().unwrap()]);
    assert_clean("fleet", &out);
    assert!(out.contains("wsp\\x1b"), "{out}");
}

#[test]
fn error_messages_escape_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("cap\x1b[2J\nFORGED.tar.gz");
    std::fs::write(&evil, b"not an archive").unwrap();
    let (code, _, err) = run(&["--capture", evil.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert_clean("stderr", &err);
}

#[test]
fn memlock_text_escapes_the_domain_name() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("guest.xml");
    // XML 1.0 allows a newline (and a carriage return) as a character reference.
    std::fs::write(
        &xml,
        "<domain type='kvm'><name>g&#10;FORGED line&#13;</name>\
         <memory unit='GiB'>64</memory><os><type arch='ppc64le' machine='pseries'>hvm</type></os>\
         </domain>",
    )
    .unwrap();
    let (code, out, err) = run(&["memlock", "--domain", xml.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_clean("memlock", &out);
    assert!(out.contains("g\\nFORGED line"), "{out}");
}
