//! What [`budget`](crate::budget) asks of the host: the [`Host`] trait and the plain facts it
//! answers with. The crate reads no file itself: a caller answers from sysfs and the device
//! tree (lsnvlink does, from a live system, a copied root or a capture), from its own
//! inventory, or not at all ([`NoHost`]).

use pci::PciAddress;

/// Why an assigned device's IOMMU group is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupProblem {
    /// No `/sys/bus/pci/devices/ADDR` on the host.
    Absent,
    /// The device is there but its `iommu_group` link cannot be read as a group number.
    Unreadable(String),
}

/// An assigned device's part in NVLink2, for the guest layout preview
/// ([`layout`](crate::layout)) and the host kernel warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nvlink2Device {
    /// An NVLink2 GPU: a V100 that lists NVLink bridges (`ibm,npu`), or that a bridge names.
    Gpu(Nvlink2Gpu),
    /// An NVLink bridge (NPU function, `1014:04ea`).
    Bridge(Nvlink2Bridge),
}

/// An NVLink2 GPU as the host's vfio gives it to QEMU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvlink2Gpu {
    /// Its RAM region; `None` when vfio gives the guest none (the GPU's memory cannot be told,
    /// or its device tree lacks what the kernel's `vfio_pci_nvlink2.c` needs).
    pub ram: Option<GpuRam>,
}

/// The RAM region of an NVLink2 GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuRam {
    /// Size of the host region: the bridge's `memory-region` node's `reg` size (128 GiB on an
    /// AC922, whatever the GPU carries: skiboot `hw/phys-map.c`).
    pub size: u64,
    /// The `ibm,device-tgt-addr` of the GPU's first bridge: links pair with their GPU by it.
    pub tgt_addr: Option<u64>,
}

/// An NVLink bridge as the host's vfio gives it to QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nvlink2Bridge {
    /// Its `ibm,device-tgt-addr`: the GPU whose RAM region has the same one is its GPU.
    pub tgt_addr: Option<u64>,
    /// The kernel's vfio NPU2 code refuses it: its device tree lacks something it requires
    /// other than the ATSD register (which is [`Nvlink2Bridge::atsd`]).
    pub vfio_refuses: bool,
    /// The ATSD register vfio gives its link; `None` when there is none.
    pub atsd: Option<AtsdRegister>,
}

/// The host ATSD register behind a bridge's ATSD window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtsdRegister {
    /// The register's host address: `ibm,mmio-atsd[link index]` of the NPU PHB.
    pub address: u64,
    /// True when it is register 0 of the NPU, the fallback the kernel takes from Linux 5.7
    /// when the link has none of its own ("Using fallback `ibm,mmio-atsd[0]` for ATSD.",
    /// `vfio_pci_nvlink2.c`).
    pub fallback: bool,
}

/// Whether the host kernel can pass NVLink2 GPUs through with their memory and links.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nvlink2Passthrough {
    /// Not known (no topology read, or the kernel could not be told): nothing to warn about.
    #[default]
    Unknown,
    /// It can: vfio has the NVLink2 subdriver (Linux 5.0 to 5.12, or a backport).
    Vfio,
    /// Older than 5.0: vfio has no NVLink2 subdriver (`vfio_pci_nvlink2` arrived in 5.0).
    NoVfio {
        /// The kernel release (`/proc/sys/kernel/osrelease`), when known.
        kernel: Option<String>,
    },
    /// The kernel does not expose NVLink2: Linux 5.13 removed it, or no bridge function is
    /// on the bus.
    Unsupported {
        /// The kernel release (`/proc/sys/kernel/osrelease`), when known.
        kernel: Option<String>,
    },
}

/// What [`budget`](crate::budget) reads from the host. The first two methods are what libvirt
/// itself looks up; the NVLink2 ones feed the guest layout preview and a warning, and answer
/// "nothing known" unless implemented.
pub trait Host {
    /// The IOMMU group of `address` (`/sys/bus/pci/devices/ADDR/iommu_group` link text).
    fn iommu_group(&self, address: PciAddress) -> Result<u32, GroupProblem>;

    /// libvirt's NV2-bridge test on `address`: its `of_node` has `ibm,gpu`, `ibm,nvlink`,
    /// `ibm,nvlink-speed` and `memory-region` (`ppc64VFIODeviceIsNV2Bridge`, libvirt
    /// `src/qemu/qemu_domain.c`).
    fn is_nv2_bridge(&self, address: PciAddress) -> bool;

    /// The NVLink2 part of the device at `address`, `None` when it has none or nothing is
    /// known. Without it the budget has no guest layout.
    fn nvlink2_device(&self, address: PciAddress) -> Option<Nvlink2Device> {
        let _ = address;
        None
    }

    /// Whether the host kernel can pass NVLink2 through.
    fn nvlink2_passthrough(&self) -> Nvlink2Passthrough {
        Nvlink2Passthrough::Unknown
    }
}

/// A host with no PCI devices (for guests without assigned devices, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {
    fn iommu_group(&self, _: PciAddress) -> Result<u32, GroupProblem> {
        Err(GroupProblem::Absent)
    }

    fn is_nv2_bridge(&self, _: PciAddress) -> bool {
        false
    }
}
