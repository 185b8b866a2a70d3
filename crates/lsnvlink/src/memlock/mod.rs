//! The memory-locking limit (RLIMIT_MEMLOCK) libvirt gives a KVM guest's QEMU process: the
//! [`lsnvlink_memlock`] crate, re-exported here whole (`lsnvlink::memlock::budget`,
//! `lsnvlink::memlock::domain`, …), with what ties it to a host: [`FactsHost`], the [`Host`]
//! that answers from a host's [`HostFacts`] and its joined [`Topology`], and
//! [`running::read_running`], which reads the running guests' files.
//!
//! ```
//! use lsnvlink::facts::HostFacts;
//! use lsnvlink::memlock::{budget, version::Release, FactsHost, Guest};
//!
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! # let root = fsroot::Root::dir(dir.path())?;
//! // `root`: the live system, a copied root or a capture; no topology: no guest layout.
//! let facts = HostFacts::read(&root)?;
//! let host = FactsHost::new(&facts, None);
//! let b = budget(Guest::pseries_kvm(1_048_576), Release::Newest, &host)?;
//! assert_eq!(b.computation.limit_bytes(), Some(20_971_520));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod running;

pub use lsnvlink_memlock::*;

use devtree::power9::names::IBM_MMIO_ATSD;

use crate::facts::HostFacts;
use crate::topology::{Nvlink2Kernel, Topology};

/// The [`Host`] of a host's [`HostFacts`]: IOMMU groups and libvirt's NV2-bridge test of each
/// PCI function, and, with its joined topology, the NVLink2 facts of the guest layout preview
/// and the kernel's NVLink2 support. Reads no file.
#[derive(Debug, Clone, Copy)]
pub struct FactsHost<'a> {
    /// The host's facts (read once from the live system, a copied root, a capture, a
    /// sosreport).
    pub facts: &'a HostFacts,
    /// The host's topology, joined from the same facts; `None`: no guest layout.
    pub topology: Option<&'a Topology>,
}

impl<'a> FactsHost<'a> {
    /// The host of `facts`, with its `topology` when it was joined.
    pub fn new(facts: &'a HostFacts, topology: Option<&'a Topology>) -> FactsHost<'a> {
        FactsHost { facts, topology }
    }
}

impl Host for FactsHost<'_> {
    fn iommu_group(&self, address: PciAddress) -> Result<u32, GroupProblem> {
        let Some(device) = self.facts.pci.devices.iter().find(|d| d.address == address) else {
            return Err(GroupProblem::Absent);
        };
        match device.iommu_group {
            Some(group) => Ok(group),
            None => Err(GroupProblem::Unreadable(
                self.facts
                    .iommu_group_problems
                    .get(&address)
                    .cloned()
                    .unwrap_or_else(|| "no iommu_group link".to_owned()),
            )),
        }
    }

    fn is_nv2_bridge(&self, address: PciAddress) -> bool {
        self.facts.libvirt_nv2(address).is_nv2_bridge()
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
