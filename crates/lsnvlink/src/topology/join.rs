//! The join itself: PCI devices ↔ device-tree nodes through `of_node`, then the phandles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use devtree::power9::Power9Node;
use devtree::power9::names::IBM_NVLINK_PEERS;
use devtree::{Node, NodeId, Tree};
use pci::{Device, Names, Pci, PciAddress};

use super::host::{Firmware, KernelNvlink2, KernelVersion};
use super::nv2;
use super::{
    Bridge, CpuLink, DEVICE_NPU2_BRIDGE, Diagnostic, Gpu, GpuLink, GpuMemory, IommuGrouping, Npu,
    NpuEntry, Nvlink2Kernel, Platform, Topology, VENDOR_IBM, VENDOR_NVIDIA, Wiring,
};
use crate::facts::{HostFacts, NvlinkStates};

/// Where Linux reads the NUMA reference points on powernv (open-power/skiboot
/// `core/affinity.c` writes `<4 ref2 2>` there).
const REFERENCE_POINTS: &str = "/ibm,opal/ibm,associativity-reference-points";

/// The associativity domain Linux takes as the NUMA node on powernv when the reference
/// points cannot be read (skiboot `core/affinity.c`: the first reference point is 4).
const DEFAULT_REFERENCE_POINT: u32 = 4;
/// The most `ibm,npu` entries read from a GPU's node. A V100 has six NVLink bricks, so a real
/// list names at most six bridges; a longer one is cut (with a problem on the GPU) so that a
/// hostile tree cannot make the join keep a path per entry (a 4 MiB list is a million).
const MAX_NPU_ENTRIES: usize = 64;

fn is_gpu(d: &Device) -> bool {
    d.vendor_id == Some(VENDOR_NVIDIA) && d.class.is_some_and(|c| c.base() == 0x03)
}

fn is_bridge_ids(d: &Device) -> bool {
    d.vendor_id == Some(VENDOR_IBM) && d.device_id == Some(DEVICE_NPU2_BRIDGE)
}

/// The nearest `ibm,chip-id` on the node or an ancestor.
fn chip_of(node: Node<'_, '_>) -> Option<u32> {
    let mut cur = Some(node);
    while let Some(n) = cur {
        if let Ok(id) = n.chip_id() {
            return Some(id);
        }
        cur = n.parent();
    }
    None
}

/// The PCI address a device-tree PCI node describes: the domain of the nearest ancestor with
/// `ibm,opal-phbid` (`<0 id>`, skiboot `core/pci.c` `pci_register_phb`), bus, device and
/// function from the first `reg` cell (`bdfn << 8`, IEEE 1275 PCI binding).
pub(crate) fn dt_pci_address(node: Node<'_, '_>) -> Option<PciAddress> {
    let hi = *node.cells("reg").ok()?.first()?;
    let mut cur = node.parent();
    let domain = loop {
        let n = cur?;
        if let Ok(id) = n.cells("ibm,opal-phbid") {
            // `<0 id>`: the id is the last cell; more than 32 bits is not a Linux domain.
            let (&last, rest) = id.split_last()?;
            if rest.iter().any(|&c| c != 0) {
                return None;
            }
            break last;
        }
        cur = n.parent();
    };
    let bus = ((hi >> 16) & 0xff) as u8;
    let device = ((hi >> 11) & 0x1f) as u8;
    let function = ((hi >> 8) & 0x7) as u8;
    PciAddress::new(domain, bus, device, function)
}

/// Whether a device-tree node is an NVLink bridge node: skiboot gives every one `ibm,nvlink`
/// (its link), and `ibm,gpu` when its GPU slot is populated (`hw/npu2.c` `npu2_dn_fixup`).
fn is_bridge_node(node: Node<'_, '_>) -> bool {
    node.property(devtree::power9::names::IBM_NVLINK).is_some()
        || node.property(devtree::power9::names::IBM_GPU).is_some()
}

pub(super) fn from_facts(facts: &HostFacts, names: &Names) -> Topology {
    let pci = &facts.pci;
    let mut notes: Vec<Diagnostic> = pci.notes.iter().cloned().map(Diagnostic::PciWalk).collect();
    notes.extend(facts.notes.iter().cloned().map(Diagnostic::Input));
    let tree = facts.device_tree.as_ref();
    let kernel = facts.kernel_release.clone();
    let mut platform = Platform {
        hostname: facts.hostname.clone(),
        kernel_version: kernel.as_deref().and_then(KernelVersion::parse),
        kernel,
        device_tree: tree.is_some(),
        numa_memory: facts.numa_memory.clone(),
        ..Platform::default()
    };
    if let (Some(k), None) = (&platform.kernel, platform.kernel_version) {
        notes.push(Diagnostic::KernelVersionUnparsed { release: k.clone() });
    }
    let numa_status = &facts.numa_status;
    let mut topology = match tree {
        Some(tree) => {
            platform.model = tree.root().string("model").ok().map(str::to_owned);
            platform.compatible = tree
                .root()
                .strings("compatible")
                .map(|v| v.into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            platform.firmware = Firmware::from_tree(tree);
            let mut joiner = Joiner::new(facts, tree, names, &mut notes);
            joiner.numa_memory = platform.numa_memory.as_ref();
            joiner.run()
        }
        None => Topology {
            gpus: pci
                .devices
                .iter()
                .filter(|d| is_gpu(d))
                .map(|d| plain_gpu(d, names))
                .collect(),
            bridges: pci
                .devices
                .iter()
                .filter(|d| is_bridge_ids(d))
                .map(|d| {
                    let mut b = plain_bridge(facts, d);
                    b.problems.push(Diagnostic::NoDeviceTree);
                    b
                })
                .collect(),
            ..Topology::default()
        },
    };
    for g in &mut topology.gpus {
        g.numa_status = numa_status.get(&g.address.to_string()).cloned();
    }
    platform.iommu_grouping = iommu_grouping(&topology);
    platform.nvlink2_kernel = nvlink2_kernel(facts, &topology, &platform);
    topology.platform = platform;
    if let Some(states) = &facts.nvlink_states {
        link_states(&mut topology, states, &mut notes);
    }
    topology.notes.extend(notes);
    super::diagnostic::sort_by_text(&mut topology.notes);
    topology
}

/// Gives each GPU the NVLink states `nvidia-smi` reported for it, matched by `nvidia-smi`'s
/// GPU numbering.
fn link_states(topology: &mut Topology, states: &NvlinkStates, notes: &mut Vec<Diagnostic>) {
    let order: Vec<PciAddress> = if states.order.is_empty() {
        topology
            .gpus
            .iter()
            .filter(|g| g.vendor_id == Some(VENDOR_NVIDIA))
            .map(|g| g.address)
            .collect()
    } else {
        states.order.clone()
    };
    for (index, links) in &states.states {
        let gpu = usize::try_from(*index)
            .ok()
            .and_then(|i| order.get(i))
            .and_then(|a| topology.gpus.iter_mut().find(|g| g.address == *a));
        match gpu {
            Some(g) => g.link_states.clone_from(links),
            None => {
                notes.push(Diagnostic::LinkStatesUnmatched { gpu: *index });
            }
        }
    }
}

/// A GPU slot as told from a bridge: chip and `ibm,npu-group-id`, else the bridge's GPU.
type SlotKey = (Option<u32>, Option<u32>, Option<PciAddress>);

/// How the groups join GPUs and bridges: a group holding more than one GPU, or the bridges
/// of more than one GPU slot, looks per NPU; one that joins a GPU with its own bridges only
/// looks per GPU. The majority of the groups holding a GPU decides (ties: per NPU), so that
/// one misplaced function does not turn a host's verdict.
fn iommu_grouping(t: &Topology) -> Option<IommuGrouping> {
    let mut slots: BTreeMap<u32, BTreeSet<SlotKey>> = BTreeMap::new();
    let mut gpus: BTreeMap<u32, BTreeSet<PciAddress>> = BTreeMap::new();
    for b in t.bridges_on_bus() {
        if let Some(group) = b.iommu_group {
            // A GPU slot: chip and `ibm,npu-group-id`, else the bridge's GPU.
            let key = match (b.chip_id, b.group_id) {
                (Some(c), Some(g)) => (Some(c), Some(g), None),
                _ => (None, None, b.gpu),
            };
            slots.entry(group).or_default().insert(key);
        }
    }
    for g in t.nvlink2_gpus() {
        if let Some(group) = g.iommu_group {
            gpus.entry(group).or_default().insert(g.address);
        }
    }
    let (mut per_npu, mut per_gpu) = (0usize, 0usize);
    for (group, members) in &gpus {
        let Some(bridge_slots) = slots.get(group) else {
            continue;
        };
        if members.len() > 1 || bridge_slots.len() > 1 {
            per_npu += 1;
        } else {
            per_gpu += 1;
        }
    }
    match (per_npu, per_gpu) {
        (0, 0) => None,
        (n, g) if n >= g => Some(IommuGrouping::PerNpu),
        _ => Some(IommuGrouping::PerGpu),
    }
}

/// What the running kernel does with NVLink2: from its version, the groups (a per-NPU grouping
/// on a kernel that says it is older than 5.0 is a distribution backport), and the bus (bridges
/// in the device tree, none on the bus and no probed NPU PHB: the kernel does not probe them).
fn nvlink2_kernel(facts: &HostFacts, t: &Topology, p: &Platform) -> Option<Nvlink2Kernel> {
    if t.bridges.is_empty() && !t.gpus.iter().any(Gpu::is_nvlink2) {
        return None;
    }
    let by_version = p.kernel_version.map(KernelVersion::nvlink2);
    if by_version == Some(KernelNvlink2::Removed) {
        return Some(Nvlink2Kernel::Unsupported { by_version: true });
    }
    let dt_bridges = t.bridges.iter().any(|b| !b.on_bus);
    if dt_bridges && t.bridges_on_bus().next().is_none() {
        // A probed PHB keeps its root bus directory (`/sys/devices/pciDDDD:00`) when its
        // functions are removed (EEH, a manual remove); an unprobed one has none.
        let domains: BTreeSet<u32> = t.bridges.iter().map(|b| b.address.domain()).collect();
        let probed = domains.iter().any(|d| facts.probed_domains.contains(d));
        if !probed {
            return Some(Nvlink2Kernel::Unsupported { by_version: false });
        }
    }
    match by_version? {
        KernelNvlink2::NoVfio if p.iommu_grouping == Some(IommuGrouping::PerNpu) => {
            Some(Nvlink2Kernel::Vfio {
                atsd_fallback: false,
                backport: true,
            })
        }
        KernelNvlink2::NoVfio => Some(Nvlink2Kernel::NoVfio),
        KernelNvlink2::Vfio { atsd_fallback } => Some(Nvlink2Kernel::Vfio {
            atsd_fallback,
            backport: false,
        }),
        KernelNvlink2::Removed => Some(Nvlink2Kernel::Unsupported { by_version: true }),
    }
}

fn plain_gpu(d: &Device, names: &Names) -> Gpu {
    let name = match (d.vendor_id, d.device_id) {
        (Some(v), Some(id)) => names
            .device(v, id)
            .map_or_else(|| format!("Device {id:04x}"), str::to_owned),
        _ => "Device".to_owned(),
    };
    Gpu {
        address: d.address,
        vendor_id: d.vendor_id,
        device_id: d.device_id,
        name,
        slot: d.slot.clone(),
        chip_id: None,
        numa_node: d.numa_node,
        driver: d.driver.clone(),
        iommu_group: d.iommu_group,
        dt_path: d.of_node.clone(),
        pci_parent: d.parent,
        npu: None,
        memory: None,
        cpu_links: Vec::new(),
        gpu_links: Vec::new(),
        vfio: Vec::new(),
        numa_status: None,
        link_states: Vec::new(),
        problems: d
            .errors
            .iter()
            .cloned()
            .map(Diagnostic::PciAttribute)
            .collect(),
    }
}

/// A bridge at `address` with nothing joined yet.
fn bare_bridge(address: PciAddress, on_bus: bool) -> Bridge {
    Bridge {
        address,
        on_bus,
        gpu: None,
        has_gpu_property: false,
        slot: None,
        dt_path: None,
        link_index: None,
        group_id: None,
        chip_id: None,
        speed: None,
        tgt_addr: None,
        atsd: None,
        libvirt: nv2::LibvirtCheck::default(),
        vfio: Vec::new(),
        driver: None,
        iommu_group: None,
        problems: Vec::new(),
    }
}

fn plain_bridge(facts: &HostFacts, d: &Device) -> Bridge {
    Bridge {
        dt_path: d.of_node.clone(),
        libvirt: facts.libvirt_nv2(d.address),
        driver: d.driver.clone(),
        iommu_group: d.iommu_group,
        problems: d
            .errors
            .iter()
            .cloned()
            .map(Diagnostic::PciAttribute)
            .collect(),
        ..bare_bridge(d.address, true)
    }
}

struct Joiner<'r, 't, 'a> {
    facts: &'r HostFacts,
    pci: &'r Pci,
    tree: &'t Tree<'a>,
    names: &'r Names,
    notes: &'r mut Vec<Diagnostic>,
    /// Device-tree node → the PCI function whose `of_node` it is.
    by_node: HashMap<NodeId, PciAddress>,
    /// PCI function → its device-tree node.
    node_of: HashMap<PciAddress, Node<'t, 'a>>,
    /// Bridge node (on the bus or in the device tree alone) → its bridge's address.
    bridge_at: HashMap<NodeId, PciAddress>,
    /// Memory per NUMA node, for the GPU memory really onlined.
    numa_memory: Option<&'r BTreeMap<u32, u64>>,
}

impl<'r, 't, 'a> Joiner<'r, 't, 'a> {
    fn new(
        facts: &'r HostFacts,
        tree: &'t Tree<'a>,
        names: &'r Names,
        notes: &'r mut Vec<Diagnostic>,
    ) -> Self {
        let pci = &facts.pci;
        let mut by_node = HashMap::new();
        let mut node_of = HashMap::new();
        for d in &pci.devices {
            let Some(path) = &d.of_node else { continue };
            match tree.find(path) {
                Some(node) => {
                    by_node.entry(node.id()).or_insert(d.address);
                    node_of.insert(d.address, node);
                }
                None => {
                    if is_gpu(d) || is_bridge_ids(d) {
                        notes.push(Diagnostic::OfNodeNotInTree {
                            address: d.address,
                            of_node: path.clone(),
                        });
                    }
                }
            }
        }
        Joiner {
            facts,
            pci,
            tree,
            names,
            notes,
            by_node,
            node_of,
            bridge_at: HashMap::new(),
            numa_memory: None,
        }
    }

    fn address_of(&self, node: Node<'_, '_>) -> Option<PciAddress> {
        self.by_node.get(&node.id()).copied()
    }

    fn run(mut self) -> Topology {
        // GPUs: NVIDIA display-class functions, and any function whose node has `ibm,npu`.
        let gpu_devices: Vec<&Device> = self
            .pci
            .devices
            .iter()
            .filter(|d| {
                is_gpu(d)
                    || self
                        .node_of
                        .get(&d.address)
                        .is_some_and(|n| n.property(devtree::power9::names::IBM_NPU).is_some())
            })
            .collect();
        let bridge_devices: Vec<&Device> = self
            .pci
            .devices
            .iter()
            .filter(|d| {
                is_bridge_ids(d)
                    || self
                        .node_of
                        .get(&d.address)
                        .is_some_and(|n| n.property(devtree::power9::names::IBM_GPU).is_some())
            })
            .collect();

        let mut bridges: Vec<Bridge> = bridge_devices.iter().map(|d| self.bridge(d)).collect();
        for b in &bridges {
            if let Some(node) = self.node_of.get(&b.address) {
                self.bridge_at.insert(node.id(), b.address);
            }
        }
        // Bridge nodes no function on the bus has: the kernel did not probe their NPU
        // (5.13+), or removed their PE.
        let tree = self.tree;
        let on_bus: BTreeSet<PciAddress> = self.pci.devices.iter().map(|d| d.address).collect();
        for node in tree.nodes().filter(|n| is_bridge_node(*n)) {
            if self.by_node.contains_key(&node.id()) || self.bridge_at.contains_key(&node.id()) {
                continue;
            }
            let Some(address) = dt_pci_address(node) else {
                self.notes
                    .push(Diagnostic::BridgeNodeWithoutAddress { node: node.path() });
                continue;
            };
            if on_bus.contains(&address) {
                self.notes.push(Diagnostic::BridgeAddressTaken {
                    node: node.path(),
                    address,
                });
                continue;
            }
            self.bridge_at.insert(node.id(), address);
            bridges.push(self.dt_bridge(node, address));
        }
        bridges.sort_by_key(|b| b.address);
        bridges.dedup_by_key(|b| b.address);
        let wiring = self.wiring();
        let mut gpus: Vec<Gpu> = gpu_devices.iter().map(|d| self.gpu(d, &bridges)).collect();
        self.gpu_links(&mut gpus, &bridges, wiring);
        let npus = self.npus(&bridges);
        Topology {
            platform: Platform::default(),
            gpus,
            bridges,
            npus,
            wiring,
            notes: Vec::new(),
        }
    }

    fn bridge(&mut self, d: &Device) -> Bridge {
        let mut b = plain_bridge(self.facts, d);
        let Some(node) = self.node_of.get(&d.address).copied() else {
            if d.of_node.is_none() {
                b.problems.push(Diagnostic::NoOfNode);
            }
            return b;
        };
        self.fill_bridge(&mut b, node);
        b
    }

    /// A bridge known from its device-tree node alone.
    fn dt_bridge(&mut self, node: Node<'t, 'a>, address: PciAddress) -> Bridge {
        let mut b = Bridge {
            dt_path: Some(node.path()),
            ..bare_bridge(address, false)
        };
        self.fill_bridge(&mut b, node);
        b
    }

    fn fill_bridge(&mut self, b: &mut Bridge, node: Node<'t, 'a>) {
        b.has_gpu_property = node.property(devtree::power9::names::IBM_GPU).is_some();
        b.slot = node.loc_code().ok().map(str::to_owned);
        match node.nvlink_gpu() {
            Ok(gpu) => {
                b.gpu = self.address_of(gpu);
                if b.gpu.is_none() {
                    b.problems
                        .push(Diagnostic::GpuNotOnBus { node: gpu.path() });
                }
            }
            // No `ibm,gpu`: an empty GPU slot (the audit says so), not a problem.
            Err(e) if e.is_missing() => {}
            Err(e) => b.problems.push(Diagnostic::Property(e)),
        }
        match node.nvlink_links() {
            Ok(links) => match links.first() {
                Some(link) => {
                    b.link_index = link.npu_link_index().ok();
                    b.group_id = link.npu_group_id().ok();
                    b.chip_id = chip_of(*link);
                }
                None => b
                    .problems
                    .push(Diagnostic::EmptyNvlink { node: node.path() }),
            },
            Err(e) => b.problems.push(Diagnostic::Property(e)),
        }
        if b.chip_id.is_none() {
            b.chip_id = chip_of(node);
        }
        b.speed = node.nvlink_speed().ok();
        b.tgt_addr = node.device_tgt_addr().ok();
        b.atsd = node.nvlink_atsd().ok().flatten();
        b.vfio = nv2::vfio_bridge(&node);
    }

    fn gpu(&mut self, d: &Device, bridges: &[Bridge]) -> Gpu {
        let mut g = plain_gpu(d, self.names);
        let Some(node) = self.node_of.get(&d.address).copied() else {
            g.cpu_links = bridges
                .iter()
                .filter(|b| b.gpu == Some(d.address))
                .map(cpu_link)
                .collect();
            return g;
        };
        g.slot = node.loc_code().ok().map(str::to_owned).or(g.slot);
        g.vfio = nv2::vfio_gpu(&node);
        g.chip_id = chip_of(node);
        // The bridge nodes, in `ibm,npu` order (the order vfio and npu-dma index them by).
        let mut bridge_nodes: Vec<Node<'t, 'a>> = Vec::new();
        match node.phandles_prop(devtree::power9::names::IBM_NPU) {
            Ok(phandles) => {
                if phandles.len() > MAX_NPU_ENTRIES {
                    g.problems.push(Diagnostic::NpuTruncated {
                        node: node.path(),
                        listed: phandles.len(),
                        read: MAX_NPU_ENTRIES,
                    });
                }
                let mut entries = Vec::with_capacity(phandles.len().min(MAX_NPU_ENTRIES));
                for ph in phandles.into_iter().take(MAX_NPU_ENTRIES) {
                    let target = self.tree.by_phandle(ph);
                    if target.is_none() {
                        g.problems.push(Diagnostic::DanglingPhandle {
                            node: node.path(),
                            property: devtree::power9::names::IBM_NPU,
                            phandle: ph,
                        });
                    }
                    if let Some(t) = target {
                        bridge_nodes.push(t);
                    }
                    entries.push(NpuEntry {
                        dt_path: target.map(|t| t.path()),
                        bridge: target.and_then(|t| self.address_of(t)),
                    });
                }
                g.npu = Some(entries);
            }
            Err(e) if e.is_missing() => {}
            Err(e) => {
                g.problems.push(Diagnostic::Property(e));
                g.npu = Some(Vec::new());
            }
        }
        // Its bridges: listed in `ibm,npu` (on the bus or not), or naming this GPU in
        // `ibm,gpu`.
        let listed: BTreeSet<PciAddress> = bridge_nodes
            .iter()
            .filter_map(|n| self.bridge_at.get(&n.id()).copied())
            .collect();
        g.cpu_links = bridges
            .iter()
            .filter(|b| listed.contains(&b.address) || b.gpu == Some(d.address))
            .map(cpu_link)
            .collect();
        if g.chip_id.is_none() {
            g.chip_id = bridges
                .iter()
                .find(|b| b.gpu == Some(d.address))
                .and_then(|b| b.chip_id);
        }
        // Bridges naming this GPU whose nodes `ibm,npu` does not list.
        if bridge_nodes.is_empty() {
            for b in bridges.iter().filter(|b| b.gpu == Some(d.address)) {
                if let Some(n) = self.node_of.get(&b.address) {
                    bridge_nodes.push(*n);
                }
            }
        }
        if !bridge_nodes.is_empty() {
            g.memory = Some(self.memory(&bridge_nodes));
        }
        g
    }

    /// The GPU's memory from the first bridge node that has a readable `memory-region` (vfio
    /// reads `ibm,npu[0]`'s; the others carry the same value).
    fn memory(&self, bridge_nodes: &[Node<'t, 'a>]) -> Result<GpuMemory, String> {
        let mut first_error = None;
        for bridge in bridge_nodes {
            let region = bridge.gpu_memory().and_then(|mem| {
                let range = bridge.gpu_memory_range()?;
                Ok((mem, range))
            });
            match region {
                Ok((mem, range)) => {
                    let (Ok(base), Ok(size)) =
                        (u64::try_from(range.address), u64::try_from(range.size))
                    else {
                        first_error.get_or_insert_with(|| {
                            format!("{}: reg does not fit 64 bits", mem.path())
                        });
                        continue;
                    };
                    let numa_node = self.numa_of_memory(mem);
                    // A node with no memory online has no meminfo (or no directory at all).
                    let online_bytes = numa_node
                        .and_then(|n| self.numa_memory.map(|m| m.get(&n).copied().unwrap_or(0)));
                    return Ok(GpuMemory {
                        base,
                        size,
                        online_bytes,
                        numa_node,
                        tgt_addr: bridge.device_tgt_addr().ok(),
                        dt_path: mem.path(),
                    });
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        Err(first_error.unwrap_or_else(|| "no NVLink bridge node".to_owned()))
    }

    fn numa_of_memory(&self, mem: Node<'_, '_>) -> Option<u32> {
        let point = self
            .tree
            .find(REFERENCE_POINTS)
            .and_then(|n| n.cells("ibm,associativity-reference-points").ok())
            .and_then(|c| c.first().copied())
            .unwrap_or(DEFAULT_REFERENCE_POINT);
        mem.associativity()
            .ok()
            .and_then(|a| a.domain(point))
            .or_else(|| mem.chip_id().ok())
    }

    /// The highest `ibm,npu-group-id` over every NVLink link node.
    fn wiring(&self) -> Option<Wiring> {
        self.tree
            .nodes()
            .filter(|n| n.is_compatible("ibm,npu-link"))
            .filter_map(|n| n.npu_group_id().ok())
            .max()
            .map(Wiring::from_max_group_id)
    }

    fn gpu_links(&mut self, gpus: &mut [Gpu], bridges: &[Bridge], wiring: Option<Wiring>) {
        let known: BTreeSet<PciAddress> = gpus.iter().map(|g| g.address).collect();
        // With empty GPU slots, skiboot still writes a peers entry per link: those naming the
        // absent GPU hold 0 or a stray value (`witherspoon.c` `npu2_phb_nvlink_dt` has no
        // NULL check), so they are skipped, not reported.
        let empty_slots = bridges.iter().any(|b| !b.has_gpu_property);
        let mut skipped = 0usize;
        let mut inferred_for = Vec::new();
        for g in gpus.iter_mut() {
            let Some(node) = self.node_of.get(&g.address).copied() else {
                continue;
            };
            match node.phandles_prop(IBM_NVLINK_PEERS) {
                Ok(peers) => {
                    let mut counts: BTreeMap<PciAddress, u32> = BTreeMap::new();
                    for ph in peers {
                        let Some(peer) = self.tree.by_phandle(ph) else {
                            if empty_slots {
                                skipped += 1;
                                continue;
                            }
                            g.problems.push(Diagnostic::DanglingPhandle {
                                node: node.path(),
                                property: IBM_NVLINK_PEERS,
                                phandle: ph,
                            });
                            continue;
                        };
                        // Entries naming an NVLink bridge are the GPU's CPU links.
                        if peer.property(devtree::power9::names::IBM_GPU).is_some() {
                            continue;
                        }
                        match self.address_of(peer) {
                            Some(a) if known.contains(&a) && a != g.address => {
                                *counts.entry(a).or_default() += 1;
                            }
                            Some(_) => {}
                            None if empty_slots => skipped += 1,
                            None => g
                                .problems
                                .push(Diagnostic::PeerNotOnBus { node: peer.path() }),
                        }
                    }
                    g.gpu_links = counts
                        .into_iter()
                        .map(|(peer, count)| GpuLink {
                            peer,
                            count,
                            inferred: false,
                        })
                        .collect();
                }
                Err(e) if e.is_missing() => {
                    if g.is_nvlink2() {
                        inferred_for.push(g.address);
                    }
                }
                Err(e) => g.problems.push(Diagnostic::Property(e)),
            }
        }
        if skipped > 0 {
            self.notes
                .push(Diagnostic::NvlinkPeersSkipped { entries: skipped });
        }
        if inferred_for.is_empty() {
            return;
        }
        let per_pair = wiring.and_then(Wiring::links_per_gpu_pair);
        let Some(count) = per_pair else {
            self.notes.push(Diagnostic::GpuLinksUnknown {
                wiring: wiring.map(Wiring::label),
            });
            return;
        };
        let sockets: Vec<(PciAddress, Option<u32>, bool)> = gpus
            .iter()
            .map(|g| (g.address, g.chip_id, g.is_nvlink2()))
            .collect();
        for g in gpus.iter_mut() {
            if !inferred_for.contains(&g.address) {
                continue;
            }
            let Some(chip) = g.chip_id else {
                g.problems.push(Diagnostic::ChipUnknown);
                continue;
            };
            g.gpu_links = sockets
                .iter()
                .filter(|(a, c, nv)| *a != g.address && *c == Some(chip) && *nv)
                .map(|(peer, _, _)| GpuLink {
                    peer: *peer,
                    count,
                    inferred: true,
                })
                .collect();
        }
    }

    fn npus(&self, bridges: &[Bridge]) -> Vec<Npu> {
        let mut by_domain: BTreeMap<u32, Npu> = BTreeMap::new();
        let nodes: HashMap<PciAddress, NodeId> =
            self.bridge_at.iter().map(|(n, a)| (*a, *n)).collect();
        for b in bridges {
            let Some(node) = nodes.get(&b.address).and_then(|id| self.tree.node(*id)) else {
                continue;
            };
            let Some(phb) = node.parent() else { continue };
            by_domain.entry(b.address.domain()).or_insert_with(|| Npu {
                domain: b.address.domain(),
                dt_path: phb.path(),
                chip_id: phb.chip_id().ok(),
                links: phb.u32("ibm,links").ok(),
                atsd: phb.mmio_atsd().unwrap_or_default(),
            });
        }
        by_domain.into_values().collect()
    }
}

fn cpu_link(b: &Bridge) -> CpuLink {
    CpuLink {
        bridge: b.address,
        on_bus: b.on_bus,
        link_index: b.link_index,
        speed: b.speed,
    }
}
