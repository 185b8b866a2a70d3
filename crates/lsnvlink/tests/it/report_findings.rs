//! Every audit finding code, raised by a capture or by a variant of one built here (a capture
//! extracted into a temporary directory with one file changed), and not raised where the host
//! is right. Also: a broken property or attribute anywhere on the NVLink path still gives a
//! report.

use std::path::PathBuf;

use lsnvlink::audit::{Code, Finding, Report, Severity};
use lsnvlink::render::report;
use lsnvlink::topology::nv2;

use crate::common::{capture, report as from_capture};

const DT: &str = "sys/firmware/devicetree/base";
const NPU0: &str = "sys/firmware/devicetree/base/pciex@6030200000000";
const NPU8: &str = "sys/firmware/devicetree/base/pciex@6230200000000";

/// A capture unpacked into a temporary directory, to be altered and read with `--root`.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(name: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(capture(name)).unwrap());
        let mut archive = tar::Archive::new(gz);
        archive.unpack(dir.path()).unwrap();
        Host { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        std::fs::write(self.path(rel), bytes).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    fn relink(&self, rel: &str, target: &str) {
        let p = self.path(rel);
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
    }

    fn root(&self) -> fsroot::Root {
        fsroot::Root::dir(self.dir.path()).unwrap()
    }

    fn report(&self) -> Report {
        Report::read(&self.root(), &pci::Names::builtin()).unwrap()
    }
}

fn with_code(r: &Report, code: Code) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.code == code).collect()
}

fn subjects(r: &Report, code: Code) -> Vec<String> {
    with_code(r, code)
        .iter()
        .map(|f| f.subject.to_string())
        .collect()
}

/// The sysfs directory of a device on the NPU's root bus (`0006:00:00.0`).
fn npu_dev(address: &str) -> String {
    format!("sys/devices/pci{}/{address}", &address[..7])
}

#[test]
fn healthy_captures_raise_no_errors() {
    let r = from_capture("ac922-4gpu-16gb-nvidia");
    assert_eq!(r.findings, []);
    let r = from_capture("ac922-6gpu-32gb-vfio");
    // Old firmware (one ATSD register per NPU) on 5.4, before the 5.7 fallback.
    assert!(r.findings.iter().all(|f| f.code == Code::AtsdMissing));
    assert!(!r.has_errors());
}

#[test]
fn link_missing() {
    // The whole PE of chip 8's second GPU removed after an EEH permanent failure.
    let r = from_capture("ac922-4gpu-eeh-removed");
    assert_eq!(subjects(&r, Code::LinkMissing), ["0035:04:00.0"]);
    let f = with_code(&r, Code::LinkMissing)[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("none of its 3"), "{}", f.message);
    assert!(f.message.contains("power cycle"), "{}", f.message);
    for gone in ["0007:00:01.0", "0007:00:01.1", "0007:00:01.2"] {
        assert!(f.message.contains(gone), "{}", f.message);
    }
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert!(subjects(&from_capture("ac922-4gpu-16gb-nvidia"), Code::LinkMissing).is_empty());

    // One bridge function gone alone: no known cause does that, and the message says so.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.remove("sys/bus/pci/devices/0007:00:01.2");
    let r = host.report();
    assert_eq!(subjects(&r, Code::LinkMissing), ["0035:04:00.0"]);
    let f = with_code(&r, Code::LinkMissing)[0];
    assert!(f.message.contains("2 of its 3"), "{}", f.message);
    assert!(
        f.message.contains("matches no known cause"),
        "{}",
        f.message
    );
    assert!(f.message.contains("0007:00:01.2"), "{}", f.message);

    // All three of GPU1's bridge functions gone: its NPU PE was removed (EEH).
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    for f in ["0006:00:01.0", "0006:00:01.1", "0006:00:01.2"] {
        host.remove(&format!("sys/bus/pci/devices/{f}"));
    }
    let r = host.report();
    assert_eq!(subjects(&r, Code::LinkMissing), ["0004:05:00.0"]);
    let f = with_code(&r, Code::LinkMissing)[0];
    assert!(f.message.contains("none of its 3"), "{}", f.message);
    assert!(f.message.contains("EEH"), "{}", f.message);
    assert!(with_code(&r, Code::Nvlink2KernelUnsupported).is_empty());
    // The topology still knows the three links, from the device tree.
    let gpu1 = &r.topology.gpus[1];
    assert_eq!(gpu1.cpu_links.len(), 3);
    assert_eq!(gpu1.links_on_bus().count(), 0);

    // Fewer links than its siblings: GPU1 has lost its ibm,npu, and its bridges their
    // functions and their ibm,gpu.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.remove(&format!(
        "{DT}/pciex@600c3c0400000/pci@0/pci@0/pci@b/3d-controller@0/ibm,npu"
    ));
    for (f, node) in [
        ("0006:00:01.0", "unknown-bridge@1"),
        ("0006:00:01.1", "unknown-bridge@1,1"),
        ("0006:00:01.2", "unknown-bridge@1,2"),
    ] {
        host.remove(&format!("sys/bus/pci/devices/{f}"));
        host.remove(&format!("{NPU0}/{node}/ibm,gpu"));
    }
    let r = host.report();
    assert_eq!(subjects(&r, Code::LinkMissing), ["0004:05:00.0"]);
    assert!(
        with_code(&r, Code::LinkMissing)[0]
            .message
            .contains("where other GPUs")
    );
}

#[test]
fn memory_region_missing() {
    let r = from_capture("ac922-4gpu-no-gpu-memory");
    assert_eq!(
        subjects(&r, Code::MemoryRegionMissing),
        [
            "0004:04:00.0",
            "0004:05:00.0",
            "0035:03:00.0",
            "0035:04:00.0"
        ]
    );
    assert!(r.has_errors());
    // The kernel's vfio code would give the guest no GPU RAM for any of them.
    for g in &r.topology.gpus {
        assert_eq!(
            g.vfio.iter().map(|p| p.property).collect::<Vec<_>>(),
            ["memory-region"]
        );
    }
    let healthy = from_capture("ac922-4gpu-16gb-nvidia");
    assert!(subjects(&healthy, Code::MemoryRegionMissing).is_empty());
    assert!(healthy.topology.gpus.iter().all(|g| g.vfio.is_empty()));

    // A memory node whose reg cannot be decoded is as bad as none.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.write(&format!("{DT}/memory@242000000000/reg"), &[0; 12]);
    let r = host.report();
    assert_eq!(subjects(&r, Code::MemoryRegionMissing), ["0035:04:00.0"]);
    let gpu = r.topology.gpu("0035:04:00.0".parse().unwrap()).unwrap();
    assert!(matches!(&gpu.memory, Some(Err(why)) if why.contains("reg")));
}

#[test]
fn nv2_bridge_incomplete() {
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    let root = host.root();
    // libvirt's test, as the memlock code calls it: bridges pass, GPUs do not.
    let bridge = "0006:00:00.0".parse().unwrap();
    assert!(nv2::libvirt_nv2_bridge(&root, bridge).is_nv2_bridge());
    let gpu = nv2::libvirt_nv2_bridge(&root, "0004:04:00.0".parse().unwrap());
    assert!(!gpu.is_nv2_bridge());
    assert_eq!(gpu.missing(), nv2::LIBVIRT_NV2_PROPERTIES);
    assert!(!nv2::libvirt_nv2_bridge(&root, "0000:01:00.0".parse().unwrap()).is_nv2_bridge());
    assert!(subjects(&host.report(), Code::Nv2BridgeIncomplete).is_empty());

    host.remove(&format!("{NPU0}/unknown-bridge@0/ibm,nvlink-speed"));
    let r = host.report();
    assert_eq!(subjects(&r, Code::Nv2BridgeIncomplete), ["0006:00:00.0"]);
    let f = with_code(&r, Code::Nv2BridgeIncomplete)[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("lacks ibm,nvlink-speed"),
        "{}",
        f.message
    );
    let b = r.topology.bridge(bridge).unwrap();
    assert!(!b.libvirt.is_nv2_bridge());
    // The kernel's vfio code refuses such a bridge too.
    assert_eq!(
        b.vfio.iter().map(|p| p.property).collect::<Vec<_>>(),
        ["ibm,nvlink-speed"]
    );
    assert!(nv2::libvirt_nv2_bridge(&host.root(), bridge).missing() == ["ibm,nvlink-speed"]);

    // libvirt checks existence only: a dangling memory-region still passes its test (the
    // memory-region-missing finding covers it).
    let r = from_capture("ac922-4gpu-no-gpu-memory");
    assert!(subjects(&r, Code::Nv2BridgeIncomplete).is_empty());
}

#[test]
fn link_speed_mismatch() {
    assert!(
        subjects(
            &from_capture("ac922-4gpu-16gb-nvidia"),
            Code::LinkSpeedMismatch
        )
        .is_empty()
    );
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.write(
        &format!("{NPU0}/unknown-bridge@1,1/ibm,nvlink-speed"),
        &[0, 0, 0, 9],
    );
    let r = host.report();
    assert_eq!(subjects(&r, Code::LinkSpeedMismatch), ["0006:00:01.1"]);
    let f = with_code(&r, Code::LinkSpeedMismatch)[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("0x9 (25.0 Gb/s)"), "{}", f.message);
    assert!(f.message.contains("0x8 (25.78125 Gb/s)"), "{}", f.message);
    assert!(!r.has_errors());
}

#[test]
fn driver_split() {
    assert!(subjects(&from_capture("ac922-6gpu-32gb-vfio"), Code::DriverSplit).is_empty());
    assert!(subjects(&from_capture("ac922-4gpu-16gb-nvidia"), Code::DriverSplit).is_empty());

    // GPU2 on vfio-pci, one of its bridges on the NVIDIA driver: passthrough breaks.
    let host = Host::new("ac922-6gpu-32gb-vfio");
    host.relink(
        &format!("{}/driver", npu_dev("0006:00:02.1")),
        "../../../bus/pci/drivers/ibmnpu",
    );
    let r = host.report();
    assert_eq!(subjects(&r, Code::DriverSplit), ["0004:06:00.0"]);
    let f = with_code(&r, Code::DriverSplit)[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("0006:00:02.1 on ibmnpu"),
        "{}",
        f.message
    );

    // NVIDIA driver on the GPU, a bridge unbound: NVLink unused, a warning.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.remove(&format!("{}/driver", npu_dev("0007:00:00.2")));
    let r = host.report();
    assert_eq!(subjects(&r, Code::DriverSplit), ["0035:03:00.0"]);
    assert_eq!(
        with_code(&r, Code::DriverSplit)[0].severity,
        Severity::Warning
    );
}

#[test]
fn iommu_group_split() {
    assert!(
        subjects(
            &from_capture("ac922-4gpu-16gb-nvidia"),
            Code::IommuGroupSplit
        )
        .is_empty()
    );
    assert!(subjects(&from_capture("ac922-6gpu-32gb-vfio"), Code::IommuGroupSplit).is_empty());
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.relink(
        &format!("{}/iommu_group", npu_dev("0007:00:00.0")),
        "../../../kernel/iommu_groups/11",
    );
    let r = host.report();
    assert_eq!(subjects(&r, Code::IommuGroupSplit), ["0035:03:00.0"]);
    let f = with_code(&r, Code::IommuGroupSplit)[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("0007:00:00.0 group 11"), "{}", f.message);
}

#[test]
fn atsd_missing() {
    assert!(subjects(&from_capture("ac922-4gpu-16gb-nvidia"), Code::AtsdMissing).is_empty());
    // Firmware before skiboot v6.2: one ATSD register, for link 0 only.
    let r = from_capture("ac922-6gpu-32gb-vfio");
    assert_eq!(
        subjects(&r, Code::AtsdMissing),
        [
            "0004:04:00.0",
            "0004:05:00.0",
            "0004:06:00.0",
            "0035:03:00.0",
            "0035:04:00.0",
            "0035:05:00.0"
        ]
    );
    let first = with_code(&r, Code::AtsdMissing)[0];
    assert_eq!(first.severity, Severity::Warning);
    assert!(
        first.message.contains("link 1 (bridge 0006:00:00.1)"),
        "{}",
        first.message
    );
    assert!(
        !first.message.contains("link 0"),
        "link 0 has the one register"
    );

    // No ibm,mmio-atsd at all on chip 8's NPU.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.remove(&format!("{NPU8}/ibm,mmio-atsd"));
    let r = host.report();
    assert_eq!(
        subjects(&r, Code::AtsdMissing),
        ["0035:03:00.0", "0035:04:00.0"]
    );
}

fn codes(r: &Report) -> Vec<(String, &'static str, Severity)> {
    r.findings
        .iter()
        .map(|f| (f.subject.to_string(), f.code.as_str(), f.severity))
        .collect()
}

/// Each real host shape of the captures raises exactly its own finding, and no healthy shape
/// raises an error.
#[test]
fn each_host_shape_raises_exactly_its_findings() {
    let none: [(String, &str, Severity); 0] = [];
    for healthy in [
        "ac922-4gpu-16gb-nvidia",
        "ac922-6gpu-16gb-kernel-4.14",
        "ac922-4gpu-5.10-one-atsd",
        "power9-no-gpu",
        "x86-v100-pcie",
    ] {
        assert_eq!(codes(&from_capture(healthy)), none, "{healthy}");
    }
    let k514 = from_capture("ac922-4gpu-kernel-5.14");
    assert_eq!(
        codes(&k514),
        [(
            "host".to_owned(),
            "nvlink2-kernel-unsupported",
            Severity::Warning
        )]
    );
    let two = from_capture("ac922-2gpu-16gb-nvidia");
    assert_eq!(
        codes(&two),
        [
            ("0006:00:01.0".to_owned(), "gpu-slot-empty", Severity::Info),
            ("0007:00:01.0".to_owned(), "gpu-slot-empty", Severity::Info),
        ]
    );
    let eeh = from_capture("ac922-4gpu-eeh-removed");
    assert_eq!(
        codes(&eeh),
        [("0035:04:00.0".to_owned(), "link-missing", Severity::Error)]
    );
    for shape in ["ac922-4gpu-kernel-5.14", "ac922-2gpu-16gb-nvidia"] {
        assert!(!from_capture(shape).has_errors(), "{shape}");
    }
}

#[test]
fn nvlink2_kernel_unsupported() {
    use lsnvlink::topology::Nvlink2Kernel;
    // By version: 5.14 on a healthy board. The topology still comes from the device tree.
    let r = from_capture("ac922-4gpu-kernel-5.14");
    let f = with_code(&r, Code::Nvlink2KernelUnsupported)[0];
    assert_eq!(f.subject, lsnvlink::audit::Subject::Host);
    assert!(f.message.contains("5.13"), "{}", f.message);
    assert!(f.message.contains("device tree alone"), "{}", f.message);
    let t = &r.topology;
    assert_eq!(
        t.platform.nvlink2_kernel,
        Some(Nvlink2Kernel::Unsupported { by_version: true })
    );
    assert_eq!(t.bridges.len(), 12);
    assert!(t.bridges.iter().all(|b| !b.on_bus && b.gpu.is_some()));
    for g in &t.gpus {
        assert_eq!(g.cpu_links.len(), 3, "{}", g.address);
        assert_eq!(g.gpu_links.len(), 1, "{}", g.address);
        assert!(matches!(g.memory, Some(Ok(_))));
    }
    assert_eq!(t.npus.len(), 2);
    // Not link-missing, not gpu-memory-offline: the one host finding says it all.
    assert!(with_code(&r, Code::LinkMissing).is_empty());
    assert!(with_code(&r, Code::GpuMemoryOffline).is_empty());

    // By the bus alone: a kernel that says 5.10 but probed no NPU PHB.
    let host = Host::new("ac922-4gpu-kernel-5.14");
    host.write("proc/sys/kernel/osrelease", b"5.10.0-custom\n");
    let r = host.report();
    assert_eq!(
        r.topology.platform.nvlink2_kernel,
        Some(Nvlink2Kernel::Unsupported { by_version: false })
    );
    let f = with_code(&r, Code::Nvlink2KernelUnsupported)[0];
    assert!(
        f.message.contains("does not probe the NPU"),
        "{}",
        f.message
    );

    // Every bridge function removed but the NPU PHBs probed: removed PEs, not the kernel.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    for dom in ["0006", "0007"] {
        for f in ["00.0", "00.1", "00.2", "01.0", "01.1", "01.2"] {
            host.remove(&format!("sys/bus/pci/devices/{dom}:00:{f}"));
        }
    }
    let r = host.report();
    assert!(with_code(&r, Code::Nvlink2KernelUnsupported).is_empty());
    assert_eq!(with_code(&r, Code::LinkMissing).len(), 4);
    for healthy in ["ac922-4gpu-16gb-nvidia", "ac922-6gpu-16gb-kernel-4.14"] {
        assert!(with_code(&from_capture(healthy), Code::Nvlink2KernelUnsupported).is_empty());
    }
}

#[test]
fn gpu_slot_empty() {
    let r = from_capture("ac922-2gpu-16gb-nvidia");
    let f = with_code(&r, Code::GpuSlotEmpty);
    assert_eq!(f.len(), 2);
    assert!(f[0].message.contains("GPU slot GPU1"), "{}", f[0].message);
    assert!(
        f[0].message
            .contains("0006:00:01.0, 0006:00:01.1, 0006:00:01.2"),
        "{}",
        f[0].message
    );
    assert!(f[1].message.contains("GPU slot GPU4"), "{}", f[1].message);
    // No libvirt complaint for the empty slots' bridges, no phandle problems from the peers.
    assert!(with_code(&r, Code::Nv2BridgeIncomplete).is_empty());
    for g in &r.topology.gpus {
        assert_eq!(g.problems, [], "{}", g.address);
        assert_eq!(g.cpu_links.len(), 3);
    }
    assert!(
        r.topology
            .notes
            .iter()
            .any(|n| n.to_string().contains("ibm,nvlink-peers"))
    );
    // A bridge whose GPU is present and lacks ibm,gpu is still nv2-bridge-incomplete.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.remove(&format!("{NPU0}/unknown-bridge@0/ibm,gpu"));
    let r = host.report();
    assert_eq!(subjects(&r, Code::Nv2BridgeIncomplete), ["0006:00:00.0"]);
    assert!(with_code(&r, Code::GpuSlotEmpty).is_empty());
    assert!(with_code(&from_capture("ac922-4gpu-16gb-nvidia"), Code::GpuSlotEmpty).is_empty());
}

#[test]
fn gpu_memory_offline() {
    // Node 252 (chip 8's second GPU) holds nothing while nvidia holds the GPU.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.write(
        "sys/devices/system/node/node252/meminfo",
        b"Node 252 MemTotal:              0 kB\nNode 252 MemFree:               0 kB\n",
    );
    let r = host.report();
    assert_eq!(subjects(&r, Code::GpuMemoryOffline), ["0035:04:00.0"]);
    let f = with_code(&r, Code::GpuMemoryOffline)[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("NUMA node 252"), "{}", f.message);
    assert!(f.message.contains("nvidia-persistenced"), "{}", f.message);
    // vfio-pci holds the GPUs: empty nodes are expected.
    let r = from_capture("ac922-6gpu-32gb-vfio");
    assert!(with_code(&r, Code::GpuMemoryOffline).is_empty());
    assert!(r.topology.gpus.iter().all(|g| matches!(
        &g.memory,
        Some(Ok(m)) if m.online_bytes == Some(0) && m.size == 128 << 30
    )));
    // Onlined: the real size beside the window.
    let r = from_capture("ac922-4gpu-16gb-nvidia");
    assert!(with_code(&r, Code::GpuMemoryOffline).is_empty());
    let Some(Ok(m)) = &r.topology.gpus[0].memory else {
        panic!("no memory")
    };
    assert_eq!(m.online_bytes, Some(15_728_640 * 1024));
    assert_eq!(m.size, 128 << 30);
}

#[test]
fn atsd_follows_the_running_kernel() {
    // One-ATSD firmware on 5.10: vfio falls back to register 0, no warning.
    let r = from_capture("ac922-4gpu-5.10-one-atsd");
    assert!(with_code(&r, Code::AtsdMissing).is_empty());
    let t = &r.topology;
    let b = t.bridge("0006:00:00.1".parse().unwrap()).unwrap();
    assert_eq!(b.atsd, None);
    assert_eq!(t.effective_atsd(b), Some((0x0006_0302_0080_0000, true)));
    // The same firmware on 5.6: no fallback, the warning stays.
    let host = Host::new("ac922-4gpu-5.10-one-atsd");
    host.write("proc/sys/kernel/osrelease", b"5.6.19\n");
    let r = host.report();
    assert_eq!(with_code(&r, Code::AtsdMissing).len(), 4);
    assert!(
        with_code(&r, Code::AtsdMissing)[0]
            .message
            .contains("before 5.7")
    );
    // Before 5.0 no vfio NVLink2 at all: ATSD does not matter.
    assert!(
        with_code(
            &from_capture("ac922-6gpu-16gb-kernel-4.14"),
            Code::AtsdMissing
        )
        .is_empty()
    );
}

#[test]
fn iommu_groups_per_gpu_and_per_npu() {
    use lsnvlink::topology::IommuGrouping;
    let old = from_capture("ac922-6gpu-16gb-kernel-4.14");
    assert_eq!(
        old.topology.platform.iommu_grouping,
        Some(IommuGrouping::PerGpu)
    );
    assert!(with_code(&old, Code::IommuGroupSplit).is_empty());
    let new = from_capture("ac922-4gpu-16gb-nvidia");
    assert_eq!(
        new.topology.platform.iommu_grouping,
        Some(IommuGrouping::PerNpu)
    );
    // The 2-GPU board groups per NPU too: one GPU, but the empty slot's bridges with it.
    assert_eq!(
        from_capture("ac922-2gpu-16gb-nvidia")
            .topology
            .platform
            .iommu_grouping,
        Some(IommuGrouping::PerNpu)
    );
    // A split on a per-GPU host says per GPU.
    let host = Host::new("ac922-6gpu-16gb-kernel-4.14");
    host.relink(
        &format!("{}/iommu_group", npu_dev("0006:00:00.1")),
        "../../../kernel/iommu_groups/11",
    );
    let r = host.report();
    assert_eq!(subjects(&r, Code::IommuGroupSplit), ["0004:04:00.0"]);
    assert!(
        with_code(&r, Code::IommuGroupSplit)[0]
            .message
            .contains("groups per GPU")
    );
}

#[test]
fn host_facts_of_the_captures() {
    use lsnvlink::topology::Nvlink2Kernel;
    let r = from_capture("ac922-6gpu-16gb-kernel-4.14");
    let p = &r.topology.platform;
    assert_eq!(p.kernel_version.unwrap().to_string(), "4.14.0");
    assert_eq!(p.nvlink2_kernel, Some(Nvlink2Kernel::NoVfio));
    assert_eq!(p.firmware.skiboot_version().unwrap().to_string(), "v6.0.1");
    assert!(p.firmware.versions.contains_key("hostboot"));
    assert_eq!(
        p.numa_memory.as_ref().unwrap().get(&250),
        Some(&(15_728_640 * 1024))
    );
    assert!(
        r.topology
            .gpus
            .iter()
            .all(|g| g.numa_status.as_ref().is_some_and(|s| s.is_online()))
    );
    let p = from_capture("ac922-4gpu-16gb-nvidia").topology.platform;
    assert_eq!(
        p.nvlink2_kernel,
        Some(Nvlink2Kernel::Vfio {
            atsd_fallback: true,
            backport: false
        })
    );
    assert_eq!(p.firmware.skiboot.as_deref(), Some("skiboot-v6.5.4"));
    // RHEL 8's 4.18 groups per NPU: read as a backport, not as 4.x.
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    host.write("proc/sys/kernel/osrelease", b"4.18.0-553.el8_10.ppc64le\n");
    assert_eq!(
        host.report().topology.platform.nvlink2_kernel,
        Some(Nvlink2Kernel::Vfio {
            atsd_fallback: false,
            backport: true
        })
    );
    // No device tree, no NVLink2: no kernel verdict.
    let x86 = from_capture("x86-v100-pcie").topology.platform;
    assert_eq!(x86.nvlink2_kernel, None);
    assert!(!x86.firmware.is_known());
}

/// Every property of the nodes on the NVLink path, removed or garbled one at a time, and
/// every sysfs attribute of a GPU and a bridge removed: the report is still made, still lists
/// the four GPUs, and renders in every format.
#[test]
fn broken_properties_still_give_a_report() {
    let host = Host::new("ac922-4gpu-16gb-nvidia");
    let nodes = [
        format!("{DT}/pciex@600c3c0400000/pci@0/pci@0/pci@a/3d-controller@0"),
        format!("{NPU0}/unknown-bridge@0"),
        NPU0.to_owned(),
        format!("{DT}/memory@40000000000"),
        format!("{DT}/xscom@603fc00000000/npu@5011000/link@0"),
        format!("{DT}/ibm,opal"),
        npu_dev("0006:00:00.0"),
        "sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0/0004:02:0a.0/0004:04:00.0".to_owned(),
    ];
    let mut runs = 0;
    for node in &nodes {
        let mut files: Vec<String> = std::fs::read_dir(host.path(node))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !host.path(&format!("{node}/{n}")).is_dir())
            .collect();
        files.sort();
        for file in files {
            let rel = format!("{node}/{file}");
            let path = host.path(&rel);
            let link = std::fs::read_link(&path).ok();
            let saved = if link.is_none() {
                Some(std::fs::read(&path).unwrap())
            } else {
                None
            };
            let variants: &[Option<&[u8]>] = if link.is_some() {
                &[None]
            } else {
                &[None, Some(&[0xff, 0xff, 0xff])]
            };
            for variant in variants {
                match variant {
                    None => std::fs::remove_file(&path).unwrap(),
                    Some(bytes) => std::fs::write(&path, bytes).unwrap(),
                }
                let r = host.report();
                assert_eq!(r.topology.gpus.len(), 4, "{rel} {variant:?}");
                for out in [report::text(&r), report::matrix(&r), report::json(&r)] {
                    assert!(!out.is_empty());
                }
                runs += 1;
                // Put it back.
                let _ = std::fs::remove_file(&path);
                match (&link, &saved) {
                    (Some(target), _) => std::os::unix::fs::symlink(target, &path).unwrap(),
                    (None, Some(bytes)) => std::fs::write(&path, bytes).unwrap(),
                    (None, None) => unreachable!(),
                }
            }
        }
    }
    assert!(runs > 80, "{runs}");
    // And it is back to healthy.
    assert_eq!(host.report().findings, []);
}

#[test]
fn a_host_with_an_empty_bus_is_no_nvlink2_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices")).unwrap();
    let root = fsroot::Root::dir(dir.path()).unwrap();
    let r = Report::read(&root, &pci::Names::builtin()).unwrap();
    assert!(!r.topology.has_nvlink2());
    assert!(report::text(&r).contains("no device tree"));
}
