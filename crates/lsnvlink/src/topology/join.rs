//! The join itself: PCI devices ↔ device-tree nodes through `of_node`, then the phandles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use devtree::nvlink::names::IBM_NVLINK_PEERS;
use devtree::{Node, NodeId, Tree};
use pci::{ConfigRead, Device, Fields, Names, Pci, PciAddress};

use super::nv2;
use super::{
    Bridge, CpuLink, DEVICE_NPU2_BRIDGE, Gpu, GpuLink, GpuMemory, Npu, NpuEntry, Platform,
    Topology, TopologyError, VENDOR_IBM, VENDOR_NVIDIA, Wiring,
};

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

fn read_trimmed(root: &fsroot::Root, path: &str) -> Option<String> {
    root.read_attr_text(path).ok().filter(|s| !s.is_empty())
}

pub(super) fn read(root: &fsroot::Root, names: &Names) -> Result<Topology, TopologyError> {
    let mut fields = Fields::all();
    // Nothing here needs configuration space; reading it costs config cycles on a live host.
    fields.config = ConfigRead::Fallback;
    fields.subsystem = false;
    fields.devspec = false;
    let pci = Pci::read(root, &fields)?;
    let mut notes = BTreeSet::new();
    for note in &pci.notes {
        notes.insert(format!("PCI: {note}"));
    }
    let tree = match Tree::from_proc(root) {
        Ok(tree) => Some(tree),
        Err(devtree::DirError::Top { source, .. }) if source.is_not_found() => None,
        Err(e) => {
            notes.insert(format!("device tree: {e}"));
            None
        }
    };
    let mut platform = Platform {
        hostname: read_trimmed(root, "/proc/sys/kernel/hostname"),
        kernel: read_trimmed(root, "/proc/sys/kernel/osrelease"),
        device_tree: tree.is_some(),
        ..Platform::default()
    };
    let mut topology = match &tree {
        Some(tree) => {
            platform.model = tree.root().string("model").ok().map(str::to_owned);
            platform.compatible = tree
                .root()
                .strings("compatible")
                .map(|v| v.into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            Joiner::new(root, &pci, tree, names, &mut notes).run()
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
                    let mut b = plain_bridge(root, d);
                    b.problems
                        .push("no device tree: nothing joins it to a GPU".to_owned());
                    b
                })
                .collect(),
            ..Topology::default()
        },
    };
    topology.platform = platform;
    topology.notes.extend(notes);
    Ok(topology)
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
        problems: d.errors.iter().map(ToString::to_string).collect(),
    }
}

fn plain_bridge(root: &fsroot::Root, d: &Device) -> Bridge {
    Bridge {
        address: d.address,
        gpu: None,
        dt_path: d.of_node.clone(),
        link_index: None,
        group_id: None,
        chip_id: None,
        speed: None,
        tgt_addr: None,
        atsd: None,
        libvirt: nv2::libvirt_nv2_bridge(root, d.address),
        vfio: Vec::new(),
        driver: d.driver.clone(),
        iommu_group: d.iommu_group,
        problems: d.errors.iter().map(ToString::to_string).collect(),
    }
}

struct Joiner<'r, 't, 'a> {
    root: &'r fsroot::Root,
    pci: &'r Pci,
    tree: &'t Tree<'a>,
    names: &'r Names,
    notes: &'r mut BTreeSet<String>,
    /// Device-tree node → the PCI function whose `of_node` it is.
    by_node: HashMap<NodeId, PciAddress>,
    /// PCI function → its device-tree node.
    node_of: HashMap<PciAddress, Node<'t, 'a>>,
}

impl<'r, 't, 'a> Joiner<'r, 't, 'a> {
    fn new(
        root: &'r fsroot::Root,
        pci: &'r Pci,
        tree: &'t Tree<'a>,
        names: &'r Names,
        notes: &'r mut BTreeSet<String>,
    ) -> Self {
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
                        notes.insert(format!(
                            "{}: of_node {path} is not in the device tree",
                            d.address
                        ));
                    }
                }
            }
        }
        Joiner {
            root,
            pci,
            tree,
            names,
            notes,
            by_node,
            node_of,
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
                        .is_some_and(|n| n.property(devtree::nvlink::names::IBM_NPU).is_some())
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
                        .is_some_and(|n| n.property(devtree::nvlink::names::IBM_GPU).is_some())
            })
            .collect();

        let bridges: Vec<Bridge> = bridge_devices.iter().map(|d| self.bridge(d)).collect();
        let wiring = self.wiring();
        let mut gpus: Vec<Gpu> = gpu_devices.iter().map(|d| self.gpu(d, &bridges)).collect();
        self.gpu_links(&mut gpus, wiring);
        let npus = self.npus();
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
        let mut b = plain_bridge(self.root, d);
        let Some(node) = self.node_of.get(&d.address).copied() else {
            if d.of_node.is_none() {
                b.problems
                    .push("no of_node link: nothing joins it to a GPU".to_owned());
            }
            return b;
        };
        match node.nvlink_gpu() {
            Ok(gpu) => {
                b.gpu = self.address_of(gpu);
                if b.gpu.is_none() {
                    b.problems.push(format!(
                        "its GPU {} (ibm,gpu) is not on the PCI bus",
                        gpu.path()
                    ));
                }
            }
            Err(e) => b.problems.push(e.to_string()),
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
                    .push(format!("{}: property \"ibm,nvlink\": empty", node.path())),
            },
            Err(e) => b.problems.push(e.to_string()),
        }
        if b.chip_id.is_none() {
            b.chip_id = chip_of(node);
        }
        b.speed = node.nvlink_speed().ok();
        b.tgt_addr = node.device_tgt_addr().ok();
        b.atsd = node.nvlink_atsd().ok().flatten();
        b.vfio = nv2::vfio_bridge(&node);
        b
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
        match node.phandles_prop(devtree::nvlink::names::IBM_NPU) {
            Ok(phandles) => {
                if phandles.len() > MAX_NPU_ENTRIES {
                    g.problems.push(format!(
                        "{}: property \"ibm,npu\" lists {} phandles; only the first \
                         {MAX_NPU_ENTRIES} are read",
                        node.path(),
                        phandles.len()
                    ));
                }
                let mut entries = Vec::with_capacity(phandles.len().min(MAX_NPU_ENTRIES));
                for ph in phandles.into_iter().take(MAX_NPU_ENTRIES) {
                    let target = self.tree.by_phandle(ph);
                    if target.is_none() {
                        g.problems.push(format!(
                            "{}: property \"ibm,npu\": phandle {ph} does not name any node",
                            node.path()
                        ));
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
                g.problems.push(e.to_string());
                g.npu = Some(Vec::new());
            }
        }
        // Present bridges: listed in `ibm,npu`, or naming this GPU in `ibm,gpu`.
        let listed: BTreeSet<PciAddress> =
            g.npu.iter().flatten().filter_map(|e| e.bridge).collect();
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
                    return Ok(GpuMemory {
                        base,
                        size,
                        numa_node: self.numa_of_memory(mem),
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

    fn gpu_links(&mut self, gpus: &mut [Gpu], wiring: Option<Wiring>) {
        let known: BTreeSet<PciAddress> = gpus.iter().map(|g| g.address).collect();
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
                            g.problems.push(format!(
                                "{}: property \"ibm,nvlink-peers\": phandle {ph} does not name any node",
                                node.path()
                            ));
                            continue;
                        };
                        // Entries naming an NVLink bridge are the GPU's CPU links.
                        if peer.property(devtree::nvlink::names::IBM_GPU).is_some() {
                            continue;
                        }
                        match self.address_of(peer) {
                            Some(a) if known.contains(&a) && a != g.address => {
                                *counts.entry(a).or_default() += 1;
                            }
                            Some(_) => {}
                            None => g.problems.push(format!(
                                "peer GPU {} (ibm,nvlink-peers) is not on the PCI bus",
                                peer.path()
                            )),
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
                Err(e) => g.problems.push(e.to_string()),
            }
        }
        if inferred_for.is_empty() {
            return;
        }
        let per_pair = wiring.and_then(Wiring::links_per_gpu_pair);
        let Some(count) = per_pair else {
            self.notes.insert(format!(
                "GPU-to-GPU links unknown: firmware has no ibm,nvlink-peers and the wiring is {}",
                wiring.map_or("not described (no NVLink link nodes)", Wiring::label)
            ));
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
                g.problems
                    .push("GPU-to-GPU links not inferred: the GPU's chip is unknown".to_owned());
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

    fn npus(&self) -> Vec<Npu> {
        let mut by_domain: BTreeMap<u32, Npu> = BTreeMap::new();
        for d in &self.pci.devices {
            let Some(node) = self.node_of.get(&d.address) else {
                continue;
            };
            if node.property(devtree::nvlink::names::IBM_GPU).is_none() && !is_bridge_ids(d) {
                continue;
            }
            let Some(phb) = node.parent() else { continue };
            by_domain.entry(d.address.domain()).or_insert_with(|| Npu {
                domain: d.address.domain(),
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
        link_index: b.link_index,
        speed: b.speed,
    }
}
