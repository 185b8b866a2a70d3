//! The POWER9 NVLink2 extension: typed access to the properties skiboot writes on an AC922
//! (or any NPU2 host), and the walks between the nodes they link, as the [`Power9Node`]
//! extension trait of [`Node`]. The generic model ([`Node::u32`], [`Node::reg`],
//! [`Node::follow`], …) knows nothing of these; bring the trait into scope to use them:
//!
//! ```
//! use devtree::power9::Power9Node as _;
//! # fn speed(bridge: devtree::Node<'_, '_>) -> Result<(), devtree::PropError> {
//! let speed = bridge.nvlink_speed()?;
//! # let _ = speed; Ok(()) }
//! ```
//!
//! The relations, as skiboot writes them (open-power/skiboot `hw/npu2.c`,
//! `platforms/astbmc/witherspoon.c`) and Linux reads them (`arch/powerpc/platforms/powernv/
//! npu-dma.c`, `drivers/vfio/pci/vfio_pci_nvlink2.c`):
//!
//! ```text
//! GPU PCI node ──ibm,npu[i]──▶ NVLink bridge (/pciex@6030200000000/unknown-bridge@…)
//! bridge ──ibm,gpu──▶ GPU node          bridge ──memory-region──▶ /memory@<GPU RAM>
//! bridge ──ibm,nvlink──▶ link@N (ibm,npu-link-index) ──▶ parent PHB ibm,mmio-atsd[index]
//! ```
//!
//! Every accessor returns a [`PropError`] naming the node and property when the property is
//! missing ([`PropError::is_missing`]) or has the wrong length; none panics.

use crate::error::{PropError, PropProblem};
use crate::prop::{RegEntry, decode};
use crate::tree::Node;

mod sealed {
    /// Only [`Node`](crate::Node) implements [`Power9Node`](super::Power9Node), so that
    /// methods can be added to it without breaking anyone.
    pub trait Sealed {}
    impl Sealed for crate::Node<'_, '_> {}
}

/// Property names this module reads.
pub mod names {
    /// GPU → its NVLink bridges (phandle list, one per link, in BDF order).
    pub const IBM_NPU: &str = "ibm,npu";
    /// NVLink bridge → its GPU (one phandle).
    pub const IBM_GPU: &str = "ibm,gpu";
    /// NVLink bridge → its link node(s) under the xscom NPU (phandle list; skiboot writes one).
    pub const IBM_NVLINK: &str = "ibm,nvlink";
    /// NVLink bridge → link speed code (one cell).
    pub const IBM_NVLINK_SPEED: &str = "ibm,nvlink-speed";
    /// NVLink bridge → the GPU memory node (one phandle).
    pub const MEMORY_REGION: &str = "memory-region";
    /// NVLink bridge → GPU memory target address (u64).
    pub const IBM_DEVICE_TGT_ADDR: &str = "ibm,device-tgt-addr";
    /// NPU PHB → ATSD register addresses (u64 list; 8 entries since skiboot v6.2, one before).
    pub const IBM_MMIO_ATSD: &str = "ibm,mmio-atsd";
    /// Link node → its link index in the NPU (one cell).
    pub const IBM_NPU_LINK_INDEX: &str = "ibm,npu-link-index";
    /// Link node → its group, i.e. its GPU (one cell).
    pub const IBM_NPU_GROUP_ID: &str = "ibm,npu-group-id";
    /// Chip id (one cell): 0 and 8 on an AC922; 255 counting down on GPU memory nodes.
    pub const IBM_CHIP_ID: &str = "ibm,chip-id";
    /// NUMA associativity (count, then that many cells).
    pub const IBM_ASSOCIATIVITY: &str = "ibm,associativity";
    /// GPU → the far end of each of its links (phandle list; skiboot v6.3+).
    pub const IBM_NVLINK_PEERS: &str = "ibm,nvlink-peers";
    /// Slot label (`"GPU0"`), on link nodes and slot bridges.
    pub const IBM_SLOT_LABEL: &str = "ibm,slot-label";
    /// Location code (`"GPU0"`), on GPU and bridge PCI nodes.
    pub const IBM_LOC_CODE: &str = "ibm,loc-code";
}

use names::*;

/// The `ibm,nvlink-speed` code (skiboot `doc/device-tree/nvlink.rst`, `hdata/spira.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NvlinkSpeed {
    /// Code 0x3: 20 Gbit/s.
    Gbps20,
    /// Code 0x9: 25.0 Gbit/s.
    Gbps25,
    /// Code 0x8: 25.78125 Gbit/s (what an AC922 runs at).
    Gbps25_78125,
    /// A code this reader does not know.
    Other(u32),
}

impl NvlinkSpeed {
    /// The speed for a raw code.
    pub fn from_code(code: u32) -> NvlinkSpeed {
        match code {
            0x3 => NvlinkSpeed::Gbps20,
            0x9 => NvlinkSpeed::Gbps25,
            0x8 => NvlinkSpeed::Gbps25_78125,
            other => NvlinkSpeed::Other(other),
        }
    }

    /// The raw code.
    pub fn code(self) -> u32 {
        match self {
            NvlinkSpeed::Gbps20 => 0x3,
            NvlinkSpeed::Gbps25 => 0x9,
            NvlinkSpeed::Gbps25_78125 => 0x8,
            NvlinkSpeed::Other(c) => c,
        }
    }

    /// Bits per second per lane, for the known codes.
    pub fn bits_per_second(self) -> Option<u64> {
        match self {
            NvlinkSpeed::Gbps20 => Some(20_000_000_000),
            NvlinkSpeed::Gbps25 => Some(25_000_000_000),
            NvlinkSpeed::Gbps25_78125 => Some(25_781_250_000),
            NvlinkSpeed::Other(_) => None,
        }
    }
}

/// An `ibm,associativity` value: the domains after the leading count cell, outermost first.
/// On an AC922, `<4 0 0 1 0>` for chip 0's RAM; GPU memory nodes have `<4 N N N N>` with N
/// its pseudo chip id (255 counting down). Linux takes the domain the
/// `ibm,associativity-reference-points` name (the 4th on powernv) as the NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Associativity {
    /// The domains (the cells after the count).
    pub domains: Vec<u32>,
}

impl Associativity {
    /// Decodes a value: a count cell followed by at least that many cells (extra cells are
    /// ignored, as Linux ignores them).
    pub fn decode(value: &[u8]) -> Result<Associativity, PropProblem> {
        let cells = decode::cells(value)?;
        let Some((&count, rest)) = cells.split_first() else {
            return Err(PropProblem::Length {
                expected: "at least 4 bytes (the count cell)".to_owned(),
                found: 0,
            });
        };
        let Some(domains) = rest.get(..count as usize) else {
            return Err(PropProblem::Encoding(format!(
                "the count cell says {count} domains, {} follow",
                rest.len()
            )));
        };
        Ok(Associativity {
            domains: domains.to_vec(),
        })
    }

    /// The domain at 1-based `reference_point` (as `ibm,associativity-reference-points`
    /// counts), if present.
    pub fn domain(&self, reference_point: u32) -> Option<u32> {
        let i = (reference_point as usize).checked_sub(1)?;
        self.domains.get(i).copied()
    }
}

/// The POWER9 NVLink2 walks and properties of a [`Node`] (see the [module](self)): implemented
/// for [`Node`] only. Every method returns a [`PropError`] naming the node and property when
/// the property is missing ([`PropError::is_missing`]) or malformed.
pub trait Power9Node<'t, 'a>: sealed::Sealed {
    /// GPU → its NVLink bridge nodes, resolved from `ibm,npu` (in BDF order: index i is the
    /// bridge Linux's `pnv_pci_get_npu_dev(gpu, i)` returns).
    fn nvlink_bridges(&self) -> Result<Vec<Node<'t, 'a>>, PropError>;

    /// NVLink bridge → its GPU node (`ibm,gpu`).
    fn nvlink_gpu(&self) -> Result<Node<'t, 'a>, PropError>;

    /// NVLink bridge → its link node(s) under the xscom NPU (`ibm,nvlink`).
    fn nvlink_links(&self) -> Result<Vec<Node<'t, 'a>>, PropError>;

    /// NVLink bridge → the GPU memory node (`memory-region`).
    fn gpu_memory(&self) -> Result<Node<'t, 'a>, PropError>;

    /// NVLink bridge → the GPU memory aperture: `reg` of the `memory-region` node, first entry
    /// (base, size), as vfio reads it.
    fn gpu_memory_range(&self) -> Result<RegEntry, PropError>;

    /// `ibm,nvlink-speed`.
    fn nvlink_speed(&self) -> Result<NvlinkSpeed, PropError>;

    /// `ibm,device-tgt-addr` (u64).
    fn device_tgt_addr(&self) -> Result<u64, PropError>;

    /// `ibm,mmio-atsd` (u64 list).
    fn mmio_atsd(&self) -> Result<Vec<u64>, PropError>;

    /// `ibm,npu-link-index`.
    fn npu_link_index(&self) -> Result<u32, PropError>;

    /// `ibm,npu-group-id`.
    fn npu_group_id(&self) -> Result<u32, PropError>;

    /// `ibm,chip-id`.
    fn chip_id(&self) -> Result<u32, PropError>;

    /// `ibm,associativity`.
    fn associativity(&self) -> Result<Associativity, PropError>;

    /// GPU → the far end of each link (`ibm,nvlink-peers`): peer GPU or NVLink bridge nodes.
    fn nvlink_peers(&self) -> Result<Vec<Node<'t, 'a>>, PropError>;

    /// `ibm,slot-label`.
    fn slot_label(&self) -> Result<&'t str, PropError>;

    /// `ibm,loc-code`.
    fn loc_code(&self) -> Result<&'t str, PropError>;

    /// NVLink bridge → its ATSD register: the link index of its first `ibm,nvlink` node,
    /// looked up in the parent NPU PHB's `ibm,mmio-atsd` (as vfio's `vfio_pci_ibm_npu2_init`
    /// does). `Ok(None)` when the PHB has no entry at that index (older firmware has one
    /// entry only, or none).
    fn nvlink_atsd(&self) -> Result<Option<u64>, PropError>;
}

impl<'t, 'a> Power9Node<'t, 'a> for Node<'t, 'a> {
    fn nvlink_bridges(&self) -> Result<Vec<Node<'t, 'a>>, PropError> {
        self.follow_all(IBM_NPU)
    }

    fn nvlink_gpu(&self) -> Result<Node<'t, 'a>, PropError> {
        self.follow(IBM_GPU)
    }

    fn nvlink_links(&self) -> Result<Vec<Node<'t, 'a>>, PropError> {
        self.follow_all(IBM_NVLINK)
    }

    fn gpu_memory(&self) -> Result<Node<'t, 'a>, PropError> {
        self.follow(MEMORY_REGION)
    }

    fn gpu_memory_range(&self) -> Result<RegEntry, PropError> {
        let mem = self.gpu_memory()?;
        let reg = mem.reg()?;
        reg.first().copied().ok_or_else(|| {
            mem.prop_error(
                "reg",
                PropProblem::Length {
                    expected: "at least one (address, size) entry".to_owned(),
                    found: 0,
                },
            )
        })
    }

    fn nvlink_speed(&self) -> Result<NvlinkSpeed, PropError> {
        self.u32(IBM_NVLINK_SPEED).map(NvlinkSpeed::from_code)
    }

    fn device_tgt_addr(&self) -> Result<u64, PropError> {
        self.u64(IBM_DEVICE_TGT_ADDR)
    }

    fn mmio_atsd(&self) -> Result<Vec<u64>, PropError> {
        self.u64s(IBM_MMIO_ATSD)
    }

    fn npu_link_index(&self) -> Result<u32, PropError> {
        self.u32(IBM_NPU_LINK_INDEX)
    }

    fn npu_group_id(&self) -> Result<u32, PropError> {
        self.u32(IBM_NPU_GROUP_ID)
    }

    fn chip_id(&self) -> Result<u32, PropError> {
        self.u32(IBM_CHIP_ID)
    }

    fn associativity(&self) -> Result<Associativity, PropError> {
        let prop = self.require(IBM_ASSOCIATIVITY)?;
        Associativity::decode(prop.value()).map_err(|p| self.prop_error(IBM_ASSOCIATIVITY, p))
    }

    fn nvlink_peers(&self) -> Result<Vec<Node<'t, 'a>>, PropError> {
        self.follow_all(IBM_NVLINK_PEERS)
    }

    fn slot_label(&self) -> Result<&'t str, PropError> {
        self.string(IBM_SLOT_LABEL)
    }

    fn loc_code(&self) -> Result<&'t str, PropError> {
        self.string(IBM_LOC_CODE)
    }

    fn nvlink_atsd(&self) -> Result<Option<u64>, PropError> {
        let links = self.nvlink_links()?;
        let Some(link) = links.first() else {
            return Err(self.prop_error(
                IBM_NVLINK,
                PropProblem::Length {
                    expected: "at least one phandle".to_owned(),
                    found: 0,
                },
            ));
        };
        let index = link.npu_link_index()?;
        let phb = self.parent().unwrap_or(*self);
        match phb.mmio_atsd() {
            Ok(list) => Ok(list.get(index as usize).copied()),
            Err(e) if e.is_missing() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
