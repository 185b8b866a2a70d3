//! The joined NVLink2 topology: which GPU is wired to which CPU through which NVLink bridges,
//! which GPUs are linked to each other, where each GPU's memory sits, and which driver and
//! IOMMU group each function has.
//!
//! [`Topology::read`] joins the PCI devices ([`pci::Pci`]) and the device tree
//! ([`devtree::Tree`]) through each device's `of_node` link and the phandles between the
//! nodes, following the relations Linux and vfio follow (open-power/skiboot `hw/npu2.c` writes
//! them; torvalds/linux `arch/powerpc/platforms/powernv/npu-dma.c` and
//! `drivers/vfio/pci/vfio_pci_nvlink2.c` read them):
//!
//! ```text
//! GPU ──ibm,npu[i]──▶ NVLink bridge ──ibm,gpu──▶ GPU
//! bridge ──memory-region──▶ /memory@… (reg: base, size; ibm,associativity: NUMA node)
//! bridge ──ibm,nvlink──▶ link@N (ibm,npu-link-index) ──▶ NPU PHB ibm,mmio-atsd[index]
//! GPU ──ibm,nvlink-peers──▶ peer GPUs (or, without it, the Witherspoon wiring)
//! ```
//!
//! Nothing here fails on a partly broken host: what cannot be joined is said in the model
//! (`None`, a [`Diagnostic`] among a GPU's or bridge's problems or the [`Topology::notes`])
//! and the audit
//! ([`crate::audit`]) turns it into findings. Only an unreadable PCI bus is an error.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! let root = fsroot::Root::open(dir.path())?;
//! let topology = lsnvlink::topology::Topology::read(&root, &pci::Names::builtin())?;
//! assert!(!topology.has_nvlink2());
//! assert!(topology.gpus.is_empty());
//! # Ok(()) }
//! ```

mod diagnostic;
pub mod host;
mod join;
pub mod nv2;
mod wiring;

use std::collections::BTreeMap;

use devtree::power9::NvlinkSpeed;
use pci::PciAddress;

pub use diagnostic::Diagnostic;
pub use host::{Firmware, KernelNvlink2, KernelVersion, NumaStatus, SkibootVersion};
pub use wiring::Wiring;

use crate::facts::HostFacts;

pub(crate) use join::dt_pci_address;

/// PCI vendor id of NVIDIA.
pub const VENDOR_NVIDIA: u16 = 0x10de;
/// PCI vendor id of IBM.
pub const VENDOR_IBM: u16 = 0x1014;
/// PCI device id of the POWER9 NPU2 NVLink bridge function (open-power/skiboot `hw/npu2.c`,
/// `npu2_populate_cfg`: vendor/device word `0x04ea1014`).
pub const DEVICE_NPU2_BRIDGE: u16 = 0x04ea;

/// The PCI bus of the host could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// `/sys/bus/pci/devices` cannot be listed.
    #[error(transparent)]
    Pci(#[from] pci::Error),
}

/// The whole joined view of one host.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Topology {
    /// What the host is.
    pub platform: Platform,
    /// NVIDIA GPUs (display/3D class), sorted by address: NVLink2 GPUs and plain PCIe ones.
    pub gpus: Vec<Gpu>,
    /// NVLink bridge functions present on the PCI bus, sorted by address.
    pub bridges: Vec<Bridge>,
    /// NPU PHBs (one per socket), sorted by PCI domain.
    pub npus: Vec<Npu>,
    /// The Witherspoon wiring told from the highest `ibm,npu-group-id`, if there are link
    /// nodes.
    pub wiring: Option<Wiring>,
    /// What could not be read or joined ([`Severity::Info`](crate::audit::Severity::Info)
    /// diagnostics), sorted by their text, each once ([`Topology::add_notes`]).
    pub notes: Vec<Diagnostic>,
}

/// What the host is, from the device tree and `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Platform {
    /// The device tree's `/model` (`8335-GTH`).
    pub model: Option<String>,
    /// The device tree's `/compatible` list (`ibm,powernv`, …, `ibm,witherspoon`).
    pub compatible: Vec<String>,
    /// `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// The kernel's version, parsed from [`Platform::kernel`].
    pub kernel_version: Option<KernelVersion>,
    /// Whether a device tree was found (`/proc/device-tree`).
    pub device_tree: bool,
    /// Firmware levels from the device tree.
    pub firmware: Firmware,
    /// Memory each NUMA node holds (`MemTotal` of `/sys/devices/system/node/nodeN/meminfo`),
    /// in bytes; `None` when the node directory cannot be read.
    pub numa_memory: Option<BTreeMap<u32, u64>>,
    /// How the kernel groups the NVLink2 GPUs and bridges for the IOMMU, told from the groups
    /// themselves (`None`: no group joins a GPU and a bridge).
    pub iommu_grouping: Option<IommuGrouping>,
    /// Whether the running kernel exposes NVLink2, from its version and what the bus shows.
    pub nvlink2_kernel: Option<Nvlink2Kernel>,
}

/// How the IOMMU groups of an NVLink2 host are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IommuGrouping {
    /// One group per NPU: every GPU of a socket and all the NPU's bridges (Linux 5.0–5.12,
    /// `npu-dma.c` `pnv_try_setup_npu_table_group`; RHEL 8's 4.18 by backport).
    PerNpu,
    /// One group per GPU: the GPU and its own bridges (Linux before 5.0, `npu-dma.c`
    /// `pnv_pci_npu_setup_iommu`).
    PerGpu,
}

impl IommuGrouping {
    /// `per-npu`, `per-gpu`.
    pub fn key(self) -> &'static str {
        match self {
            IommuGrouping::PerNpu => "per-npu",
            IommuGrouping::PerGpu => "per-gpu",
        }
    }
}

/// What the running kernel does with the host's NVLink2 hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nvlink2Kernel {
    /// The NPU is probed, vfio has no NVLink2 subdriver (upstream before 5.0, with
    /// per-GPU groups).
    NoVfio,
    /// The NPU is probed and vfio passes NVLink2 GPUs through (5.0–5.12, or a backport read
    /// from the IOMMU groups).
    Vfio {
        /// Whether vfio falls back to `ibm,mmio-atsd[0]` (5.7 and later).
        atsd_fallback: bool,
        /// True when the version says before 5.0 but the groups are per NPU (a distribution
        /// backport).
        backport: bool,
    },
    /// The kernel does not expose NVLink2: 5.13 and later, or no bridge function on the bus
    /// and no sign that one was removed.
    Unsupported {
        /// True when told by the version (5.13+); false when told by the bus alone.
        by_version: bool,
    },
}

impl Nvlink2Kernel {
    /// Whether this kernel exposes the NVLink bridges at all.
    pub fn exposes_bridges(self) -> bool {
        !matches!(self, Nvlink2Kernel::Unsupported { .. })
    }

    /// Whether vfio can pass NVLink2 GPUs through with their memory.
    pub fn can_pass_through(self) -> bool {
        matches!(self, Nvlink2Kernel::Vfio { .. })
    }

    /// `no-vfio`, `vfio`, `unsupported`.
    pub fn key(self) -> &'static str {
        match self {
            Nvlink2Kernel::NoVfio => "no-vfio",
            Nvlink2Kernel::Vfio { .. } => "vfio",
            Nvlink2Kernel::Unsupported { .. } => "unsupported",
        }
    }
}

/// One NVIDIA GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gpu {
    /// Its PCI address.
    pub address: PciAddress,
    /// PCI vendor id.
    pub vendor_id: Option<u16>,
    /// PCI device id.
    pub device_id: Option<u16>,
    /// Device name (`GV100GL [Tesla V100 SXM2 16GB]`), or `Device 1db1` when unnamed.
    pub name: String,
    /// Slot label: the device-tree `ibm,loc-code` (`GPU0`), else the PCI slot.
    pub slot: Option<String>,
    /// Chip (socket) id: `ibm,chip-id` of the GPU's PHB, else of its NPU.
    pub chip_id: Option<u32>,
    /// NUMA node of the GPU's PCI function (`numa_node`).
    pub numa_node: Option<u32>,
    /// Bound driver.
    pub driver: Option<String>,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
    /// Device-tree node path (from `of_node`).
    pub dt_path: Option<String>,
    /// Its parent on the PCI bus (bridge or root bus), for the matrix's `PIX`.
    pub pci_parent: pci::Parent,
    /// The bridges the GPU's `ibm,npu` lists, in order (`None` when it has no `ibm,npu`).
    pub npu: Option<Vec<NpuEntry>>,
    /// Its GPU memory, or why it cannot be told (`None` for a GPU without NVLink bridges).
    pub memory: Option<Result<GpuMemory, String>>,
    /// Its links to the CPU: the NVLink bridge functions present on the bus, by address.
    pub cpu_links: Vec<CpuLink>,
    /// Its links to other GPUs, by peer address.
    pub gpu_links: Vec<GpuLink>,
    /// What the kernel's vfio NVLink2 code needs for this GPU and its device tree lacks
    /// ([`nv2::vfio_gpu`]).
    pub vfio: Vec<nv2::VfioProblem>,
    /// The NVIDIA driver's `numa_status` for this GPU, when the driver is loaded.
    pub numa_status: Option<NumaStatus>,
    /// The NVIDIA driver's NVLink training states (`nvidia-smi nvlink -s`, from a sosreport);
    /// empty when unknown: sysfs and the device tree cannot show them.
    pub link_states: Vec<crate::inputs::nvidia_smi::LinkState>,
    /// What could not be read about this GPU.
    pub problems: Vec<Diagnostic>,
}

impl Gpu {
    /// Whether the GPU is an NVLink2 GPU: it lists NVLink bridges, or a bridge names it.
    pub fn is_nvlink2(&self) -> bool {
        self.npu.as_ref().is_some_and(|n| !n.is_empty()) || !self.cpu_links.is_empty()
    }

    /// Its links to the CPU whose bridge function is on the PCI bus.
    pub fn links_on_bus(&self) -> impl Iterator<Item = &CpuLink> {
        self.cpu_links.iter().filter(|l| l.on_bus)
    }
}

/// One entry of a GPU's `ibm,npu` list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NpuEntry {
    /// The bridge's device-tree path (`None` when the phandle names no node).
    pub dt_path: Option<String>,
    /// The bridge's PCI address, when a function on the bus has that node.
    pub bridge: Option<PciAddress>,
}

/// A GPU's memory, from the bridge's `memory-region` node (vfio reads the first bridge's).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuMemory {
    /// Base address (`reg`, first entry).
    pub base: u64,
    /// Size of the window (`reg`): 128 GiB on an AC922, whatever the GPU carries
    /// (skiboot `hw/phys-map.c`; `hw/npu2.c` passes "the whole aperture").
    pub size: u64,
    /// What the node really holds (`MemTotal` of its NUMA node): 16 or 32 GB once the NVIDIA
    /// driver onlines it, 0 before or with vfio-pci; `None` when unknown.
    pub online_bytes: Option<u64>,
    /// NUMA node: the memory node's `ibm,associativity` at the first reference point, else
    /// its `ibm,chip-id` (255 counting down on an AC922).
    pub numa_node: Option<u32>,
    /// The bridge's `ibm,device-tgt-addr`.
    pub tgt_addr: Option<u64>,
    /// Path of the memory node (`/memory@40000000000`).
    pub dt_path: String,
}

/// One GPU ↔ CPU link: an NVLink bridge of the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CpuLink {
    /// The bridge's PCI address (for a bridge not on the bus, the address its device-tree
    /// node gives: the PHB's `ibm,opal-phbid` and the node's `reg`).
    pub bridge: PciAddress,
    /// Whether the bridge function is on the PCI bus.
    pub on_bus: bool,
    /// The link index in the NPU (`ibm,npu-link-index` of its `ibm,nvlink` node).
    pub link_index: Option<u32>,
    /// The link speed (`ibm,nvlink-speed`).
    pub speed: Option<NvlinkSpeed>,
}

/// GPU ↔ GPU links to one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuLink {
    /// The peer GPU.
    pub peer: PciAddress,
    /// How many links (bonded: `NV#` in the matrix).
    pub count: u32,
    /// True when taken from the Witherspoon wiring because firmware has no
    /// `ibm,nvlink-peers`.
    pub inferred: bool,
}

/// One NVLink bridge (`1014:04ea`): a function on the PCI bus, or a device-tree node whose
/// function the kernel does not show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bridge {
    /// Its PCI address (for a bridge not on the bus, the address its device-tree node gives).
    pub address: PciAddress,
    /// Whether the function is on the PCI bus; false for a bridge known from the device tree
    /// alone.
    pub on_bus: bool,
    /// Its GPU (`ibm,gpu`), when that node is a GPU on the bus.
    pub gpu: Option<PciAddress>,
    /// Whether the node has an `ibm,gpu` property at all (skiboot leaves it out when the
    /// bridge's GPU slot is empty: `hw/npu2.c` `npu2_dn_fixup`).
    pub has_gpu_property: bool,
    /// Its slot (`ibm,loc-code`: `GPU1`), shared by the links of one GPU slot.
    pub slot: Option<String>,
    /// Device-tree node path.
    pub dt_path: Option<String>,
    /// Link index (`ibm,npu-link-index` of its `ibm,nvlink` node).
    pub link_index: Option<u32>,
    /// Group id of the link (`ibm,npu-group-id`): which GPU of the socket.
    pub group_id: Option<u32>,
    /// Chip (socket) of its NPU.
    pub chip_id: Option<u32>,
    /// Link speed (`ibm,nvlink-speed`).
    pub speed: Option<NvlinkSpeed>,
    /// `ibm,device-tgt-addr`.
    pub tgt_addr: Option<u64>,
    /// Its ATSD register: the NPU PHB's `ibm,mmio-atsd[link index]` (`None`: no entry).
    pub atsd: Option<u64>,
    /// libvirt's NV2-bridge test on its `of_node`.
    pub libvirt: nv2::LibvirtCheck,
    /// What the kernel's vfio NPU2 code requires and this bridge lacks.
    pub vfio: Vec<nv2::VfioProblem>,
    /// Bound driver.
    pub driver: Option<String>,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
    /// What could not be read about this bridge.
    pub problems: Vec<Diagnostic>,
}

/// One NPU PHB (`/pciex@6030200000000`): the NVLink side of one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Npu {
    /// Its PCI domain (`0006`, `0007` on an AC922).
    pub domain: u32,
    /// Device-tree path.
    pub dt_path: String,
    /// Chip (socket) id (`ibm,chip-id`).
    pub chip_id: Option<u32>,
    /// Number of links (`ibm,links`).
    pub links: Option<u32>,
    /// ATSD registers (`ibm,mmio-atsd`): 8 since skiboot v6.2, one before, none when absent.
    pub atsd: Vec<u64>,
}

impl Topology {
    /// Adds notes (from another input: an hwloc capture's cross-check) and keeps
    /// [`Topology::notes`] sorted by their text, each once.
    pub fn add_notes(&mut self, notes: impl IntoIterator<Item = Diagnostic>) {
        self.notes.extend(notes);
        diagnostic::sort_by_text(&mut self.notes);
    }

    /// Reads the host under `root` ([`HostFacts::read`]) and joins it; `names` names the
    /// GPUs.
    pub fn read(root: &fsroot::Root, names: &pci::Names) -> Result<Topology, TopologyError> {
        HostFacts::read(root).map(|facts| Topology::from_facts(&facts, names))
    }

    /// Joins a host's facts, whoever read them; `names` names the GPUs. Reads no file.
    pub fn from_facts(facts: &HostFacts, names: &pci::Names) -> Topology {
        join::from_facts(facts, names)
    }

    /// Whether the host has any NVLink2 hardware: an NVLink bridge (function or device-tree
    /// node), or a GPU with NVLink bridges.
    pub fn has_nvlink2(&self) -> bool {
        !self.bridges.is_empty() || self.gpus.iter().any(Gpu::is_nvlink2)
    }

    /// The GPU at `address`.
    pub fn gpu(&self, address: PciAddress) -> Option<&Gpu> {
        self.gpus.iter().find(|g| g.address == address)
    }

    /// The bridge at `address`.
    pub fn bridge(&self, address: PciAddress) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.address == address)
    }

    /// Names the GPUs again from `names` (e.g. the system's `pci.ids` after a read with the
    /// built-in names); GPUs `names` does not know keep their name.
    pub fn rename_gpus(&mut self, names: &pci::Names) {
        for g in &mut self.gpus {
            if let (Some(v), Some(d)) = (g.vendor_id, g.device_id)
                && let Some(name) = names.device(v, d)
            {
                g.name = name.to_owned();
            }
        }
    }

    /// The bridges whose function is on the PCI bus.
    pub fn bridges_on_bus(&self) -> impl Iterator<Item = &Bridge> {
        self.bridges.iter().filter(|b| b.on_bus)
    }

    /// Whether the running kernel exposes the NVLink bridges (true when unknown).
    pub fn kernel_exposes_bridges(&self) -> bool {
        self.platform
            .nvlink2_kernel
            .is_none_or(Nvlink2Kernel::exposes_bridges)
    }

    /// The ATSD register the running kernel's vfio gives a bridge: its own
    /// (`ibm,mmio-atsd[link index]`), else, from Linux 5.7, register 0 of its NPU ("Using
    /// fallback `ibm,mmio-atsd[0]` for ATSD.", `vfio_pci_nvlink2.c`); `None` when there is none.
    /// The flag is true when the register is the fallback.
    pub fn effective_atsd(&self, b: &Bridge) -> Option<(u64, bool)> {
        if let Some(a) = b.atsd {
            return Some((a, false));
        }
        let fallback = matches!(
            self.platform.nvlink2_kernel,
            Some(Nvlink2Kernel::Vfio {
                atsd_fallback: true,
                ..
            })
        );
        if !fallback {
            return None;
        }
        self.npus
            .iter()
            .find(|n| n.domain == b.address.domain())
            .and_then(|n| n.atsd.first().copied())
            .map(|a| (a, true))
    }

    /// The NVLink2 GPUs, in address order.
    pub fn nvlink2_gpus(&self) -> impl Iterator<Item = &Gpu> {
        self.gpus.iter().filter(|g| g.is_nvlink2())
    }
}
