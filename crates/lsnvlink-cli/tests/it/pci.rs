//! `lsnvlink pci`: lspci as the oracle on generated trees and on every capture in
//! `testdata/captures`, snapshots of every output format, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use lsnvlink_test_support::synth::{self, Dev, Synth};
use pci::render::{self, Ids};
use pci::{Fields, Names, Pci, PciIds, Tree};

use crate::common::lsnvlink;

/// A small pci.ids for both tools: some names known, some not (unknown device of a known
/// vendor, unknown subsystem, 1014:04ea which no pci.ids has).
const PCI_IDS: &str = "\
1014  IBM
\t04c1  POWER9 Host Bridge (PHB4)
10b5  PLX Technology, Inc.
\t8725  PEX 8725 24-Lane, 10-Port PCI Express Gen 3 (8.0 GT/s) Multi-Root Switch with DMA
10de  NVIDIA Corporation
\t1db1  GV100GL [Tesla V100 SXM2 16GB]
\t\t10de 1212  Tesla V100-SXM2-16GB
\t1db5  GV100GL [Tesla V100 SXM2 32GB]
144d  Samsung Electronics Co Ltd
\ta822  NVMe SSD Controller 172Xa/172Xb
15b3  Mellanox Technologies
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 02  Network controller
\t07  Infiniband controller
C 03  Display controller
\t02  3D controller
C 06  Bridge
\t04  PCI bridge
\t\t00  Normal decode
\t80  Bridge
";

fn lspci(root: &Path, ids: &Path, args: &[&str]) -> String {
    let out = Command::new("lspci")
        .arg("-A")
        .arg("linux-sysfs")
        .arg("-O")
        .arg(format!("sysfs.path={}/sys/bus/pci", root.display()))
        .args(["-O", "hwdb.disable=1", "-i"])
        .arg(ids)
        .args(args)
        .output()
        .expect("lspci (pciutils) is the oracle of these tests: install it (.ci/run does)");
    assert!(
        out.status.success(),
        "lspci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ours(root: &Path, ids: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "pci",
        "--root",
        root.to_str().unwrap(),
        "--pci-ids",
        ids.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = lsnvlink(&all);
    assert!(
        out.status.success(),
        "lsnvlink failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Names lspci cannot know: where our line names a device from the built-in table and lspci's
/// line has the generic `Device`, keep only the ids on both sides.
fn builtin_names_to_ids(ours: &str, theirs: &str) -> (String, String) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (x, y) in ours.lines().zip(theirs.lines()) {
        let builtin = [(0x1014u16, 0x04eau16)]
            .iter()
            .filter_map(|&(v, d)| pci::names::builtin_device(v, d).map(|n| (v, d, n)))
            .find(|(_, _, n)| x.contains(n));
        match builtin {
            Some((v, d, n)) if x != y => {
                let x2 = x.replace(
                    &format!("{n} [{v:04x}:{d:04x}]"),
                    &format!("Device [{v:04x}:{d:04x}]"),
                );
                let x2 = x2.replace(&format!("{n} [{d:04x}]"), &format!("Device [{d:04x}]"));
                a.push(x2);
            }
            _ => a.push(x.to_owned()),
        }
        b.push(y.to_owned());
    }
    let (na, nb) = (ours.lines().count(), theirs.lines().count());
    a.extend(ours.lines().skip(nb).map(str::to_owned));
    b.extend(theirs.lines().skip(na).map(str::to_owned));
    (a.join("\n"), b.join("\n"))
}

/// Compares every output lsnvlink shares with lspci on the tree under `root`.
fn compare_with_lspci(root: &Path, ids: &Path) {
    // vmm: the tags we emit are lspci -vmmnnDk's minus Module; DTNode is lspci's realpath, so
    // strip the root directory it starts with.
    let theirs: String = lspci(root, ids, &["-vmmnnDk"])
        .lines()
        .filter(|l| !l.starts_with("Module:"))
        .map(|l| l.replace(&format!("DTNode:\t{}", root.display()), "DTNode:\t") + "\n")
        .collect();
    let (a, b) = builtin_names_to_ids(&ours(root, ids, &["--format", "vmm"]), &theirs);
    assert_eq!(
        a,
        b,
        "vmm differs from lspci -vmmnnDk on {}",
        root.display()
    );

    let (a, b) = builtin_names_to_ids(&ours(root, ids, &[]), &lspci(root, ids, &["-nnD"]));
    assert_eq!(a, b, "list differs from lspci -nnD");
    assert_eq!(
        ours(root, ids, &["-n"]),
        lspci(root, ids, &["-nD"]),
        "lspci -nD"
    );
    assert_eq!(
        ours(root, ids, &["-t"]),
        lspci(root, ids, &["-t"]),
        "lspci -t"
    );
}

fn ids_file(dir: &Path) -> PathBuf {
    let path = dir.join("pci.ids");
    std::fs::write(&path, PCI_IDS).unwrap();
    path
}

#[test]
fn agrees_with_lspci_on_generated_trees() {
    let ids_dir = tempfile::tempdir().unwrap();
    let ids = ids_file(ids_dir.path());
    // 150 devices: two PCIe domains with switches, GPUs, NICs, NVMe; an NPU domain of NVLink
    // bridges; a 32-bit domain.
    for n in [1, 40, 150] {
        let dir = tempfile::tempdir().unwrap();
        synth::generate(dir.path(), n).unwrap();
        compare_with_lspci(dir.path(), &ids);
    }
}

#[test]
fn agrees_with_lspci_on_every_capture() {
    let captures = lsnvlink_test_support::testdata("captures");
    let entries = std::fs::read_dir(&captures).unwrap();
    let ids_dir = tempfile::tempdir().unwrap();
    let ids = ids_file(ids_dir.path());
    let mut archives: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert!(archives.len() >= 10, "the bundled captures: {archives:?}");
    archives.sort();
    for archive in archives {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "cannot extract {}", archive.display());
        if !dir.path().join("sys/bus/pci/devices").is_dir() {
            continue; // A capture without PCI (a device tree only).
        }
        compare_with_lspci(dir.path(), &ids);
        // The archive read in memory gives the same records as its extracted copy.
        let from_dir = ours(dir.path(), &ids, &["--format", "vmm"]);
        let out = lsnvlink(&[
            "pci",
            "--capture",
            archive.to_str().unwrap(),
            "--pci-ids",
            ids.to_str().unwrap(),
            "--format",
            "vmm",
        ]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), from_dir);
    }
}

#[test]
fn keeps_drivers_lspci_loses() {
    // Without /sys/bus/pci/drivers lspci's realpath() fails and it prints no Driver; the
    // link's text still names it.
    let ids_dir = tempfile::tempdir().unwrap();
    let ids = ids_file(ids_dir.path());
    let dir = tempfile::tempdir().unwrap();
    synth::generate(dir.path(), 12).unwrap();
    std::fs::remove_dir_all(dir.path().join("sys/bus/pci/drivers")).unwrap();
    let theirs = lspci(dir.path(), &ids, &["-vmmnnDk"]);
    let ours = ours(dir.path(), &ids, &["--format", "vmm"]);
    assert!(!theirs.contains("Driver:"));
    assert_eq!(ours.matches("Driver:\tnvidia").count(), 1);
    assert_eq!(ours.matches("Driver:\tpcieport").count(), 6);
}

/// An AC922-like corner: a root port, a GPU, two NVLink bridges (one without a driver and
/// NUMA node -1), and a device with a missing vendor file.
fn ac922_corner(dir: &Path) {
    let mut s = Synth::new(dir).unwrap();
    let mut rp = Dev::new(4, 0, 0, 0)
        .ids(0x1014, 0x04c1, 0x060400, 0)
        .bridge(1, 1);
    rp.driver = Some("pcieport".into());
    rp.numa_node = Some(0);
    rp.iommu_group = Some(0);
    s.add(&rp, None).unwrap();
    let mut gpu = Dev::new(4, 1, 0, 0).ids(0x10de, 0x1db1, 0x030200, 0xa1);
    gpu.subsystem = (0x10de, 0x1212);
    gpu.driver = Some("nvidia".into());
    gpu.numa_node = Some(0);
    gpu.iommu_group = Some(5);
    gpu.of_node = Some("pciex@600c3c0400000/pci@0/pci@0/pci@a/3d-controller@0".into());
    gpu.slot = Some("GPU0".into());
    s.add(&gpu, Some("0004:00:00.0")).unwrap();
    for f in 0..2 {
        let mut npu = Dev::new(6, 0, 0, f).ids(0x1014, 0x04ea, 0x068001, 1);
        npu.header_type = 0x80;
        npu.iommu_group = Some(5);
        npu.driver = (f == 0).then(|| "ibmnpu".into());
        npu.of_node = Some(format!(
            "pciex@6030200000000/unknown-bridge@0{}",
            if f == 0 {
                String::new()
            } else {
                format!(",{f}")
            }
        ));
        s.add(&npu, None).unwrap();
    }
    let nvme = Dev::new(0x10000, 0, 0, 0).ids(0x144d, 0xa822, 0x010802, 0);
    let path = s.add(&nvme, None).unwrap();
    // Neither `vendor` nor `uevent` (which a listing reads first): the vendor is unknown.
    std::fs::remove_file(path.join("vendor")).unwrap();
    std::fs::remove_file(path.join("uevent")).unwrap();
}

#[test]
fn snapshots_of_every_format() {
    let dir = tempfile::tempdir().unwrap();
    ac922_corner(dir.path());
    let root = fsroot::Root::dir(dir.path()).unwrap();
    let names = Names::with_ids(PciIds::parse(PCI_IDS, |_| true), None);
    let pci = Pci::read(&root, &Fields::all()).unwrap();
    assert_snapshot!("list", render::list(&pci, Ids::Named(&names)));
    assert_snapshot!("list_numeric", render::list(&pci, Ids::Numeric));
    assert_snapshot!("tree", render::tree(&pci, &Tree::build(&pci.devices)));
    assert_snapshot!("vmm", render::vmm(&pci, Ids::Named(&names)));
    assert_snapshot!(
        "json",
        render::json(&pci, Ids::Named(&names), "directory ROOT")
    );
}

#[test]
fn exit_codes() {
    let out = lsnvlink(&["pci", "--root", "/nonexistent/lsnvlink-test"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    ac922_corner(dir.path());
    let root = dir.path().to_str().unwrap();
    let out = lsnvlink(&["pci", "--root", root, "-t", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    // A device with a missing attribute is still listed, exit 0, the problem on stderr.
    let out = lsnvlink(&["pci", "--root", root, "-n"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("10000:00:00.0 0108: ????:a822"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10000:00:00.0: vendor: missing"));
    // No /sys/bus/pci at all: unreadable input.
    let empty = tempfile::tempdir().unwrap();
    let out = lsnvlink(&["pci", "--root", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
