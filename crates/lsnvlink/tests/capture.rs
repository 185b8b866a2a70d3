//! The generated test captures (`testdata/captures`, from `cargo xtask testdata`) and
//! `lsnvlink capture`: every capture opens with fsroot, lspci and dtc accept it, a capture of
//! an extracted capture replays to the same tree, the live machine can be captured, and the
//! command refuses to overwrite and sanitizes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use fsroot::{EntryKind, Limits, Root};
use lsnvlink::capture::{self, MANIFEST_NAME, Manifest, Options};

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/captures")
}

/// (file name, NVLink bridges in sysfs, V100s, has a device tree).
const EXPECTED: &[(&str, usize, usize, bool)] = &[
    ("ac922-2gpu-16gb-nvidia.tar.gz", 12, 2, true),
    ("ac922-4gpu-16gb-nvidia.tar.gz", 12, 4, true),
    ("ac922-4gpu-5.10-one-atsd.tar.gz", 12, 4, true),
    ("ac922-4gpu-eeh-removed.tar.gz", 9, 4, true),
    ("ac922-4gpu-kernel-5.14.tar.gz", 0, 4, true),
    ("ac922-4gpu-no-gpu-memory.tar.gz", 12, 4, true),
    ("ac922-6gpu-16gb-kernel-4.14.tar.gz", 12, 6, true),
    ("ac922-6gpu-32gb-vfio.tar.gz", 12, 6, true),
    ("power9-no-gpu.tar.gz", 0, 0, true),
    ("x86-v100-pcie.tar.gz", 0, 1, false),
];

fn all_captures() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    found.sort();
    let names: Vec<String> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut expected: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "captures and EXPECTED disagree");
    found
}

fn extract(archive: &Path, into: &Path) {
    let file = std::fs::File::open(archive).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(into)
        .unwrap();
}

/// Every entry of a root, by path: 'd', 'f' + content, or 'l' + link text.
fn entries(root: &Root) -> BTreeMap<String, (char, Vec<u8>)> {
    fn walk(root: &Root, dir: &str, out: &mut BTreeMap<String, (char, Vec<u8>)>) {
        for name in root
            .read_dir(if dir.is_empty() { "/" } else { dir })
            .unwrap()
        {
            let path = format!("{dir}/{name}");
            if path == format!("/{MANIFEST_NAME}") {
                continue;
            }
            match root.kind(&path).unwrap() {
                EntryKind::Dir => {
                    out.insert(path.clone(), ('d', Vec::new()));
                    walk(root, &path, out);
                }
                EntryKind::File => {
                    out.insert(path.clone(), ('f', root.read(&path).unwrap().into_owned()));
                }
                EntryKind::Symlink => {
                    let target = root.read_link(&path).unwrap();
                    out.insert(path, ('l', target.to_string_lossy().as_bytes().to_vec()));
                }
                EntryKind::Other => panic!("{path}: unexpected entry kind"),
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn count_ids(root: &Root, id: &str) -> usize {
    root.read_dir("/sys/bus/pci/devices")
        .unwrap()
        .iter()
        .filter(|addr| {
            let dir = format!("/sys/bus/pci/devices/{addr}");
            let vendor = root.read_attr_text(format!("{dir}/vendor")).unwrap();
            let device = root.read_attr_text(format!("{dir}/device")).unwrap();
            format!("{}:{}", &vendor[2..], &device[2..]) == id
                || (id == "10de:v100" && vendor == "0x10de")
        })
        .count()
}

#[test]
fn every_capture_opens_with_fsroot_and_holds_what_it_promises() {
    for path in all_captures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, bridges, gpus, has_dt) = *EXPECTED.iter().find(|e| e.0 == name).unwrap();
        let root = Root::archive(&path).unwrap();
        assert!(root.skipped().is_empty(), "{name}: {:?}", root.skipped());
        assert!(
            std::fs::metadata(&path).unwrap().len() < 1 << 20,
            "{name} too big"
        );
        assert_eq!(
            count_ids(&root, "1014:04ea"),
            bridges,
            "{name}: NVLink bridges"
        );
        assert_eq!(count_ids(&root, "10de:v100"), gpus, "{name}: GPUs");
        let manifest = Manifest::from_json(&root.read(MANIFEST_NAME).unwrap()).unwrap();
        assert_eq!(manifest.schema_version, capture::SCHEMA_VERSION);
        assert_eq!(manifest.time, "1970-01-01T00:00:00Z", "{name}");
        assert!(manifest.unreadable.is_empty());
        assert!(
            root.read_text("/proc/cpuinfo")
                .unwrap()
                .contains("processor")
        );
        if has_dt {
            assert_eq!(
                root.resolve("/proc/device-tree").unwrap(),
                Path::new("/sys/firmware/devicetree/base")
            );
            // Every node has `name` and `phandle` (§2.3).
            let model = root.read("/proc/device-tree/model").unwrap();
            assert!(model.ends_with(b"\0"));
            assert!(root.exists("/proc/device-tree/name"));
            assert!(root.exists("/proc/device-tree/phandle"));
        } else {
            assert!(!root.exists("/proc/device-tree"));
        }
    }
}

#[test]
fn nvlink_bridges_pass_libvirts_test_and_gpus_do_not() {
    // libvirt ppc64VFIODeviceIsNV2Bridge: these four files under of_node/ (§3).
    let root = Root::archive(captures_dir().join("ac922-6gpu-32gb-vfio.tar.gz")).unwrap();
    let nv2 = |addr: &str| {
        ["ibm,gpu", "ibm,nvlink", "ibm,nvlink-speed", "memory-region"]
            .iter()
            .all(|p| root.exists(format!("/sys/bus/pci/devices/{addr}/of_node/{p}")))
    };
    assert!(nv2("0006:00:02.1"));
    assert!(nv2("0007:00:00.0"));
    assert!(!nv2("0004:06:00.0"));
    // The GPU's ibm,npu holds its two bridges; the old firmware has one ATSD register and no
    // ibm,nvlink-peers; memory grows down from 0x3e000000000.
    let gpu = "/sys/bus/pci/devices/0004:04:00.0/of_node";
    assert_eq!(root.read(format!("{gpu}/ibm,npu")).unwrap().len(), 8);
    assert!(!root.exists(format!("{gpu}/ibm,nvlink-peers")));
    assert_eq!(
        root.read("/proc/device-tree/pciex@6030200000000/ibm,mmio-atsd")
            .unwrap()
            .len(),
        8
    );
    assert!(root.exists("/proc/device-tree/memory@3e000000000/reg"));
    assert_eq!(
        root.read_link("/sys/bus/pci/devices/0006:00:00.0/driver")
            .unwrap(),
        Path::new("../../../bus/pci/drivers/vfio-pci")
    );
}

#[test]
fn memory_region_dangles_only_where_intended() {
    for (name, dangling) in [
        ("ac922-4gpu-16gb-nvidia.tar.gz", false),
        ("ac922-4gpu-no-gpu-memory.tar.gz", true),
    ] {
        let root = Root::archive(captures_dir().join(name)).unwrap();
        let bridge = "/sys/bus/pci/devices/0006:00:00.0/of_node";
        let phandle = root
            .read(format!("{bridge}/memory-region"))
            .unwrap()
            .into_owned();
        let base = "/sys/firmware/devicetree/base";
        let found = root
            .read_dir(base)
            .unwrap()
            .iter()
            .filter(|n| n.starts_with("memory@"))
            .any(|n| {
                root.read(format!("{base}/{n}/phandle")).unwrap().as_ref() == phandle.as_slice()
            });
        assert_eq!(found, !dangling, "{name}");
    }
}

fn oracle(cmd: &str) -> Command {
    let found = Command::new(cmd).arg("--version").output().is_ok()
        || Command::new(cmd).arg("-h").output().is_ok();
    assert!(found, "{cmd} is not installed (.ci/run installs it)");
    Command::new(cmd)
}

#[test]
fn lspci_and_dtc_accept_every_capture() {
    for path in all_captures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, bridges, gpus, has_dt) = *EXPECTED.iter().find(|e| e.0 == name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        extract(&path, dir.path());
        let out = oracle("lspci")
            .args(["-A", "linux-sysfs", "-O"])
            .arg(format!("sysfs.path={}/sys/bus/pci", dir.path().display()))
            .args(["-O", "hwdb.disable=1", "-nnD"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: lspci failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let devices = std::fs::read_dir(dir.path().join("sys/bus/pci/devices"))
            .unwrap()
            .count();
        assert_eq!(text.lines().count(), devices, "{name}:\n{text}");
        assert_eq!(
            text.matches("[1014:04ea] (rev 01)").count(),
            bridges,
            "{name}:\n{text}"
        );
        assert_eq!(
            text.matches("3D controller [0302]").count(),
            gpus,
            "{name}:\n{text}"
        );
        if !has_dt {
            continue;
        }
        let out = oracle("dtc")
            .args(["-q", "-I", "fs", "-O", "dts"])
            .arg(dir.path().join("sys/firmware/devicetree/base"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: dtc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dts = String::from_utf8_lossy(&out.stdout);
        assert!(dts.contains("ibm,associativity-reference-points"), "{name}");
        if bridges > 0 {
            for node in [
                "npu@5011000 {",
                "link@5 {",
                "unknown-bridge@0 {",
                "3d-controller@0 {",
            ] {
                assert!(dts.contains(node), "{name}: no {node}");
            }
            assert_eq!(
                dts.matches("ibm,nvlink-speed = <0x08>;").count(),
                12,
                "{name}"
            );
        }
    }
}

#[test]
fn a_capture_of_an_extracted_capture_replays_to_the_same_tree() {
    for path in all_captures() {
        let dir = tempfile::tempdir().unwrap();
        extract(&path, dir.path());
        let taken = capture::collect(dir.path(), &Options::default()).unwrap();
        assert!(
            taken.manifest.unreadable.is_empty(),
            "{:?}",
            taken.manifest.unreadable
        );
        let bytes = taken.to_tar_gz().unwrap();
        let replayed = Root::archive_from_bytes("recaptured", &bytes, Limits::default()).unwrap();
        let original = Root::archive(&path).unwrap();
        let (a, b) = (entries(&original), entries(&replayed));
        let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
        let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
        assert!(
            only_a.is_empty() && only_b.is_empty(),
            "{path:?}: {only_a:?} {only_b:?}"
        );
        for (k, v) in &a {
            assert_eq!(Some(v), b.get(k), "{path:?}: {k} differs");
        }
    }
}

#[test]
fn the_live_machine_can_be_captured_and_replayed() {
    let taken = capture::collect(Path::new("/"), &Options::default()).unwrap();
    let bytes = taken.to_tar_gz().unwrap();
    assert!(
        bytes.len() < 8 << 20,
        "live capture is {} bytes",
        bytes.len()
    );
    let root = Root::archive_from_bytes("live", &bytes, Limits::default()).unwrap();
    let manifest = Manifest::from_json(&root.read(MANIFEST_NAME).unwrap()).unwrap();
    assert_eq!(manifest.tool, "lsnvlink capture");
    assert_eq!(
        manifest.kernel_release.as_deref(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .as_deref()
            .map(str::trim)
    );
    assert!(
        root.read_text("/proc/cpuinfo")
            .unwrap()
            .contains("processor")
    );
    // Every PCI device of this machine is there, as a link into /sys/devices with its vendor.
    if let Ok(live) = std::fs::read_dir("/sys/bus/pci/devices") {
        for dev in live {
            let name = dev.unwrap().file_name().to_string_lossy().into_owned();
            let path = format!("/sys/bus/pci/devices/{name}");
            assert_eq!(root.kind(&path).unwrap(), EntryKind::Symlink);
            assert!(root.read_attr(format!("{path}/vendor")).is_ok(), "{path}");
        }
    }
}

fn lsnvlink() -> Command {
    common::lsnvlink_command()
}

#[test]
fn the_command_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("root");
    extract(&captures_dir().join("power9-no-gpu.tar.gz"), &src);
    let out = dir.path().join("out.tar.gz");
    std::fs::write(&out, b"keep me").unwrap();
    let status = lsnvlink()
        .args(["capture", "-o"])
        .arg(&out)
        .arg("--root")
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let status = lsnvlink()
        .args(["capture", "--force", "-o"])
        .arg(&out)
        .arg("--root")
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    let root = Root::archive(&out).unwrap();
    assert!(root.exists("/proc/device-tree/system-id"));
    assert_eq!(
        root.read_text("/proc/sys/kernel/hostname").unwrap(),
        "p9-nogpu"
    );
}

#[test]
fn sanitize_drops_the_host_name_and_serial_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("root");
    extract(&captures_dir().join("ac922-4gpu-16gb-nvidia.tar.gz"), &src);
    let out = dir.path().join("clean.tar.gz");
    let status = lsnvlink()
        .args(["capture", "--sanitize", "-o"])
        .arg(&out)
        .arg("--root")
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    let root = Root::archive(&out).unwrap();
    let manifest = Manifest::from_json(&root.read(MANIFEST_NAME).unwrap()).unwrap();
    assert!(manifest.sanitized);
    assert_eq!(manifest.hostname, None);
    assert!(!root.exists("/proc/sys/kernel/hostname"));
    assert!(!root.exists("/proc/device-tree/system-id"));
    assert!(!root.exists("/proc/device-tree/xscom@603fc00000000/serial-number"));
    let all = entries(&root);
    for (path, (_, data)) in &all {
        for serial in ["7887E6A", "YA1934740459", "wsp-4gpu"] {
            assert!(
                !data.windows(serial.len()).any(|w| w == serial.as_bytes()),
                "{path} still holds {serial}"
            );
        }
    }
    assert_eq!(
        root.read_text("/proc/device-tree/ibm,io-base-loc-code")
            .unwrap(),
        "UOPWR.XXXXXXX-Node0\0".trim()
    );
    // ConnectX Device Serial Numbers are zeroed, the rest of config space is kept.
    let config = root
        .read("/sys/bus/pci/devices/0003:01:00.0/config")
        .unwrap();
    assert_eq!(config.len(), 4096);
    assert_eq!(config[0x104..0x10c], [0; 8]);
    assert_eq!(config[0..2], [0xb3, 0x15]);
}

#[test]
fn manifest_snapshot() {
    let root = Root::archive(captures_dir().join("ac922-4gpu-16gb-nvidia.tar.gz")).unwrap();
    let manifest = String::from_utf8(root.read(MANIFEST_NAME).unwrap().into_owned()).unwrap();
    insta::assert_snapshot!(manifest.replace(lsnvlink::VERSION, "[version]"));
}
