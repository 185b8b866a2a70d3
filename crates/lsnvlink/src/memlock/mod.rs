//! The memory-locking limit (RLIMIT_MEMLOCK) libvirt gives a KVM guest's QEMU process: the
//! [`lsnvlink_memlock`] crate, re-exported here whole (`lsnvlink::memlock::budget`,
//! `lsnvlink::memlock::domain`, …), with what ties it to a host read through [`fsroot`]:
//! [`RootHost`], the [`Host`] that answers from sysfs, libvirt's NV2-bridge test and the joined
//! [`Topology`], and [`running::read_running`], which reads the running guests' files.
//!
//! ```
//! use lsnvlink::memlock::{budget, version::Release, Guest, RootHost};
//!
//! # let dir = tempfile::tempdir()?;
//! # let root = fsroot::Root::dir(dir.path())?;
//! // `root`: the live system, a copied root or a capture; no topology: no guest layout.
//! let host = RootHost::new(&root, None);
//! let b = budget(Guest::pseries_kvm(1_048_576), Release::Newest, &host)?;
//! assert_eq!(b.computation.limit_bytes(), Some(20_971_520));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod running;

pub use lsnvlink_memlock::*;

use devtree::power9::names::IBM_MMIO_ATSD;

use crate::topology::nv2::libvirt_nv2_bridge;
use crate::topology::{Nvlink2Kernel, Topology};

/// The [`Host`] of a root read through [`fsroot`]: IOMMU groups from
/// `/sys/bus/pci/devices/ADDR/iommu_group`, libvirt's NV2-bridge test on each device's
/// `of_node` ([`libvirt_nv2_bridge`]), and, with a topology, the NVLink2 facts of the guest
/// layout preview and the kernel's NVLink2 support.
#[derive(Debug, Clone, Copy)]
pub struct RootHost<'a> {
    /// The root (live `/`, a copied root, a capture).
    pub root: &'a fsroot::Root,
    /// The host's topology, read from the same root; `None`: no guest layout.
    pub topology: Option<&'a Topology>,
}

impl<'a> RootHost<'a> {
    /// The host under `root`, with its `topology` when it was read.
    pub fn new(root: &'a fsroot::Root, topology: Option<&'a Topology>) -> RootHost<'a> {
        RootHost { root, topology }
    }
}

impl Host for RootHost<'_> {
    fn iommu_group(&self, address: PciAddress) -> Result<u32, GroupProblem> {
        let dir = format!("{}/{address}", pci::DEVICES_DIR);
        if !self.root.exists(&dir) {
            return Err(GroupProblem::Absent);
        }
        let link = self
            .root
            .read_link(format!("{dir}/iommu_group"))
            .map_err(|e| GroupProblem::Unreadable(e.to_string()))?;
        link.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| GroupProblem::Unreadable(format!("link text {}", link.display())))
    }

    fn is_nv2_bridge(&self, address: PciAddress) -> bool {
        libvirt_nv2_bridge(self.root, address).is_nv2_bridge()
    }

    fn nvlink2_device(&self, address: PciAddress) -> Option<Nvlink2Device> {
        let t = self.topology?;
        if let Some(gpu) = t.gpu(address).filter(|g| g.is_nvlink2()) {
            // vfio gives the guest the GPU's RAM only when it can read the region and the
            // device tree has what `vfio_pci_nvlink2.c` needs.
            let ram = match (&gpu.memory, gpu.vfio.is_empty()) {
                (Some(Ok(mem)), true) => Some(GpuRam {
                    size: mem.size,
                    tgt_addr: mem.tgt_addr,
                }),
                _ => None,
            };
            return Some(Nvlink2Device::Gpu(Nvlink2Gpu { ram }));
        }
        let bridge = t.bridge(address)?;
        Some(Nvlink2Device::Bridge(Nvlink2Bridge {
            tgt_addr: bridge.tgt_addr,
            // A missing `ibm,mmio-atsd` entry is no refusal: `atsd` says whether vfio falls
            // back to register 0.
            vfio_refuses: bridge.vfio.iter().any(|p| p.property != IBM_MMIO_ATSD),
            atsd: t
                .effective_atsd(bridge)
                .map(|(address, fallback)| AtsdRegister { address, fallback }),
        }))
    }

    fn nvlink2_passthrough(&self) -> Nvlink2Passthrough {
        let Some(t) = self.topology else {
            return Nvlink2Passthrough::Unknown;
        };
        let kernel = t.platform.kernel.clone();
        match t.platform.nvlink2_kernel {
            None => Nvlink2Passthrough::Unknown,
            Some(Nvlink2Kernel::Vfio { .. }) => Nvlink2Passthrough::Vfio,
            Some(Nvlink2Kernel::NoVfio) => Nvlink2Passthrough::NoVfio { kernel },
            Some(Nvlink2Kernel::Unsupported { .. }) => Nvlink2Passthrough::Unsupported { kernel },
        }
    }
}
