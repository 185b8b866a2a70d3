//! A sosreport tarball (or its unpacked directory) as a device-tree-only topology.
//!
//! sosreport copies all of `/proc/device-tree` on POWER, but no `/sys/bus/pci`. The PCI
//! functions that matter here are all in the device tree, as nodes under their PHB (skiboot
//! `core/pci.c` `pci_add_one_device_node` writes `vendor-id`, `device-id`, `class-code`,
//! `revision-id` and a `reg` whose first cell is `bdfn << 8`, IEEE 1275 PCI binding
//! `phys.hi = npt000ss bbbbbbbb dddddfff rrrrrrrr`). The Linux PCI domain is the PHB's
//! `ibm,opal-phbid` (`<0 id>`, skiboot `core/pci.c` `pci_register_phb`).
//!
//! From those nodes this module builds, in memory, the sysfs the join expects: one function
//! per PCI node with `vendor`, `device`, `class`, `revision` and `of_node`. The join
//! ([`crate::topology`]) then follows the same phandles as on a live host (`ibm,npu`,
//! `ibm,gpu`, `memory-region`, `ibm,nvlink`, `ibm,nvlink-peers`).
//!
//! When the sosreport holds `sos_commands/pci/lspci_-nnvv` (sos's `pci` plugin), it says
//! which functions the kernel has (a device-tree node missing from it is left out, so a link
//! down shows as on a live host) and, per function, `Kernel driver in use:`, `NUMA node:` and
//! `IOMMU group:`. What neither can say is written in the topology's notes
//! ([`UNKNOWN_WITHOUT_SYSFS`] or [`WITH_LSPCI`]). Bus numbers are the firmware's; Linux on
//! PowerNV keeps them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use devtree::Tree;
use pci::PciAddress;

use super::{InputError, join, top_directory};
use crate::facts::{HostFacts, NvlinkStates};
use crate::topology::Topology;

/// Where sysfs shows the device tree (and where the in-memory view puts it).
const DT_BASE: &str = "sys/firmware/devicetree/base";

/// What the notes of a sosreport topology say is unknown.
pub const UNKNOWN_WITHOUT_SYSFS: [&str; 3] = [
    "sosreport: no sysfs, so the PCI functions are the device tree's PCI nodes (domain from \
     the PHB's ibm,opal-phbid, bus, device and function from reg): a function the kernel \
     removed after boot (an EEH-removed PE) still shows, and link-missing cannot be told",
    "sosreport: drivers, IOMMU groups and the NUMA node of each PCI function are unknown \
     without sysfs (driver-split and iommu-group-split are not checked)",
    "sosreport: bus numbers are the firmware's (reg); Linux on PowerNV keeps them",
];

/// The notes of a sosreport topology when sos's `lspci -nnvv` output was used.
pub const WITH_LSPCI: [&str; 2] = [
    "sosreport: the PCI functions are the device tree's PCI nodes that sos_commands/pci/\
     lspci_-nnvv lists (domain from the PHB's ibm,opal-phbid, bus, device and function from \
     reg); drivers, NUMA nodes and IOMMU groups are lspci's, unknown where it shows none",
    "sosreport: bus numbers are the firmware's (reg); Linux on PowerNV keeps them",
];

/// Where sos keeps `lspci -nnvv` (the `pci` plugin), under the top-level directory.
const LSPCI: [&str; 2] = [
    "sos_commands/pci/lspci_-nnvv",
    "sos_commands/pci/lspci_-nvv",
];

/// What `lspci -vv` says of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LspciDevice {
    driver: Option<String>,
    numa_node: Option<u32>,
    iommu_group: Option<u32>,
}

/// `DDDD:BB:DD.F` or `BB:DD.F` (domain 0) at the start of an `lspci` line.
fn lspci_address(token: &str) -> Option<PciAddress> {
    // lspci prints `BB:DD.F` without `-D`, `DDDD:BB:DD.F` with it; both with fixed widths,
    // which `PciAddress`'s parser checks.
    if token.matches(':').count() == 1 {
        format!("0000:{token}").parse().ok()
    } else {
        token.parse().ok()
    }
}

/// The functions `lspci -vv` text lists, with what it says of each.
fn parse_lspci(text: &str) -> BTreeMap<PciAddress, LspciDevice> {
    let mut out = BTreeMap::new();
    let mut current: Option<PciAddress> = None;
    for line in text.lines() {
        if !line.starts_with([' ', '\t']) {
            current = line.split_whitespace().next().and_then(lspci_address);
            if let Some(a) = current {
                out.insert(a, LspciDevice::default());
            }
            continue;
        }
        let Some(dev) = current.and_then(|a| out.get_mut(&a)) else {
            continue;
        };
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Kernel driver in use" if !value.is_empty() => dev.driver = Some(value.to_owned()),
            "NUMA node" => dev.numa_node = value.parse().ok(),
            "IOMMU group" => dev.iommu_group = value.parse().ok(),
            _ => {}
        }
    }
    out
}

/// Bounds for a sosreport: its logs are never held (see [`wanted`]), but it has many entries
/// and a long decompressed stream ([`crate::limits::sosreport`]).
fn limits() -> fsroot::Limits {
    crate::limits::sosreport()
}

/// Where sysfs keeps the NUMA nodes (sos's `numa` plugin copies their `meminfo`).
const NODE_DIR: &str = "sys/devices/system/node";

/// Whether a sosreport entry is one this reader uses: the device tree, `sos_commands/pci`
/// (lspci), `sos_reports`, and the host name and kernel files; at the top of the archive or
/// under its one top-level directory. Everything else (logs, configuration copies: most of a
/// sosreport's gigabytes) is read past without being held in memory.
fn wanted(path: &str) -> bool {
    const KEEP: [&str; 13] = [
        "proc/device-tree",
        NODE_DIR,
        NVLINK_STATUS,
        NVIDIA_QUERY,
        DT_BASE,
        "sos_commands/pci/",
        "sos_commands/kernel/uname_-a",
        "sos_reports",
        "proc/sys/kernel/hostname",
        "proc/sys/kernel/osrelease",
        "hostname",
        "etc/hostname",
        "uname",
    ];
    let inner = path.split_once('/').map_or("", |(_, rest)| rest);
    [path, inner].iter().any(|p| {
        KEEP.iter().any(|k| {
            p.strip_prefix(k)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || k.ends_with('/'))
        })
    })
}

/// Reads the sosreport at `path` (a tarball or an unpacked directory) and joins its device
/// tree into a topology; the notes say what is unknown without sysfs.
pub fn read(path: &Path, names: &pci::Names) -> Result<Topology, InputError> {
    let root = if path.is_dir() {
        fsroot::Root::dir(path)?.with_limits(limits())
    } else {
        fsroot::Root::archive_filtered(path, limits(), wanted)?
    };
    read_root(&root, names)
}

/// As [`read`], from an already open root.
pub fn read_root(root: &fsroot::Root, names: &pci::Names) -> Result<Topology, InputError> {
    let facts = read_facts(root)?;
    Ok(Topology::from_facts(&facts, names))
}

/// The facts a sosreport under `root` gives ([`crate::facts`]): the device tree, the PCI
/// functions built from its PCI nodes (with `lspci -nnvv`'s drivers, NUMA nodes and IOMMU
/// groups when sos kept it), the host name, the kernel release, the NUMA nodes' memory, the
/// NVIDIA driver's NVLink states; the notes say what cannot be known without sysfs.
pub fn read_facts(root: &fsroot::Root) -> Result<HostFacts, InputError> {
    let archive = root.origin().to_string();
    let prefix = top_directory(
        root,
        &["proc/device-tree", DT_BASE, "sos_commands", "sos_reports"],
    )
    .ok_or_else(|| InputError::Missing {
        archive: archive.clone(),
        what: "no proc/device-tree, sys/firmware/devicetree/base or sos_commands at the top \
               or under one top-level directory: not a sosreport"
            .to_owned(),
    })?;
    let tree = read_tree(root, &prefix).map_err(|source| InputError::DeviceTree {
        archive: archive.clone(),
        source,
    })?;
    let lspci = lspci(root, &prefix);
    let kernel_release = kernel_release(root, &prefix);
    let mut notes = Vec::new();
    let (pci, probed_domains, libvirt_nv2) =
        functions(&tree, lspci.as_ref(), kernel_release.as_deref(), &mut notes);
    let fixed: &[&str] = if lspci.is_some() {
        &WITH_LSPCI
    } else {
        &UNKNOWN_WITHOUT_SYSFS
    };
    notes.extend(fixed.iter().map(|s| (*s).to_owned()));
    let nvlink_states = link_states(root, &prefix, &mut notes);
    let mut facts = HostFacts {
        pci,
        hostname: first_line(
            root,
            &prefix,
            &["proc/sys/kernel/hostname", "hostname", "etc/hostname"],
        ),
        kernel_release,
        numa_memory: crate::facts::read_numa_memory_at(root, &join(&prefix, NODE_DIR)),
        probed_domains,
        libvirt_nv2,
        nvlink_states,
        notes,
        ..HostFacts::default()
    };
    facts.device_tree = Some(tree);
    Ok(facts)
}

const NVLINK_STATUS: &str = "sos_commands/nvidia/nvidia-smi_nvlink_-s";
const NVIDIA_QUERY: &str = "sos_commands/nvidia/nvidia-smi_-q";

/// The NVIDIA driver's link states, from `nvidia-smi nvlink -s`, onto the GPUs: GPU `i` is the
/// `i`-th address of `nvidia-smi -q`, else the `i`-th NVIDIA GPU by PCI address (nvidia-smi's
/// own order).
/// The NVIDIA driver's NVLink states (`nvidia-smi nvlink -s`) and the GPU numbering of
/// `nvidia-smi -q`, when sos kept them.
fn link_states(root: &fsroot::Root, prefix: &str, notes: &mut Vec<String>) -> Option<NvlinkStates> {
    let status = root.read_text(join(prefix, NVLINK_STATUS)).ok()?;
    let states = super::nvidia_smi::parse_nvlink_status(&status);
    if states.is_empty() {
        return None;
    }
    let order = root
        .read_text(join(prefix, NVIDIA_QUERY))
        .map(|q| super::nvidia_smi::parse_query_addresses(&q))
        .unwrap_or_default();
    if order.is_empty() {
        notes.push(format!(
            "sosreport: no {NVIDIA_QUERY}: nvidia-smi's GPU numbers are taken in PCI address \
             order, as nvidia-smi numbers them"
        ));
    }
    notes.push(format!(
        "sosreport: NVLink training states from {NVLINK_STATUS} (the NVIDIA driver's view)"
    ));
    Some(NvlinkStates { states, order })
}

fn read_tree(root: &fsroot::Root, prefix: &str) -> Result<Tree<'static>, devtree::DirError> {
    match Tree::from_root(root, join(prefix, "proc/device-tree")) {
        Ok(tree) => Ok(tree),
        Err(first) => Tree::from_root(root, join(prefix, DT_BASE)).map_err(|_| first),
    }
}

/// The `lspci -vv` text of the sosreport, when it has one that lists functions.
fn lspci(root: &fsroot::Root, prefix: &str) -> Option<BTreeMap<PciAddress, LspciDevice>> {
    LSPCI.iter().find_map(|p| {
        let text = root.read_text(join(prefix, p)).ok()?;
        let devices = parse_lspci(&text);
        (!devices.is_empty()).then_some(devices)
    })
}

/// The first line of the first of `paths` (under `prefix`) that exists and is not empty.
fn first_line(root: &fsroot::Root, prefix: &str, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| {
        let text = root.read_text(join(prefix, p)).ok()?;
        let line = text.lines().next()?.trim().to_owned();
        (!line.is_empty()).then_some(line)
    })
}

/// The in-memory root (a plain tar) the join reads, and notes on what was left out.
/// The PCI functions of the device tree's PCI nodes, as sysfs would list them (what
/// [`pci::Pci::read`] gives for such a function: ids, class and revision from the node's
/// `vendor-id`, `device-id`, `class-code` and `revision-id`, checked by the same parsers; the
/// node as `of_node`; driver, NUMA node and IOMMU group from `lspci`), the PCI domains with a
/// function on their root bus, and libvirt's NV2-bridge test for each function.
fn functions(
    tree: &Tree<'_>,
    lspci: Option<&BTreeMap<PciAddress, LspciDevice>>,
    kernel_release: Option<&str>,
    notes: &mut Vec<String>,
) -> (
    pci::Pci,
    BTreeSet<u32>,
    BTreeMap<PciAddress, crate::topology::nv2::LibvirtCheck>,
) {
    // A 5.13+ kernel does not probe the NPU PHBs: without lspci to say so, their functions
    // are left out, as the kernel has none.
    let npu_probed = kernel_release
        .and_then(crate::topology::KernelVersion::parse)
        .is_none_or(|v| v.nvlink2() != crate::topology::KernelNvlink2::Removed);
    let mut devices = BTreeMap::new();
    let mut probed = BTreeSet::new();
    let mut libvirt = BTreeMap::new();
    for node in tree.nodes() {
        let (Ok(vendor), Ok(device)) = (node.u32("vendor-id"), node.u32("device-id")) else {
            continue;
        };
        if lspci.is_none()
            && !npu_probed
            && node
                .parent()
                .is_some_and(|p| p.is_compatible("ibm,ioda2-npu2-phb"))
        {
            continue;
        }
        let Some(address) = crate::topology::dt_pci_address(node) else {
            continue;
        };
        let path = node.path();
        let listed = match lspci {
            Some(devices) => match devices.get(&address) {
                Some(d) => Some(d),
                None => {
                    if vendor == u32::from(crate::topology::VENDOR_NVIDIA)
                        || device == u32::from(crate::topology::DEVICE_NPU2_BRIDGE)
                    {
                        notes.push(format!(
                            "sosreport: {address} ({path}) is in the device tree but not in \
                             lspci: left out, as the kernel does not have it"
                        ));
                    }
                    continue;
                }
            },
            None => None,
        };
        if devices.contains_key(&address) {
            notes.push(format!(
                "sosreport: {path} has the PCI address {address} of another node; left out"
            ));
            continue;
        }
        if address.bus() == 0 {
            probed.insert(address.domain());
        }
        let check = crate::topology::nv2::LibvirtCheck {
            present: crate::topology::nv2::LIBVIRT_NV2_PROPERTIES
                .map(|name| node.property(name).is_some()),
        };
        if check.present.iter().any(|&p| p) {
            libvirt.insert(address, check);
        }
        devices.insert(
            address,
            function(node, address, vendor, device, listed, path),
        );
    }
    let pci = pci::Pci::new(devices.into_values().collect(), Vec::new());
    (pci, probed, libvirt)
}

/// One function as [`pci::Pci::read`] reads it from sysfs (with [`HostFacts::pci_fields`]):
/// each value goes through the sysfs attribute's parser, and what sysfs would lack is the
/// same error.
fn function(
    node: devtree::Node<'_, '_>,
    address: PciAddress,
    vendor: u32,
    device_id: u32,
    listed: Option<&LspciDevice>,
    path: String,
) -> pci::Device {
    use pci::{AttrError, Attribute, Problem, value};
    let mut d = pci::Device::new(address);
    let fail = |errors: &mut Vec<AttrError>, attribute, problem| {
        errors.push(AttrError { attribute, problem });
    };
    let parse = |text: String, f: fn(&[u8]) -> Result<_, value::ValueError>| f(text.as_bytes());
    match parse(format!("{vendor:#06x}\n"), value::parse_id) {
        Ok(v) => d.vendor_id = Some(v),
        Err(e) => fail(&mut d.errors, Attribute::Vendor, Problem::Malformed(e)),
    }
    match parse(format!("{device_id:#06x}\n"), value::parse_id) {
        Ok(v) => d.device_id = Some(v),
        Err(e) => fail(&mut d.errors, Attribute::Device, Problem::Malformed(e)),
    }
    match node.u32("class-code") {
        Ok(class) => match value::parse_class(format!("{class:#08x}\n").as_bytes()) {
            Ok(c) => d.class = pci::Class::new(c),
            Err(e) => fail(&mut d.errors, Attribute::Class, Problem::Malformed(e)),
        },
        Err(_) => fail(&mut d.errors, Attribute::Class, Problem::Missing),
    }
    match node.u32("revision-id") {
        Ok(rev) => match value::parse_u8(format!("{rev:#04x}\n").as_bytes()) {
            Ok(r) => d.revision = Some(r),
            Err(e) => fail(&mut d.errors, Attribute::Revision, Problem::Malformed(e)),
        },
        // sysfs without `revision`: configuration space is read instead, and there is none.
        Err(_) => {
            fail(&mut d.errors, Attribute::Config, Problem::Missing);
            fail(&mut d.errors, Attribute::Revision, Problem::Missing);
        }
    }
    // -1 is what sysfs itself says for "no node": unknown without sysfs or lspci.
    if let Some(node) = listed.and_then(|l| l.numa_node) {
        match value::parse_numa_node(format!("{node}\n").as_bytes()) {
            Ok(n) => d.numa_node = n,
            Err(e) => fail(&mut d.errors, Attribute::NumaNode, Problem::Malformed(e)),
        }
    }
    d.iommu_group = listed.and_then(|l| l.iommu_group);
    if let Some(driver) = listed.and_then(|l| l.driver.as_deref()) {
        // The basename of the `driver` link's text, as sysfs readers take it.
        let link = format!("../../../bus/pci/drivers/{driver}");
        match pci::link_basename(std::path::Path::new(&link)) {
            Ok(name) => d.driver = Some(name),
            Err(problem) => fail(&mut d.errors, Attribute::Driver, problem),
        }
    }
    d.of_node = Some(path);
    d.sysfs_path = Some(format!(
        "/sys/devices/pci{:04x}:{:02x}/{address}",
        address.domain(),
        address.bus()
    ));
    d.parent = pci::Parent::RootBus(address.bus_address());
    d
}

fn kernel_release(root: &fsroot::Root, prefix: &str) -> Option<String> {
    first_line(root, prefix, &["proc/sys/kernel/osrelease"]).or_else(|| {
        first_line(root, prefix, &["uname", "sos_commands/kernel/uname_-a"])
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
    })
}

/// A plain tar of `files` (sorted, as the tree keeps them).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lspci_blocks_give_driver_numa_node_and_iommu_group() {
        let text =
            "0004:04:00.0 3D controller [0302]: NVIDIA Corporation GV100GL [10de:1db1] (rev a1)
\tSubsystem: NVIDIA Corporation Device [10de:1212]
\tNUMA node: 0
\tIOMMU group: 5
\tKernel driver in use: nvidia
\tKernel modules: nouveau, nvidia

0006:00:00.0 Bridge [0680]: IBM Device [1014:04ea] (rev 01)
\tNUMA node: -1
\tKernel modules: ibmnpu

01:00.0 VGA compatible controller [0300]: ASPEED [1a03:2000] (rev 41)
garbage line
";
        let d = parse_lspci(text);
        assert_eq!(d.len(), 3);
        let gpu = &d[&PciAddress::new(4, 4, 0, 0).unwrap()];
        assert_eq!(gpu.driver.as_deref(), Some("nvidia"));
        assert_eq!(gpu.numa_node, Some(0));
        assert_eq!(gpu.iommu_group, Some(5));
        let bridge = &d[&PciAddress::new(6, 0, 0, 0).unwrap()];
        assert_eq!(bridge, &LspciDevice::default());
        assert!(d.contains_key(&PciAddress::new(0, 1, 0, 0).unwrap()));
    }

    #[test]
    fn only_what_the_reader_uses_is_kept() {
        for path in [
            "sosreport-wsp-2019/proc/device-tree/model",
            "proc/device-tree",
            "sosreport-x/sys/firmware/devicetree/base/cpus/name",
            "sosreport-x/sos_commands/pci/lspci_-nnvv",
            "sosreport-x/sos_reports/manifest.json",
            "sosreport-x/hostname",
            "sosreport-x/uname",
        ] {
            assert!(wanted(path), "{path}");
        }
        for path in [
            "sosreport-x/var/log/messages",
            "sosreport-x/sos_commands/kernel/dmesg",
            "sosreport-x/proc/device-tree-old/x",
            "sosreport-x/hostnamectl",
            "a/b/proc/device-tree/model",
        ] {
            assert!(!wanted(path), "{path}");
        }
    }

    proptest::proptest! {
        #[test]
        fn lspci_text_never_panics(text in "(([0-9a-f:. ]{0,16}|\\t[A-Za-z ]{0,24}: ?[0-9a-z-]{0,8})\\n){0,12}") {
            let devices = parse_lspci(&text);
            for address in devices.keys() {
                let shown = format!(
                    "{:02x}:{:02x}.{:x}",
                    address.bus(),
                    address.device(),
                    address.function()
                );
                proptest::prop_assert!(text.contains(&shown));
            }
        }

        #[test]
        fn any_token_is_an_address_or_none(token in "\\PC{0,20}") {
            let _ = lspci_address(&token);
        }
    }

    #[test]
    fn lspci_addresses_with_and_without_domain() {
        assert_eq!(
            lspci_address("0035:03:00.1"),
            PciAddress::new(0x35, 3, 0, 1)
        );
        assert_eq!(lspci_address("1f:00.0"), PciAddress::new(0, 0x1f, 0, 0));
        assert_eq!(lspci_address("garbage"), None);
        assert_eq!(lspci_address("0004:04:00"), None);
        assert_eq!(lspci_address("0004:04:00.9"), None);
    }
}
