//! Inputs admins already have: sosreport tarballs (built here from the bundled captures'
//! device trees, laid out as sos lays them out) give the same GPUs, bridges, links and GPU
//! memory as the capture with sysfs, and say what is unknown; the real hwloc capture in
//! `testdata/hwloc` gives NUMA facts.

use std::io::Read;
use std::path::{Path, PathBuf};

use lsnvlink::audit::{Code, Report};
use lsnvlink::inputs::{hwloc, sosreport};
use lsnvlink::render::report;

use crate::common::{capture, lsnvlink, report as from_capture};

const DT: &str = "sys/firmware/devicetree/base/";

fn hwloc_capture() -> PathBuf {
    lsnvlink_test_support::testdata("hwloc/nvidiagpunumanodes.tar.bz2")
}

/// How the sosreport holds the device tree.
#[derive(Clone, Copy)]
enum Layout {
    /// `proc/device-tree/` as a directory (sos copies the tree's content there).
    ProcDir,
    /// `proc/device-tree` a link to `/sys/firmware/devicetree/base`, which is copied too: the
    /// absolute link does not resolve under the top-level directory.
    SysWithLink,
}

/// `lspci -nnvv` as sos records it, for the functions of the capture `name`: the address line,
/// then `NUMA node:`, `IOMMU group:` and `Kernel driver in use:` where sysfs has them.
fn lspci_text(name: &str) -> String {
    let root = fsroot::Root::archive(capture(name)).unwrap();
    let mut out = String::new();
    for addr in root.read_dir("/sys/bus/pci/devices").unwrap() {
        let dev = format!("/sys/bus/pci/devices/{addr}");
        out.push_str(&format!("{addr} Device [0000]: Device [0000:0000]\n"));
        out.push_str("\tControl: I/O- Mem+ BusMaster+\n");
        if let Ok(n) = root.read_text(format!("{dev}/numa_node")) {
            out.push_str(&format!("\tNUMA node: {}\n", n.trim()));
        }
        let base = |link: &str| {
            root.read_link(format!("{dev}/{link}"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        };
        if let Some(g) = base("iommu_group") {
            out.push_str(&format!("\tIOMMU group: {g}\n"));
        }
        if let Some(d) = base("driver") {
            out.push_str(&format!("\tKernel driver in use: {d}\n"));
        }
        out.push('\n');
    }
    out
}

/// A sosreport-like `.tar.gz` under `sosreport-<host>-2026/`: the capture's device tree,
/// `hostname`, `uname`, and with `lspci` a `sos_commands/pci/lspci_-nnvv` made from the
/// capture's sysfs, but never `/sys/bus/pci`.
fn sosreport_from(name: &str, layout: Layout, lspci: bool, dir: &Path) -> PathBuf {
    sosreport_with(name, layout, lspci, &[], dir)
}

/// As [`sosreport_from`], with `extra` files (path under the top directory, text) added.
fn sosreport_with(
    name: &str,
    layout: Layout,
    lspci: bool,
    extra: &[(&str, &str)],
    dir: &Path,
) -> PathBuf {
    let bytes = std::fs::read(capture(name)).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let top = format!("sosreport-{name}-2026");
    let out_path = dir.join(format!("{top}-{}-{}.tar.gz", u8::from(lspci), extra.len()));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut out = tar::Builder::new(gz);
    let mut hostname = String::new();
    let mut release = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path == "proc/sys/kernel/hostname" {
            hostname = String::from_utf8(data).unwrap();
            continue;
        }
        if path == "proc/sys/kernel/osrelease" {
            release = String::from_utf8(data).unwrap().trim().to_owned();
            continue;
        }
        // sos's numa plugin copies each node's meminfo.
        if path.starts_with("sys/devices/system/node/node") && path.ends_with("/meminfo") {
            let mut header = entry.header().clone();
            out.append_data(&mut header, format!("{top}/{path}"), data.as_slice())
                .unwrap();
            continue;
        }
        let Some(rest) = path.strip_prefix(DT) else {
            continue;
        };
        let new = match layout {
            Layout::ProcDir => format!("{top}/proc/device-tree/{rest}"),
            Layout::SysWithLink => format!("{top}/{DT}{rest}"),
        };
        let mut header = entry.header().clone();
        out.append_data(&mut header, new, data.as_slice()).unwrap();
    }
    let mut file = |path: &str, text: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, format!("{top}/{path}"), text.as_bytes())
            .unwrap();
    };
    file("hostname", &hostname);
    file(
        "uname",
        &format!("Linux wsp {release} #1 SMP Thu Apr 29 08:53:15 EDT 2021 ppc64le\n"),
    );
    if lspci {
        file("sos_commands/pci/lspci_-nnvv", &lspci_text(name));
    }
    for (path, text) in extra {
        file(path, text);
    }
    if let Layout::SysWithLink = layout {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        out.append_link(
            &mut h,
            format!("{top}/proc/device-tree"),
            "/sys/firmware/devicetree/base",
        )
        .unwrap();
    }
    std::fs::write(&out_path, out.into_inner().unwrap().finish().unwrap()).unwrap();
    out_path
}

fn from_sosreport(path: &Path) -> Report {
    Report::new(sosreport::read(path, &pci::Names::builtin()).unwrap())
}

#[test]
fn a_sosreport_device_tree_gives_the_same_nvlink2_topology_as_sysfs() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ac922-4gpu-16gb-nvidia", "ac922-6gpu-32gb-vfio"] {
        for layout in [Layout::ProcDir, Layout::SysWithLink] {
            let sos = from_sosreport(&sosreport_from(name, layout, false, dir.path()));
            let cap = from_capture(name);
            let (s, c) = (&sos.topology, &cap.topology);
            assert_eq!(s.gpus.len(), c.gpus.len(), "{name}");
            for (gs, gc) in s.gpus.iter().zip(&c.gpus) {
                assert_eq!(gs.address, gc.address);
                assert_eq!(gs.name, gc.name);
                assert_eq!(gs.slot, gc.slot);
                assert_eq!(gs.chip_id, gc.chip_id);
                assert_eq!(gs.memory, gc.memory);
                assert_eq!(gs.cpu_links, gc.cpu_links);
                assert_eq!(gs.gpu_links, gc.gpu_links);
                // What only sysfs knows is unknown, not invented.
                assert_eq!(gs.driver, None);
                assert_eq!(gs.iommu_group, None);
                assert_eq!(gs.numa_node, None);
            }
            let addresses = |t: &lsnvlink::topology::Topology| {
                t.bridges.iter().map(|b| b.address).collect::<Vec<_>>()
            };
            assert_eq!(addresses(s), addresses(c));
            assert_eq!(s.npus, c.npus);
            assert_eq!(s.wiring, c.wiring);
            assert_eq!(s.platform.model, c.platform.model);
            assert_eq!(s.platform.hostname, c.platform.hostname);
            assert_eq!(s.platform.kernel, c.platform.kernel);
            assert_eq!(s.platform.nvlink2_kernel, c.platform.nvlink2_kernel);
            for note in sosreport::UNKNOWN_WITHOUT_SYSFS {
                assert!(s.notes.iter().any(|n| n.to_string() == *note), "{note}");
            }
        }
    }
}

#[test]
fn sosreport_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ac922-4gpu-16gb-nvidia", "ac922-6gpu-32gb-vfio"] {
        let r = from_sosreport(&sosreport_from(name, Layout::ProcDir, false, dir.path()));
        assert_snapshot!(format!("sosreport-{name}__text"), report::text(&r));
        assert_snapshot!(format!("sosreport-{name}__json"), report::json(&r));
    }
}

#[test]
fn a_link_down_after_boot_is_not_seen_in_a_sosreport_and_the_notes_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let sos = from_sosreport(&sosreport_from(
        "ac922-4gpu-eeh-removed",
        Layout::ProcDir,
        false,
        dir.path(),
    ));
    let cap = from_capture("ac922-4gpu-eeh-removed");
    assert!(cap.findings.iter().any(|f| f.code == Code::LinkMissing));
    assert!(!sos.findings.iter().any(|f| f.code == Code::LinkMissing));
    assert_eq!(sos.topology.bridges.len(), 12);
    assert!(
        sos.topology
            .notes
            .iter()
            .any(|n| n.to_string().contains("link-missing cannot be told"))
    );
}

#[test]
fn a_sosreport_without_gpu_memory_nodes_still_raises_that_finding() {
    let dir = tempfile::tempdir().unwrap();
    let sos = from_sosreport(&sosreport_from(
        "ac922-4gpu-no-gpu-memory",
        Layout::ProcDir,
        false,
        dir.path(),
    ));
    let codes: Vec<Code> = sos.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::MemoryRegionMissing), "{codes:?}");
}

#[test]
fn the_command_reads_a_sosreport_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let sos = sosreport_from("ac922-6gpu-32gb-vfio", Layout::ProcDir, true, dir.path());
    let o = lsnvlink(&["--sosreport", sos.to_str().unwrap(), "--format", "matrix"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("      GPU0  GPU1")
    );
    // A capture without a device tree is no sosreport.
    let x86 = capture("x86-v100-pcie");
    let o = lsnvlink(&["--sosreport", x86.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a sosreport"));
    // Garbage.
    let junk = dir.path().join("junk.tar.xz");
    std::fs::write(&junk, b"\xfd7zXZ\0 truncated").unwrap();
    let o = lsnvlink(&["--sosreport", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // One host source at a time.
    let o = lsnvlink(&[
        "--sosreport",
        sos.to_str().unwrap(),
        "--capture",
        capture("ac922-6gpu-32gb-vfio").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn hwloc_numa_facts_of_the_real_ac922_capture() {
    let f = hwloc::read(&hwloc_capture()).unwrap();
    let ids: Vec<u32> = f.nodes.iter().map(|n| n.id).collect();
    assert_eq!(ids, [0, 8, 250, 251, 252, 253, 254, 255]);
    assert_eq!(f.platform.as_deref(), Some("PowerNV 8335-GTW"));
    assert_eq!(f.nodes[0].cpus, 88);
    assert!(f.nodes[2..].iter().all(|n| n.cpus == 0));
    assert_eq!(f.nodes[7].mem_total_kib, Some(15_728_640));
    assert_eq!(f.nodes[0].distances.len(), 8);
    assert_eq!(f.nvidia_gpus.len(), 6);
    let g = f
        .nvidia_gpus
        .iter()
        .find(|g| g.address == "0004:05:00.0")
        .unwrap();
    assert_eq!(g.node, Some(255));
    assert_eq!(g.status.as_deref(), Some("online"));
    assert_eq!(g.base, Some(0x400_0000_0000));
    assert_snapshot!("hwloc__text", hwloc::text(&f));
    assert_snapshot!("hwloc__json", hwloc::json(&f));
}

#[test]
fn hwloc_alone_and_beside_a_host() {
    let h = hwloc_capture();
    let o = lsnvlink(&["--hwloc", h.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 8);
    let o = lsnvlink(&["--hwloc", h.to_str().unwrap(), "--format", "dot"]);
    assert_eq!(o.status.code(), Some(2));
    // Beside the 6-GPU capture: the NUMA section follows the report, and the notes compare
    // each GPU's memory node (this hwloc capture's addresses were partly edited by hwloc's
    // developers: two GPUs match, two disagree, two are absent).
    let c = capture("ac922-6gpu-32gb-vfio");
    let o = lsnvlink(&[
        "--capture",
        c.to_str().unwrap(),
        "--hwloc",
        h.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("NUMA (hwloc capture, PowerNV 8335-GTW): 8 nodes"));
    assert_eq!(text.matches("as the device tree says").count(), 2, "{text}");
    assert_eq!(text.matches("by the device tree").count(), 2);
    assert_eq!(text.matches("no nvidia numa_status for").count(), 2);
}

#[test]
fn an_archive_that_is_not_an_hwloc_capture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/etc")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let e = hwloc::read(dir.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("not an hwloc-gather-topology capture"),
        "{e}"
    );
}

#[test]
fn with_lspci_a_sosreport_knows_drivers_groups_nodes_and_links_down() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "ac922-4gpu-16gb-nvidia",
        "ac922-6gpu-32gb-vfio",
        "ac922-4gpu-eeh-removed",
    ] {
        let sos = from_sosreport(&sosreport_from(name, Layout::SysWithLink, true, dir.path()));
        let cap = from_capture(name);
        let (s, c) = (&sos.topology, &cap.topology);
        assert_eq!(s.gpus.len(), c.gpus.len());
        for (gs, gc) in s.gpus.iter().zip(&c.gpus) {
            assert_eq!(gs.address, gc.address);
            assert_eq!(gs.driver, gc.driver, "{name}");
            assert_eq!(gs.iommu_group, gc.iommu_group);
            assert_eq!(gs.numa_node, gc.numa_node);
            assert_eq!(gs.cpu_links, gc.cpu_links);
        }
        let bridges = |t: &lsnvlink::topology::Topology| {
            t.bridges
                .iter()
                .map(|b| (b.address, b.driver.clone(), b.iommu_group))
                .collect::<Vec<_>>()
        };
        assert_eq!(bridges(s), bridges(c), "{name}");
        // The same findings as with sysfs: the link down included.
        let codes = |r: &Report| {
            r.findings
                .iter()
                .map(|f| (f.subject, f.code))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&sos), codes(&cap), "{name}");
        for note in sosreport::WITH_LSPCI {
            assert!(s.notes.iter().any(|n| n.to_string() == *note), "{note}");
        }
        assert!(
            !s.notes
                .iter()
                .any(|n| n.to_string().contains("link-missing cannot be told"))
        );
    }
    let down = from_sosreport(&sosreport_from(
        "ac922-4gpu-eeh-removed",
        Layout::ProcDir,
        true,
        dir.path(),
    ));
    assert!(down.findings.iter().any(|f| f.code == Code::LinkMissing));
    assert!(
        down.topology
            .notes
            .iter()
            .any(|n| n.to_string().contains("0007:00:01.2")
                && n.to_string().contains("not in lspci"))
    );
}

#[test]
fn an_unpacked_sosreport_directory_reads_as_its_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = sosreport_from("ac922-6gpu-32gb-vfio", Layout::ProcDir, true, dir.path());
    let unpacked = dir.path().join("unpacked");
    let bytes = std::fs::read(&tarball).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
        .unpack(&unpacked)
        .unwrap();
    let top = unpacked.join("sosreport-ac922-6gpu-32gb-vfio-2026");
    for path in [&unpacked, &top] {
        let from_dir = from_sosreport(path);
        let from_tar = from_sosreport(&tarball);
        assert_eq!(report::json(&from_dir), report::json(&from_tar));
    }
}

const NVLINK_S: &str = "GPU 0: Tesla V100-SXM2-16GB (UUID: GPU-a)\n\t Link 0: 25.781 GB/s\n\t Link 1: 25.781 GB/s\n\t Link 2: 25.781 GB/s\n\t Link 3: 25.781 GB/s\n\t Link 4: 25.781 GB/s\n\t Link 5: 25.781 GB/s\nGPU 1: Tesla V100-SXM2-16GB (UUID: GPU-b)\n\t Link 0: 25.781 GB/s\n\t Link 1: 25.781 GB/s\n\t Link 2: 25.781 GB/s\n\t Link 3: 25.781 GB/s\n\t Link 4: 25.781 GB/s\n\t Link 5: 25.781 GB/s\nGPU 2: Tesla V100-SXM2-16GB (UUID: GPU-c)\n\t Link 0: 25.781 GB/s\n\t Link 1: 25.781 GB/s\n\t Link 2: <inactive>\n\t Link 3: 25.781 GB/s\n\t Link 4: 25.781 GB/s\n\t Link 5: 25.781 GB/s\n";

#[test]
fn nvidia_smi_link_states_in_a_sosreport_give_link_inactive() {
    let dir = tempfile::tempdir().unwrap();
    let name = "ac922-4gpu-16gb-nvidia";
    // Without nvidia-smi -q: GPU 2 is the third GPU by PCI address, 0035:03:00.0.
    let sos = from_sosreport(&sosreport_with(
        name,
        Layout::ProcDir,
        true,
        &[("sos_commands/nvidia/nvidia-smi_nvlink_-s", NVLINK_S)],
        dir.path(),
    ));
    let inactive: Vec<_> = sos
        .findings
        .iter()
        .filter(|f| f.code == Code::LinkInactive)
        .collect();
    assert_eq!(inactive.len(), 1, "{:?}", sos.findings);
    assert_eq!(inactive[0].subject.to_string(), "0035:03:00.0");
    assert!(inactive[0].message.contains("link 2 (<inactive>)"));
    assert!(sos.has_errors());
    assert!(
        sos.topology
            .notes
            .iter()
            .any(|n| n.to_string().contains("PCI address order"))
    );
    // With nvidia-smi -q, its order wins: GPU 2 is whatever -q lists third.
    let query = "GPU 00000035:04:00.0\n\nGPU 00000035:03:00.0\n\nGPU 00000004:05:00.0\n\nGPU 00000004:04:00.0\n";
    let sos = from_sosreport(&sosreport_with(
        name,
        Layout::ProcDir,
        true,
        &[
            ("sos_commands/nvidia/nvidia-smi_nvlink_-s", NVLINK_S),
            ("sos_commands/nvidia/nvidia-smi_-q", query),
        ],
        dir.path(),
    ));
    let subjects: Vec<String> = sos
        .findings
        .iter()
        .filter(|f| f.code == Code::LinkInactive)
        .map(|f| f.subject.to_string())
        .collect();
    assert_eq!(subjects, ["0004:05:00.0"]);
    // All links up: nothing.
    let up = NVLINK_S.replace("<inactive>", "25.781 GB/s");
    let sos = from_sosreport(&sosreport_with(
        name,
        Layout::ProcDir,
        true,
        &[("sos_commands/nvidia/nvidia-smi_nvlink_-s", up.as_str())],
        dir.path(),
    ));
    assert!(!sos.findings.iter().any(|f| f.code == Code::LinkInactive));
    assert_eq!(sos.topology.gpus[0].link_states.len(), 6);
}

#[test]
fn a_sosreport_of_a_5_14_host_without_lspci_has_no_bridge_functions() {
    let dir = tempfile::tempdir().unwrap();
    let sos = from_sosreport(&sosreport_from(
        "ac922-4gpu-kernel-5.14",
        Layout::ProcDir,
        false,
        dir.path(),
    ));
    let t = &sos.topology;
    assert_eq!(t.bridges.len(), 12);
    assert!(t.bridges.iter().all(|b| !b.on_bus));
    let codes: Vec<_> = sos.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::Nvlink2KernelUnsupported]);
}
