#![doc = include_str!("../README.md")]
//!
//! ## How it is put together
//!
//! A [`Guest`] comes from command-line values or a domain XML ([`domain`]); [`budget`] looks
//! up on the host (through a [`Host`]: a live system, a copied root, a capture, an inventory,
//! or [`NoHost`]) what libvirt looks up — each assigned PCI device's IOMMU group, for the
//! isolation PHBs a pSeries guest gets, and libvirt's NV2-bridge test — then applies the rules
//! of the chosen release ([`version`]) and the arithmetic ([`formula`]). [`layout`] previews
//! where QEMU puts each assigned GPU's RAM and ATSD window in the guest, from the NVLink2 facts
//! the [`Host`] gives; [`render`] writes text or JSON (feature `json`, on by default);
//! [`running`] parses the limit a running guest's QEMU really has. The crate reads no file.
//!
//! ```
//! use lsnvlink_memlock::{budget, formula::Branch, version::Release, Guest, NoHost};
//!
//! let guest = Guest::pseries_kvm(1_048_576); // 1 GiB, no device assigned
//! let b = budget(guest, Release::Newest, &NoHost)?;
//! assert_eq!(b.computation.branch, Branch::Base);
//! assert_eq!(b.computation.limit_bytes(), Some(20_971_520)); // 20 MiB
//! # Ok::<(), lsnvlink_memlock::MemlockError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `writeln!` for text bound for a terminal: the formatted line is written through
/// [`escape::line`], so control characters in it (a newline or an escape sequence inside a
/// guest name or a host message) are shown as escapes.
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {
        {
            use $crate::escape::LineWrite as _;
            $out.write_line(format_args!($($arg)*))
        }
    };
}

pub mod domain;
/// The terminal escaping of lsnvlink's text renderers (`pci::render::escape`).
use pci::render::escape;
pub mod formula;
mod host;
pub mod layout;
pub mod render;
pub mod running;
pub mod size;
pub mod version;

use std::collections::BTreeSet;

use formula::{Computation, Inputs, Path};
pub use host::{
    AtsdRegister, GpuRam, GroupProblem, Host, NoHost, Nvlink2Bridge, Nvlink2Device, Nvlink2Gpu,
    Nvlink2Passthrough,
};
use version::Release;

/// The PCI address type of [`PciHostdev`] and [`Host`] (`DDDD:BB:DD.F`), from the `pci` crate.
pub use pci::PciAddress;

/// Everything that can stop a budget.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemlockError {
    /// The domain XML.
    #[error(transparent)]
    Domain(#[from] domain::DomainError),
    /// The arithmetic overflowed.
    #[error(transparent)]
    Formula(#[from] formula::FormulaError),
    /// A guest without memory.
    #[error("the guest has no memory (0 KiB)")]
    NoMemory,
}

/// A guest PCI address (`<address type='pci' bus=… slot=… function=…/>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GuestAddress {
    /// Bus: the index of the pci-root controller (PHB) on a pSeries guest.
    pub bus: u32,
    /// Slot.
    pub slot: u32,
    /// Function.
    pub function: u32,
}

/// An assigned host PCI device (`<hostdev type='pci'>` or `<interface type='hostdev'>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciHostdev {
    /// Its host address.
    pub host: PciAddress,
    /// The VFIO backend (no `<driver name>`, or `vfio`); `kvm` and `xen` are not.
    pub vfio_backend: bool,
    /// Its guest address, when the XML has one.
    pub guest: Option<GuestAddress>,
}

/// A declared `pci-root` controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phb {
    /// Controller index (= guest bus).
    pub index: u32,
    /// `<target index>`: QEMU's `spapr-pci-host-bridge` index.
    pub target_index: Option<u32>,
    /// Its model is (or will be) `spapr-pci-host-bridge`: libvirt counts it.
    pub spapr: bool,
}

/// What the memory-locking limit depends on, from flags or a domain XML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Guest {
    /// `<name>`.
    pub name: Option<String>,
    /// Domain type: `kvm`, `qemu` (TCG), ….
    pub virt_type: String,
    /// `os/type@arch`: `ppc64`, `ppc64le`, `x86_64`, ….
    pub arch: String,
    /// `os/type@machine`.
    pub machine: Option<String>,
    /// Total memory in KiB (`<memory>`, DIMMs included; with NUMA cells, their sum plus the
    /// DIMMs, as libvirt rewrites it on define).
    pub memory_kib: u64,
    /// Each NUMA cell's memory in KiB, in document order (empty without NUMA cells).
    pub numa_cells_kib: Vec<u64>,
    /// Each DIMM's size in KiB (`<memory model='dimm'>`), in document order.
    pub dimms_kib: Vec<u64>,
    /// `<maxMemory>` in KiB.
    pub max_memory_kib: Option<u64>,
    /// `<currentMemory>` in KiB: the balloon target, never used by the formula.
    pub current_memory_kib: Option<u64>,
    /// `<memtune><hard_limit>` in KiB.
    pub hard_limit_kib: Option<u64>,
    /// `<memoryBacking><locked/>`.
    pub locked: bool,
    /// Declared PHBs (`pci-root` controllers).
    pub phbs: Vec<Phb>,
    /// Assigned PCI devices, in document order.
    pub pci_hostdevs: Vec<PciHostdev>,
    /// mdev hostdevs.
    pub mdevs: u64,
    /// Disks with an NVMe source anywhere in their chain.
    pub nvme_disks: u64,
    /// `<interface type='vdpa'>`.
    pub vdpa_nets: u64,
    /// `<disk type='vhostvdpa'>`.
    pub vhost_vdpa_disks: u64,
    /// `<interface type='network'>` with no `<actual>`: a hostdev network would make it a
    /// hostdev at start, which the XML alone cannot tell.
    pub unresolved_networks: u64,
    /// A `<iommu>` device (vIOMMU).
    pub viommu: bool,
    /// Guest NUMA cells.
    pub numa_nodes: u64,
    /// Guest buses that hold a device other than a hostdev at a fixed address.
    pub occupied_buses: BTreeSet<u32>,
    /// What the reader noticed and skipped.
    pub notes: Vec<String>,
}

impl Guest {
    /// A pSeries KVM guest (`ppc64le`, `pseries`) with `memory_kib` of memory and the default
    /// PHB.
    pub fn pseries_kvm(memory_kib: u64) -> Guest {
        Guest {
            virt_type: "kvm".to_owned(),
            arch: "ppc64le".to_owned(),
            machine: Some("pseries".to_owned()),
            memory_kib,
            phbs: vec![Phb {
                index: 0,
                target_index: None,
                spapr: true,
            }],
            ..Guest::default()
        }
    }

    /// `ppc64` or `ppc64le` (libvirt's `ARCH_IS_PPC64`).
    pub fn is_ppc64(&self) -> bool {
        matches!(self.arch.as_str(), "ppc64" | "ppc64le")
    }

    /// Domain type `kvm`.
    pub fn is_kvm(&self) -> bool {
        self.virt_type == "kvm"
    }

    /// ppc64 and KVM: the ppc64 formula applies (from libvirt 2.1.0 on).
    pub fn is_ppc64_kvm(&self) -> bool {
        self.is_ppc64() && self.is_kvm()
    }

    /// A pSeries machine (ppc64, machine type `pseries*` or not given): libvirt isolates its
    /// hostdevs on PHBs of their own.
    pub fn is_pseries(&self) -> bool {
        self.is_ppc64()
            && self
                .machine
                .as_deref()
                .is_none_or(|m| m.starts_with("pseries"))
    }
}

/// Where a PHB comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PhbOrigin {
    /// pci-root index 0, always there.
    Default,
    /// A declared `pci-root` controller (or `--phbs`).
    Declared,
    /// Added by libvirt to isolate a host IOMMU group (`b84b6ab502`, 3.6.0).
    Isolation,
}

/// One guest PHB after libvirt's placement of the hostdevs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhbPlacement {
    /// Controller index (guest bus).
    pub index: u32,
    /// The vPHB index QEMU gets: the `<target index>`, else the controller index (libvirt
    /// gives new PHBs the lowest free target index, which is the controller index when
    /// controllers are added in order).
    pub vphb: u32,
    /// Where it comes from.
    pub origin: PhbOrigin,
    /// Counted by libvirt (a `spapr-pci-host-bridge`).
    pub counted: bool,
    /// The assigned devices on it, in document order.
    pub hostdevs: Vec<PciAddress>,
}

/// One assigned PCI device as libvirt sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostdevInfo {
    /// Host address.
    pub address: PciAddress,
    /// Counts as a VFIO device for this release (VFIO backend; any PCI hostdev from 10.7.0).
    pub counted: bool,
    /// Passes libvirt's NV2-bridge test on the host.
    pub nv2_bridge: bool,
    /// Its IOMMU group on the host.
    pub iommu_group: Option<u32>,
    /// The guest bus (PHB index) it lands on, when libvirt places hostdevs on PHBs.
    pub guest_bus: Option<u32>,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Budget {
    /// The libvirt release whose rules apply.
    pub release: Release,
    /// The guest, as read.
    pub guest: Guest,
    /// The formula's path: `ppc64` or `generic`.
    pub ppc64_path: bool,
    /// PHBs counted by the formula.
    pub phb_count: u64,
    /// The guest's PHBs after placement (empty before 3.6.0 and off pSeries).
    pub phbs: Vec<PhbPlacement>,
    /// Each assigned PCI device.
    pub hostdevs: Vec<HostdevInfo>,
    /// The devices that select the NVLink2 branch (libvirt stops at the first).
    pub nv2_bridges: Vec<PciAddress>,
    /// The generic path's device factor.
    pub generic_factor: Option<u64>,
    /// The numbers.
    pub computation: Computation,
    /// Where QEMU puts the assigned GPUs' RAM and ATSD windows; `None` when no assigned device
    /// is an NVLink2 GPU or bridge as far as the host tells ([`Host::nvlink2_device`]).
    pub layout: Option<layout::Layout>,
    /// What the reader should know.
    pub warnings: Vec<String>,
}

/// libvirt's isolation group of a hostdev: its IOMMU group + 1 (0 is for emulated devices;
/// `qemuDomainFillDeviceIsolationGroup`, libvirt `src/qemu/qemu_domain_address.c`). A device
/// whose group cannot be read is not isolated (group 0, with the emulated devices) when
/// `not_isolated`; else it gets a group of its own, above every real one.
fn isolation_group(group: Option<u32>, position: usize, not_isolated: bool) -> u64 {
    match group {
        Some(g) => u64::from(g) + 1,
        None if not_isolated => 0,
        None => (1u64 << 32) + position as u64,
    }
}

/// What libvirt rounds memory to at start (`qemuDomainAlignMemorySizes`): 256 MiB on ppc64
/// (the pSeries LMB size), 1 MiB elsewhere; in KiB.
fn memory_alignment_kib(guest: &Guest) -> u64 {
    if guest.is_ppc64() { 256 * 1024 } else { 1024 }
}

fn align_up(kib: u64, to: u64) -> Option<u64> {
    kib.checked_next_multiple_of(to)
}

/// The guest's memory as libvirt sizes it at start: each NUMA cell (else the initial memory)
/// and each DIMM rounded up separately; `maxMemory` rounded too. Returns (memory, maxMemory,
/// a note when anything moved).
fn aligned_memory(guest: &Guest) -> Result<(u64, Option<u64>, Option<String>), MemlockError> {
    let to = memory_alignment_kib(guest);
    let overflow = || MemlockError::Formula(formula::FormulaError("aligned memory"));
    let dimms: u64 = guest.dimms_kib.iter().sum();
    let mut total = 0u64;
    if guest.numa_cells_kib.is_empty() {
        let initial = guest.memory_kib.saturating_sub(dimms);
        total = align_up(initial, to).ok_or_else(overflow)?;
    } else {
        for cell in &guest.numa_cells_kib {
            let a = align_up(*cell, to).ok_or_else(overflow)?;
            total = total.checked_add(a).ok_or_else(overflow)?;
        }
    }
    for dimm in &guest.dimms_kib {
        let a = align_up(*dimm, to).ok_or_else(overflow)?;
        total = total.checked_add(a).ok_or_else(overflow)?;
    }
    let max = match guest.max_memory_kib {
        Some(m) => Some(align_up(m, to).ok_or_else(overflow)?),
        None => None,
    };
    let note = (total != guest.memory_kib || max != guest.max_memory_kib).then(|| {
        format!(
            "memory aligned as libvirt does at start ({} KiB steps{}): {} KiB counted, not {} KiB",
            to,
            if guest.numa_cells_kib.is_empty() {
                ""
            } else {
                ", each NUMA cell and DIMM"
            },
            total,
            guest.memory_kib
        )
    });
    Ok((total, max, note))
}

struct Bus {
    index: u32,
    target: Option<u32>,
    origin: PhbOrigin,
    spapr: bool,
    locked: bool,
    group: Option<u64>,
}

/// libvirt's PCI address assignment for a pSeries guest, reduced to buses and isolation
/// groups (libvirt `src/conf/domain_addr.c`, `virDomainPCIAddressGetNextAddr` and
/// `virDomainPCIAddressReserveAddrInternal`): PHB 0 is locked to emulated devices; a device
/// at a fixed address gives an empty bus its group (or resets a mixed bus to group 0); each
/// other hostdev goes to a bus of its group, else to an empty unlocked bus, else to a new PHB.
fn place(guest: &Guest, groups: &[u64], warnings: &mut Vec<String>) -> (Vec<Bus>, Vec<u32>) {
    let mut buses: Vec<Bus> = guest
        .phbs
        .iter()
        .map(|p| Bus {
            index: p.index,
            target: p.target_index,
            origin: if p.index == 0 {
                PhbOrigin::Default
            } else {
                PhbOrigin::Declared
            },
            spapr: p.spapr,
            locked: p.index == 0,
            group: (p.index == 0 || guest.occupied_buses.contains(&p.index)).then_some(0),
        })
        .collect();
    if !buses.iter().any(|b| b.index == 0) {
        buses.push(Bus {
            index: 0,
            target: None,
            origin: PhbOrigin::Default,
            spapr: true,
            locked: true,
            group: Some(0),
        });
    }
    buses.sort_by_key(|b| b.index);
    let mut placement = vec![0u32; guest.pci_hostdevs.len()];
    let fixed = guest
        .pci_hostdevs
        .iter()
        .zip(groups)
        .zip(placement.iter_mut());
    for ((h, &group), slot) in fixed {
        let Some(addr) = h.guest else { continue };
        if !buses.iter().any(|b| b.index == addr.bus) {
            warnings.push(format!(
                "{} is at guest bus {} but no pci-root controller has that index: counted as a \
                 PHB libvirt adds",
                h.host, addr.bus
            ));
            buses.push(Bus {
                index: addr.bus,
                target: None,
                origin: PhbOrigin::Declared,
                spapr: true,
                locked: false,
                group: None,
            });
            buses.sort_by_key(|b| b.index);
        }
        if let Some(bus) = buses.iter_mut().find(|b| b.index == addr.bus) {
            match bus.group {
                None if !bus.locked => bus.group = Some(group),
                Some(g) if g == group => {}
                _ => bus.group = Some(0),
            }
        }
        *slot = addr.bus;
    }
    let free = guest
        .pci_hostdevs
        .iter()
        .zip(groups)
        .zip(placement.iter_mut());
    for ((h, &group), slot) in free {
        if h.guest.is_some() {
            continue;
        }
        let index = if let Some(bus) = buses.iter().find(|b| b.group == Some(group)) {
            bus.index
        } else if let Some(bus) = buses.iter_mut().find(|b| b.group.is_none() && !b.locked) {
            bus.group = Some(group);
            bus.index
        } else {
            let index = buses
                .iter()
                .map(|b| b.index)
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            buses.push(Bus {
                index,
                target: None,
                origin: PhbOrigin::Isolation,
                spapr: true,
                locked: false,
                group: Some(group),
            });
            index
        };
        *slot = index;
    }
    (buses, placement)
}

/// When the guest is given NVLink2 GPUs or bridges and the host kernel cannot pass NVLink2
/// through (before 5.0: no vfio subdriver; 5.13 and later: removed), says so: libvirt computes
/// the limit all the same, but the guest gets plain PCIe GPUs, or fails to start when a
/// bridge function it names does not exist.
fn kernel_warning(host: &dyn Host, guest: &Guest, warnings: &mut Vec<String>) {
    let why = match host.nvlink2_passthrough() {
        Nvlink2Passthrough::NoVfio { kernel } => format!(
            "the host kernel {} is older than 5.0, whose vfio has no NVLink2 subdriver \
             (vfio_pci_nvlink2 arrived in 5.0)",
            kernel.as_deref().unwrap_or("unknown")
        ),
        Nvlink2Passthrough::Unsupported { kernel } => format!(
            "the host kernel {} does not expose NVLink2 (Linux 5.13 removed it; no \
             bridge function is on the bus)",
            kernel.as_deref().unwrap_or("unknown")
        ),
        Nvlink2Passthrough::Unknown | Nvlink2Passthrough::Vfio => return,
    };
    let nvlink2: Vec<String> = guest
        .pci_hostdevs
        .iter()
        .filter(|h| host.nvlink2_device(h.host).is_some())
        .map(|h| h.host.to_string())
        .collect();
    if nvlink2.is_empty() {
        return;
    }
    warnings.push(format!(
        "{why}: the NVLink2 devices given to this guest ({}) cannot be passed through with \
         their NVLink2 memory and links; the guest gets plain PCIe GPUs at best, and fails to \
         start when a bridge it names is not on the host. Pass NVLink2 GPUs through from a \
         5.0–5.12 host kernel",
        nvlink2.join(", ")
    ));
}

/// Computes the limit libvirt `release` gives `guest`, reading IOMMU groups and the
/// NV2-bridge test from `host`, and, from the NVLink2 facts `host` gives
/// ([`Host::nvlink2_device`]), the guest layout of the NVLink2 devices.
///
/// # Errors
///
/// [`MemlockError::NoMemory`] for a guest without memory, [`MemlockError::Formula`] when a
/// step of the arithmetic leaves 64 bits.
pub fn budget(guest: Guest, release: Release, host: &dyn Host) -> Result<Budget, MemlockError> {
    if guest.memory_kib == 0 {
        return Err(MemlockError::NoMemory);
    }
    let rules = release.rules();
    let mut warnings = guest.notes.clone();
    let ppc64_path = guest.is_ppc64() && (guest.is_kvm() || !rules.kvm_only);

    let mut hostdevs: Vec<HostdevInfo> = Vec::with_capacity(guest.pci_hostdevs.len());
    for h in &guest.pci_hostdevs {
        let group = match host.iommu_group(h.host) {
            Ok(g) => Some(g),
            Err(GroupProblem::Absent) => {
                warnings.push(format!(
                    "{} is not a PCI device on this host: {} (libvirt could not start the \
                     guest without it)",
                    h.host,
                    if rules.unreadable_group_not_isolated {
                        "libvirt cannot read its IOMMU group and does not isolate it: no PHB \
                         of its own"
                    } else {
                        "counted in an IOMMU group of its own"
                    }
                ));
                None
            }
            Err(GroupProblem::Unreadable(why)) => {
                warnings.push(format!(
                    "{}: IOMMU group unreadable ({why}): {}",
                    h.host,
                    if rules.unreadable_group_not_isolated {
                        "libvirt warns \"device won't be isolated\" and gives it no PHB of its \
                         own"
                    } else {
                        "counted in a group of its own"
                    }
                ));
                None
            }
        };
        let counted = h.vfio_backend || rules.any_pci_hostdev;
        let nv2_bridge = ppc64_path && counted && host.is_nv2_bridge(h.host);
        hostdevs.push(HostdevInfo {
            address: h.host,
            counted,
            nv2_bridge,
            iommu_group: group,
            guest_bus: None,
        });
    }

    // PHBs (only the ppc64 formula counts them): one, always, before 3.6.0; then the counted
    // pci-root controllers, with the isolation PHBs of a pSeries guest's hostdevs.
    let mut phbs = Vec::new();
    if rules.count_phbs && guest.is_pseries() {
        let groups: Vec<u64> = hostdevs
            .iter()
            .enumerate()
            .map(|(i, h)| isolation_group(h.iommu_group, i, rules.unreadable_group_not_isolated))
            .collect();
        let (buses, placement) = place(&guest, &groups, &mut warnings);
        for (info, bus) in hostdevs.iter_mut().zip(&placement) {
            info.guest_bus = Some(*bus);
        }
        phbs = buses
            .iter()
            .map(|b| PhbPlacement {
                index: b.index,
                vphb: b.target.unwrap_or(b.index),
                origin: b.origin,
                counted: b.spapr,
                hostdevs: hostdevs
                    .iter()
                    .filter(|h| h.guest_bus == Some(b.index))
                    .map(|h| h.address)
                    .collect(),
            })
            .collect();
    }
    let phb_count = if !ppc64_path {
        0
    } else if !rules.count_phbs {
        1
    } else if guest.is_pseries() {
        phbs.iter().filter(|p| p.counted).count() as u64
    } else {
        guest.phbs.iter().filter(|p| p.spapr).count() as u64
    };

    let nv2_found: Vec<PciAddress> = hostdevs
        .iter()
        .filter(|h| h.nv2_bridge)
        .map(|h| h.address)
        .collect();
    let nv2_bridges = if rules.nvlink2 {
        nv2_found
    } else {
        if !nv2_found.is_empty() {
            warnings.push(format!(
                "libvirt {release} has no NVLink2 branch (5.3.0): the NVLink2 bridges assigned \
                 are counted as plain VFIO devices, 256 GiB per PHB short of what QEMU maps"
            ));
        }
        Vec::new()
    };

    let pci_counted = hostdevs.iter().filter(|h| h.counted).count() as u64;
    let nvme = if rules.nvme { guest.nvme_disks } else { 0 };
    let vdpa = if rules.mdev_vdpa { guest.vdpa_nets } else { 0 };
    // vhost-vDPA disks count on the generic path only (9.8.0).
    let vdpa_disks = if rules.vhost_vdpa_disks {
        guest.vhost_vdpa_disks
    } else {
        0
    };
    if guest.unresolved_networks > 0 {
        warnings.push(format!(
            "{} <interface type='network'> without <actual>: if its network is a hostdev pool, \
             libvirt makes it a PCI hostdev at start (with an isolation PHB on pSeries), which \
             the domain XML alone cannot show; a running guest's live XML \
             (/run/libvirt/qemu/NAME.xml, memlock --running) can",
            guest.unresolved_networks
        ));
    }
    let mut generic_factor = None;
    let path = if ppc64_path {
        let mdev = if rules.mdev_vdpa { guest.mdevs } else { 0 };
        Path::Ppc64 {
            phbs: phb_count,
            nvlink2: !nv2_bridges.is_empty(),
            vfio: pci_counted + mdev + nvme + vdpa > 0,
        }
    } else {
        let hostdev_like = pci_counted.saturating_add(guest.mdevs);
        let vdpa_all = vdpa.saturating_add(vdpa_disks);
        let factor = if rules.generic_factor {
            // From 9.3.0 each NVMe disk has its own factor; before, NVMe disks count with the
            // VFIO hostdevs (one factor for all of them without a vIOMMU).
            let (own_nvme, with_hostdevs) = if rules.nvme_own_factor {
                (nvme, hostdev_like)
            } else {
                (0, hostdev_like.saturating_add(nvme))
            };
            let per_hostdev = match (with_hostdevs, guest.viommu) {
                (0, _) => 0,
                (n, true) => n,
                (_, false) => 1,
            };
            own_nvme
                .saturating_add(vdpa_all)
                .saturating_add(per_hostdev)
        } else {
            u64::from(hostdev_like + nvme + vdpa_all > 0)
        };
        generic_factor = Some(factor);
        Path::Generic { factor }
    };

    let hard_limit_kib = match guest.hard_limit_kib {
        Some(h) if h >= formula::UNLIMITED => {
            warnings.push(
                "hard_limit is libvirt's 'unlimited' value (2^53 - 1 KiB or more): not set"
                    .to_owned(),
            );
            None
        }
        other => other,
    };
    let (memory_kib, max_memory_kib) = if rules.align_memory {
        let (m, max, note) = aligned_memory(&guest)?;
        warnings.extend(note);
        (m, max)
    } else {
        (guest.memory_kib, guest.max_memory_kib)
    };
    let computation = formula::compute(&Inputs {
        memory_kib,
        max_memory_kib,
        hard_limit_kib,
        locked: guest.locked,
        locked_is_memory_plus_1g: !rules.locked_unlimited,
        path,
    })?;
    if computation.limit_bytes() == Some(0) {
        warnings.push(
            "a limit of 0 means libvirt leaves RLIMIT_MEMLOCK as QEMU inherits it".to_owned(),
        );
    }
    if guest.is_ppc64() && !ppc64_path {
        warnings.push(format!(
            "domain type {:?}: not KVM, so libvirt takes the generic path, not the ppc64 formula",
            guest.virt_type
        ));
    }

    kernel_warning(host, &guest, &mut warnings);
    let layout = layout::preview(&guest, &hostdevs, &phbs, host);
    if let Some(l) = &layout {
        warnings.extend(l.notes.iter().cloned());
    }
    Ok(Budget {
        release,
        guest,
        ppc64_path,
        phb_count,
        phbs,
        hostdevs,
        nv2_bridges,
        generic_factor,
        computation,
        layout,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use formula::Branch;
    use std::collections::BTreeMap;

    /// A host given as address → (IOMMU group, NV2 bridge).
    struct FakeHost(BTreeMap<PciAddress, (u32, bool)>);

    impl Host for FakeHost {
        fn iommu_group(&self, a: PciAddress) -> Result<u32, GroupProblem> {
            self.0.get(&a).map(|x| x.0).ok_or(GroupProblem::Absent)
        }
        fn is_nv2_bridge(&self, a: PciAddress) -> bool {
            self.0.get(&a).is_some_and(|x| x.1)
        }
    }

    fn addr(s: &str) -> PciAddress {
        s.parse().unwrap()
    }

    fn ac922() -> FakeHost {
        let mut m = BTreeMap::new();
        m.insert(addr("0004:04:00.0"), (5, false));
        m.insert(addr("0004:05:00.0"), (5, false));
        m.insert(addr("0006:00:00.0"), (5, true));
        m.insert(addr("0006:00:00.1"), (5, true));
        m.insert(addr("0035:03:00.0"), (10, false));
        m.insert(addr("0007:00:00.0"), (10, true));
        m.insert(addr("0003:01:00.0"), (3, false));
        FakeHost(m)
    }

    fn with(mut guest: Guest, devices: &[&str]) -> Guest {
        guest.pci_hostdevs = devices
            .iter()
            .map(|d| PciHostdev {
                host: addr(d),
                vfio_backend: true,
                guest: None,
            })
            .collect();
        guest
    }

    const GIB: u64 = 1_048_576;

    #[test]
    fn isolation_phbs_one_per_iommu_group() {
        let g = with(
            Guest::pseries_kvm(64 * GIB),
            &[
                "0004:04:00.0",
                "0006:00:00.0",
                "0035:03:00.0",
                "0007:00:00.0",
            ],
        );
        let b = budget(g, Release::Newest, &ac922()).unwrap();
        assert_eq!(b.phb_count, 3);
        assert_eq!(b.computation.branch, Branch::Nvlink2);
        let buses: Vec<Option<u32>> = b.hostdevs.iter().map(|h| h.guest_bus).collect();
        assert_eq!(buses, [Some(1), Some(1), Some(2), Some(2)]);
        assert_eq!(
            b.phbs.iter().map(|p| p.origin).collect::<Vec<_>>(),
            [
                PhbOrigin::Default,
                PhbOrigin::Isolation,
                PhbOrigin::Isolation
            ]
        );
        // base 524288 + 4096*3 + 8192; NVLink2 67108864 + 268435456*3 + 8192
        assert_eq!(
            b.computation.terms.total(),
            524_288 + 12_288 + 8192 + 67_108_864 + 805_306_368 + 8192
        );
    }

    #[test]
    fn gpu_without_bridges_is_vfio() {
        let g = with(Guest::pseries_kvm(64 * GIB), &["0004:04:00.0"]);
        let b = budget(g, Release::Newest, &ac922()).unwrap();
        assert_eq!(b.computation.branch, Branch::Vfio);
        assert!(b.nv2_bridges.is_empty());
        assert_eq!(b.phb_count, 2);
    }

    #[test]
    fn empty_declared_phbs_take_isolation_groups_first() {
        let mut g = Guest::pseries_kvm(GIB);
        g.phbs.extend((1..3).map(|index| Phb {
            index,
            target_index: None,
            spapr: true,
        }));
        let one_group = with(g.clone(), &["0004:04:00.0", "0004:05:00.0"]);
        let b = budget(one_group, Release::Newest, &ac922()).unwrap();
        assert_eq!(b.phb_count, 3);
        g.occupied_buses.insert(1);
        g.occupied_buses.insert(2);
        let occupied = with(g, &["0004:04:00.0", "0035:03:00.0"]);
        let b = budget(occupied, Release::Newest, &ac922()).unwrap();
        assert_eq!(b.phb_count, 5);
    }

    #[test]
    fn absent_device_is_warned_and_not_isolated() {
        // libvirt cannot read the group: "device won't be isolated", so no PHB of its own
        // (libvirt memlock reference §7.1); before 3.6.0 there is no isolation at all.
        let g = with(Guest::pseries_kvm(GIB), &["0009:00:00.0", "0009:00:00.1"]);
        let b = budget(g.clone(), Release::Newest, &ac922()).unwrap();
        assert_eq!(b.phb_count, 1);
        assert!(b.warnings.iter().any(|w| w.contains("does not isolate it")));
        assert_eq!(
            b.warnings
                .iter()
                .filter(|w| w.contains("not a PCI device"))
                .count(),
            2
        );
    }

    #[test]
    fn memory_is_aligned_as_at_start() {
        const MIB: u64 = 1024;
        // 1000 MiB on ppc64 is sized as 1024 MiB (256 MiB steps).
        let b = budget(Guest::pseries_kvm(1000 * MIB), Release::Newest, &ac922()).unwrap();
        assert!(b.warnings.iter().any(|w| w.contains("1048576 KiB counted")));
        let aligned = budget(Guest::pseries_kvm(1024 * MIB), Release::Newest, &ac922()).unwrap();
        assert_eq!(
            b.computation.limit_bytes(),
            aligned.computation.limit_bytes()
        );
        // Each NUMA cell and DIMM separately: 3 x 100 MiB cells + a 100 MiB DIMM = 4 x 256 MiB.
        let mut g = Guest::pseries_kvm(400 * MIB);
        g.numa_cells_kib = vec![100 * MIB; 3];
        g.dimms_kib = vec![100 * MIB];
        let b = budget(g, Release::Newest, &ac922()).unwrap();
        let four = budget(Guest::pseries_kvm(1024 * MIB), Release::Newest, &ac922()).unwrap();
        assert_eq!(b.computation.limit_bytes(), four.computation.limit_bytes());
        // x86: 1 MiB steps.
        let mut x86 = Guest::pseries_kvm(1000 * MIB + 1);
        x86.arch = "x86_64".to_owned();
        x86.machine = Some("q35".to_owned());
        let b = budget(x86, Release::Newest, &ac922()).unwrap();
        assert!(
            b.warnings.iter().any(|w| w.contains("1025024 KiB counted")),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn generic_factor_nvme_and_vhost_vdpa_by_release() {
        let mut g = Guest::pseries_kvm(GIB);
        g.arch = "x86_64".to_owned();
        g.machine = Some("q35".to_owned());
        g.nvme_disks = 2;
        let f = |g: &Guest, v: &str| {
            budget(g.clone(), v.parse().unwrap(), &ac922())
                .unwrap()
                .generic_factor
        };
        // 9.0: the NVMe disks count with the hostdevs: one factor without a vIOMMU.
        assert_eq!(f(&g, "9.0.0"), Some(1));
        // 9.3: each NVMe disk its own.
        assert_eq!(f(&g, "9.3.0"), Some(2));
        g.nvme_disks = 0;
        g.vhost_vdpa_disks = 1;
        assert_eq!(f(&g, "9.7.0"), Some(0));
        assert_eq!(f(&g, "9.8.0"), Some(1));
    }

    #[test]
    fn fixed_addresses_are_kept() {
        let mut g = with(Guest::pseries_kvm(GIB), &["0006:00:00.0", "0004:04:00.0"]);
        if let Some(h) = g.pci_hostdevs.first_mut() {
            h.guest = Some(GuestAddress {
                bus: 0,
                slot: 1,
                function: 0,
            });
        }
        // The bridge sits on PHB 0 by the user's choice; the GPU still gets isolated.
        let b = budget(g, Release::Newest, &ac922()).unwrap();
        assert_eq!(b.phb_count, 2);
        assert_eq!(b.hostdevs.first().and_then(|h| h.guest_bus), Some(0));
    }

    #[test]
    fn releases() {
        let g = with(
            Guest::pseries_kvm(64 * GIB),
            &["0004:04:00.0", "0006:00:00.0"],
        );
        let at = |v: &str| budget(g.clone(), v.parse().unwrap(), &ac922()).unwrap();
        assert_eq!(at("5.3.0").computation.branch, Branch::Nvlink2);
        let old = at("5.2.0");
        assert_eq!(old.computation.branch, Branch::Vfio);
        assert!(old.warnings.iter().any(|w| w.contains("no NVLink2 branch")));
        assert_eq!(at("3.6.0").phb_count, 2);
        assert_eq!(at("3.5.0").phb_count, 1);
        let mut kvm_backend = g.clone();
        for h in &mut kvm_backend.pci_hostdevs {
            h.vfio_backend = false;
        }
        let b = |v: &str| budget(kvm_backend.clone(), v.parse().unwrap(), &ac922()).unwrap();
        assert_eq!(b("10.4.0").computation.branch, Branch::Base);
        assert_eq!(b("10.5.0").computation.branch, Branch::Nvlink2);
    }
}
