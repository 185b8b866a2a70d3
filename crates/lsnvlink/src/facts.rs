//! Host facts: one typed snapshot of everything the join, the audit and the renderers reason
//! with, filled by a reader and then used without touching a file again.
//!
//! A [`HostFacts`] holds the PCI functions (ids, class, driver, NUMA node, IOMMU group,
//! device-tree node), the device tree, the kernel release and host name, the memory of each
//! NUMA node, the NVIDIA driver's `numa_status` per GPU, which PCI domains the kernel probed,
//! and libvirt's NV2-bridge test for each function with a device-tree node. Readers fill it:
//! [`HostFacts::read`] from a [`fsroot::Root`] (the live system, a copied root, a capture
//! archive), [`crate::inputs::sosreport`] from a sosreport's device tree and `lspci` output,
//! [`crate::inputs::hwloc::NumaFacts::host_facts`] from an hwloc tarball's NUMA nodes.
//! [`crate::topology::Topology::from_facts`] joins it; nothing downstream reads files.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use lsnvlink::facts::HostFacts;
//! use lsnvlink::topology::Topology;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! std::fs::create_dir_all(dir.path().join("proc/sys/kernel"))?;
//! std::fs::write(dir.path().join("proc/sys/kernel/osrelease"), "5.10.0-21-powerpc64le\n")?;
//! let facts = HostFacts::read(&fsroot::Root::open(dir.path())?)?;
//! assert_eq!(facts.kernel_release.as_deref(), Some("5.10.0-21-powerpc64le"));
//! assert!(facts.device_tree.is_none());
//! // The join is a function of the facts alone.
//! let topology = Topology::from_facts(&facts, &pci::Names::builtin());
//! assert!(topology.gpus.is_empty());
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pci::{Attribute, ConfigRead, Fields, Pci, PciAddress};

use crate::inputs::nvidia_smi::LinkState;
use crate::topology::TopologyError;
use crate::topology::host::{NumaStatus, node_mem_total};
use crate::topology::nv2::{self, LibvirtCheck};

/// Where the kernel says its release.
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
/// Where the kernel says the host name.
pub const HOSTNAME: &str = "/proc/sys/kernel/hostname";

/// What one host is, as far as lsnvlink needs to know: the input of the join.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HostFacts {
    /// The PCI functions, sorted by address, and the notes of the walk.
    pub pci: Pci,
    /// The device tree, when the host has one (`None` on hosts without `/proc/device-tree`,
    /// and when it cannot be read: [`notes`](HostFacts::notes) says why).
    pub device_tree: Option<devtree::Tree<'static>>,
    /// `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel_release: Option<String>,
    /// Memory per NUMA node in bytes (`MemTotal` of `node*/meminfo`); `None` when the nodes
    /// cannot be listed.
    pub numa_memory: Option<BTreeMap<u32, u64>>,
    /// The NVIDIA driver's `numa_status` per GPU address (`/proc/driver/nvidia/gpus`).
    pub numa_status: BTreeMap<String, NumaStatus>,
    /// PCI domains whose root bus the kernel probed (`/sys/devices/pciDDDD:00` exists): a
    /// probed PHB keeps it when its functions are removed (EEH, a manual remove).
    pub probed_domains: BTreeSet<u32>,
    /// libvirt's NV2-bridge test ([`nv2::libvirt_nv2_bridge`]) for each PCI function with a
    /// device-tree node; a function not here has none (all four properties absent).
    pub libvirt_nv2: BTreeMap<PciAddress, LibvirtCheck>,
    /// Why the IOMMU group of a listed PCI function is unknown (its `iommu_group` link is
    /// missing or unusable), by function; functions with a group are not here.
    pub iommu_group_problems: BTreeMap<PciAddress, String>,
    /// The NVIDIA driver's NVLink training states, when an input holds them (a sosreport's
    /// `nvidia-smi nvlink -s`); sysfs and the device tree cannot show them.
    pub nvlink_states: Option<NvlinkStates>,
    /// What the reader could not read or know, in words (a device tree that cannot be read,
    /// what a sosreport cannot tell without sysfs).
    pub notes: Vec<String>,
}

/// NVLink training states as `nvidia-smi` numbers the GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NvlinkStates {
    /// Links per `nvidia-smi` GPU index (`nvidia-smi nvlink -s`).
    pub states: BTreeMap<u32, Vec<LinkState>>,
    /// The PCI address of each GPU index (`nvidia-smi -q`); empty when unknown, and then the
    /// NVIDIA GPUs are taken in PCI address order, as `nvidia-smi` numbers them.
    pub order: Vec<PciAddress>,
}

impl HostFacts {
    /// The PCI attributes the join needs: everything but configuration space (reading it
    /// costs config cycles on a live host; it is read only when `revision` is missing),
    /// subsystem ids and `devspec`.
    pub fn pci_fields() -> Fields {
        let mut fields = Fields::all();
        fields.config = ConfigRead::Fallback;
        fields.subsystem = false;
        fields.devspec = false;
        fields
    }

    /// Reads the facts of the host under `root`. Fails only when the PCI bus cannot be
    /// listed; anything else that cannot be read is left unknown (and said in
    /// [`notes`](HostFacts::notes) where it matters).
    pub fn read(root: &fsroot::Root) -> Result<HostFacts, TopologyError> {
        let pci = Pci::read(root, &Self::pci_fields())?;
        let mut notes = Vec::new();
        let device_tree = match devtree::Tree::from_proc(root) {
            Ok(tree) => Some(tree),
            Err(devtree::DirError::Top { source, .. }) if source.is_not_found() => None,
            Err(e) => {
                notes.push(format!("device tree: {e}"));
                None
            }
        };
        // libvirt tests four files under each function's `of_node`. Where the tree just read
        // is that very directory (`/proc/device-tree` is `/sys/firmware/devicetree/base`) and
        // holds the node whole, its properties answer without a file lookup.
        let tree_is_sysfs = device_tree.is_some()
            && root
                .resolve(devtree::PROC_DEVICE_TREE)
                .is_ok_and(|p| p == Path::new(pci::DEVICE_TREE_BASE));
        let libvirt_nv2 = pci
            .devices
            .iter()
            .filter(|d| d.of_node.is_some() || d.error(Attribute::OfNode).is_some())
            .map(|d| {
                let node = d
                    .of_node
                    .as_deref()
                    .filter(|_| tree_is_sysfs)
                    .and_then(|path| device_tree.as_ref()?.find(path))
                    .filter(|node| node.errors().is_empty());
                let check = match node {
                    Some(node) => LibvirtCheck {
                        present: nv2::LIBVIRT_NV2_PROPERTIES
                            .map(|name| node.property(name).is_some()),
                    },
                    None => nv2::libvirt_nv2_bridge(root, d.address),
                };
                (d.address, check)
            })
            .filter(|(_, check)| check.present.iter().any(|&p| p))
            .collect();
        let iommu_group_problems = pci
            .devices
            .iter()
            .filter(|d| d.iommu_group.is_none())
            .filter_map(|d| Some((d.address, iommu_group_problem(root, d.address)?)))
            .collect();
        Ok(HostFacts {
            hostname: read_trimmed(root, HOSTNAME),
            iommu_group_problems,
            kernel_release: read_trimmed(root, OSRELEASE),
            numa_memory: read_numa_memory(root),
            numa_status: read_numa_status(root),
            probed_domains: probed_domains(root),
            libvirt_nv2,
            device_tree,
            pci,
            nvlink_states: None,
            notes,
        })
    }

    /// libvirt's NV2-bridge test for the function at `address` (all absent when the function
    /// has no device-tree node or is not on the bus).
    pub fn libvirt_nv2(&self, address: PciAddress) -> LibvirtCheck {
        self.libvirt_nv2.get(&address).copied().unwrap_or_default()
    }
}

/// Why `/sys/bus/pci/devices/ADDR/iommu_group` gives no group number, in the words libvirt's
/// reader would meet: the error reading the link, or its unusable text; `None` when it gives
/// one.
fn iommu_group_problem(root: &fsroot::Root, address: PciAddress) -> Option<String> {
    let link = match root.read_link(format!("{}/{address}/iommu_group", pci::DEVICES_DIR)) {
        Ok(link) => link,
        Err(e) => return Some(e.to_string()),
    };
    let group = link
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<u32>().ok());
    match group {
        Some(_) => None,
        None => Some(format!("link text {}", link.display())),
    }
}

/// Memory per NUMA node from `/sys/devices/system/node/node*/meminfo`, in bytes; `None` when
/// the node directory cannot be listed. A node whose `meminfo` cannot be read is left out.
pub fn read_numa_memory(root: &fsroot::Root) -> Option<BTreeMap<u32, u64>> {
    read_numa_memory_at(root, Path::new("/sys/devices/system/node"))
}

/// [`read_numa_memory`] from the node directory at `dir` (a sosreport keeps it under its top
/// directory).
pub fn read_numa_memory_at(root: &fsroot::Root, dir: &Path) -> Option<BTreeMap<u32, u64>> {
    let names = root.read_dir(dir).ok()?;
    let mut nodes = BTreeMap::new();
    for name in names {
        let Some(id) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(total) = root
            .read_text(dir.join(&name).join("meminfo"))
            .ok()
            .as_deref()
            .and_then(node_mem_total)
        {
            nodes.insert(id, total);
        }
    }
    Some(nodes)
}

/// The NVIDIA driver's `numa_status` per GPU address (the directory names), when the driver
/// is loaded.
pub fn read_numa_status(root: &fsroot::Root) -> BTreeMap<String, NumaStatus> {
    let dir = "/proc/driver/nvidia/gpus";
    let mut out = BTreeMap::new();
    for address in root.read_dir(dir).unwrap_or_default() {
        if let Ok(text) = root.read_text(format!("{dir}/{address}/numa_status")) {
            out.insert(address, NumaStatus::parse(&text));
        }
    }
    out
}

fn read_trimmed(root: &fsroot::Root, path: &str) -> Option<String> {
    root.read_attr_text(path).ok().filter(|s| !s.is_empty())
}

/// The domains `D` for which `/sys/devices/pciDDDD:00` exists (a link followed, as
/// `Root::exists` follows it).
fn probed_domains(root: &fsroot::Root) -> BTreeSet<u32> {
    root.read_dir("/sys/devices")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let bus = pci::BusAddress::from_root_dir_name(&name).ok()?;
            // The name the join asks for is the canonical `{:04x}` form.
            let canonical = format!("/sys/devices/pci{bus}");
            (bus.bus == 0 && root.exists(&canonical)).then_some(bus.domain)
        })
        .collect()
}
