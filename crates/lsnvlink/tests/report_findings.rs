//! Every audit finding code, raised by a capture or by a variant of one built here (a capture
//! extracted into a temporary directory with one file changed), and not raised where the host
//! is right. Also: a broken property or attribute anywhere on the NVLink path still gives a
//! report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;

use lsnvlink::audit::{Code, Finding, Report, Severity};
use lsnvlink::render::report;
use lsnvlink::topology::nv2;

use common::{capture, report as from_capture};

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
    // Old firmware: one ATSD register per NPU. Everything else is right.
    assert!(r.findings.iter().all(|f| f.code == Code::AtsdMissing));
    assert!(!r.has_errors());
}

#[test]
fn link_missing() {
    // One bridge function gone alone: no known cause does that, and the message says so.
    let r = from_capture("ac922-4gpu-link-down");
    assert_eq!(subjects(&r, Code::LinkMissing), ["0035:04:00.0"]);
    let f = with_code(&r, Code::LinkMissing)[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("2 of its 3"), "{}", f.message);
    assert!(
        f.message.contains("matches no known cause"),
        "{}",
        f.message
    );
    assert!(f.message.contains("0007:00:01.2"), "{}", f.message);
    assert!(subjects(&from_capture("ac922-4gpu-16gb-nvidia"), Code::LinkMissing).is_empty());

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
