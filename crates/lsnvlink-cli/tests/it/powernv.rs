//! A real POWER9 kernel's sysfs and device tree: `testdata/captures/powernv9-qemu-live.tar.gz`
//! was taken by `lsnvlink capture` running live on Debian's ppc64el kernel (6.1) under QEMU's
//! `powernv9` machine with QEMU's skiboot (`cargo xtask powernv --save-capture`, which also
//! checked every output against lspci, dtc and the replay). A recorded fixture, committed
//! once: these tests replay it — the report, `pci` in every format, `dt dump`, `memlock`, the
//! Graphviz and Prometheus renderings — and state the facts of the real kernel the model in
//! `xtask/src/testdata/` is compared with (`docs/powernv-vs-model.md`).

use fsroot::Root;
use lsnvlink::render::report;
use pci::render::{self, Ids};
use pci::{Fields, Names, Pci, Tree};

use crate::common::{self, capture, lsnvlink, report as read, stdout};

const NAME: &str = "powernv9-qemu-live";

fn path() -> String {
    capture(NAME).to_str().unwrap().to_owned()
}

#[test]
fn report_snapshots() {
    let r = read(NAME);
    let text = report::text(&r);
    assert!(text.contains("No NVLink2 hardware on this host"), "{text}");
    assert_snapshot!("text", text);
    assert_snapshot!("matrix", report::matrix(&r));
    assert_snapshot!("json", report::json(&r));
    // The report exits 0 on a host without NVLink2 hardware.
    let out = lsnvlink(&["--capture", &path()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn pci_snapshots() {
    let root = Root::archive(capture(NAME)).unwrap();
    let pci = Pci::read(&root, &Fields::all()).unwrap();
    assert_eq!(pci.devices.len(), 12);
    let names = Names::builtin();
    assert_snapshot!("pci_list", render::list(&pci, Ids::Named(&names)));
    assert_snapshot!("pci_tree", render::tree(&pci, &Tree::build(&pci.devices)));
    assert_snapshot!("pci_vmm", render::vmm(&pci, Ids::Named(&names)));
    assert_snapshot!(
        "pci_json",
        render::json(&pci, Ids::Named(&names), "capture powernv9-qemu-live")
    );
}

#[test]
fn dt_dump_snapshot() {
    let dts = stdout(&["dt", "dump", "--capture", &path()]);
    assert!(dts.contains("compatible = \"qemu,powernv9\", \"ibm,powernv\";"));
    assert_snapshot!("dt_dump", dts);
}

#[test]
fn dot_is_a_graph_graphviz_accepts() {
    let text = lsnvlink::render::dot::dot(&read(NAME));
    common::graphviz(&text);
    assert_snapshot!("dot", text);
}

#[test]
fn prom_is_exposition_text_naming_the_real_kernel() {
    let text = lsnvlink::render::prom::prom(&read(NAME), &[], 0);
    let scrape = prom_text_format_parser::Scrape::parse(&text).unwrap();
    assert!(
        scrape
            .metrics
            .iter()
            .all(|m| m.name.starts_with("lsnvlink_"))
    );
    assert!(text.contains("lsnvlink_nvlink2 0\n"), "{text}");
    assert!(text.contains("kernel=\"6.1.0-57-powerpc64le\""), "{text}");
}

/// The domain XML `cargo xtask powernv` gave `memlock` in the guest: the two e1000e and the
/// xHCI assigned.
const DOMAIN_FLAGS: [&str; 8] = [
    "--memory",
    "4GiB",
    "--hostdev",
    "0001:01:00.0",
    "--hostdev",
    "0003:01:00.0",
    "--hostdev",
    "0004:03:00.0",
];

#[test]
fn memlock_snapshots() {
    let cap = path();
    let mut args = vec!["memlock", "--capture", cap.as_str()];
    args.extend(DOMAIN_FLAGS);
    let text = stdout(&args);
    // One isolation PHB per host IOMMU group (0, 2 and 3 on this machine).
    for line in [
        "0001:01:00.0  IOMMU group 0",
        "0003:01:00.0  IOMMU group 2",
        "0004:03:00.0  IOMMU group 3",
        "PHBs counted: 4",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert_snapshot!("memlock", text);
    args.extend(["--format", "json"]);
    assert_snapshot!("memlock_json", stdout(&args));
}

/// What the real kernel shows, stated once (the model's differences are in
/// docs/powernv-vs-model.md).
#[test]
fn facts_of_the_real_kernel() {
    let root = Root::archive(capture(NAME)).unwrap();
    assert!(root.skipped().is_empty());
    assert_eq!(
        root.read_link("/proc/device-tree").unwrap().to_str(),
        Some("/sys/firmware/devicetree/base")
    );
    assert!(
        root.read_text("/proc/sys/kernel/osrelease")
            .unwrap()
            .starts_with("6.1.0-")
    );
    let dev = "/sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0/0004:02:00.0/0004:03:00.0";
    assert_eq!(
        root.read_link(format!("{dev}/of_node")).unwrap().to_str(),
        Some(
            "../../../../../../firmware/devicetree/base/pciex@600c3c0400000/pci@0/pci@0/pci@0/ethernet@0"
        )
    );
    assert_eq!(
        root.read_link(format!("{dev}/iommu_group"))
            .unwrap()
            .to_str(),
        Some("../../../../../../kernel/iommu_groups/3")
    );
    // devspec names the node and, on 6.1 (unlike 5.x), ends in a newline; numa_node is the
    // chip's node.
    assert_eq!(
        root.read(format!("{dev}/devspec")).unwrap().as_ref(),
        b"/pciex@600c3c0400000/pci@0/pci@0/pci@0/ethernet@0\n"
    );
    assert_eq!(
        root.read_attr_text(format!("{dev}/numa_node")).unwrap(),
        "0"
    );
    // Root ports and switch ports have no driver and no IOMMU group under this kernel.
    let rp = "/sys/devices/pci0004:00/0004:00:00.0";
    assert!(!root.exists(format!("{rp}/driver")));
    assert!(!root.exists(format!("{rp}/iommu_group")));
}
