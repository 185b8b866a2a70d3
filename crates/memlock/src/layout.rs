//! Where QEMU (4.1 to 8.1, pseries-4.1 and later machine types) puts the assigned V100s' RAM
//! and their NVLink bridges' ATSD windows in the guest's physical memory, per vPHB.
//!
//! Constants and placement as in QEMU's `include/hw/pci-host/spapr.h` and
//! `hw/ppc/spapr_pci_nvlink2.c` (at `0f9668e0c1`; the code was removed in QEMU 8.2 by
//! `44fa20c928`): vPHB `i` has a 2 TiB GPU RAM window at `64 TiB + i × 2 TiB` and an ATSD
//! window at `128 TiB + i × 0x120000`. Walking the vPHB's devices, each GPU takes the next
//! piece of RAM window as large as its host RAM region (the host memory node's `reg` size:
//! 128 GiB on an AC922), each bridge the next 64 KiB of ATSD window (one 64 KiB page); GPU
//! and links pair by equal `ibm,device-tgt-addr`. Device order is taken to be document
//! order (libvirt hands out slots in that order). What each assigned device is on the host
//! (GPU RAM region, bridge target address and ATSD register) comes from
//! [`Host::nvlink2_device`].

use pci::PciAddress;

use super::{Guest, Host, HostdevInfo, Nvlink2Device, PhbPlacement};

/// `SPAPR_PCI_NV2RAM64_WIN_BASE`: 64 TiB.
pub const RAM_WINDOW_BASE: u64 = 0x4000_0000_0000;
/// `SPAPR_PCI_NV2RAM64_WIN_SIZE`: 2 TiB per vPHB.
pub const RAM_WINDOW_SIZE: u64 = 0x200_0000_0000;
/// `SPAPR_PCI_NV2ATSD_WIN_BASE`: 128 TiB.
pub const ATSD_WINDOW_BASE: u64 = 0x8000_0000_0000;
/// `SPAPR_PCI_NV2ATSD_WIN_SIZE`: 6 GPUs × 3 links × 64 KiB.
pub const ATSD_WINDOW_SIZE: u64 = 0x12_0000;
/// One ATSD region: a 64 KiB page.
pub const ATSD_REGION_SIZE: u64 = 0x1_0000;
/// `NVGPU_MAX_NUM`: GPUs per vPHB.
pub const MAX_GPUS: usize = 6;
/// `NVGPU_MAX_LINKS`: links per GPU.
pub const MAX_LINKS: usize = 3;

/// One GPU's RAM in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuPlacement {
    /// Host address of the GPU.
    pub address: PciAddress,
    /// Guest physical address of its RAM.
    pub gpa: u64,
    /// Size (the host region's).
    pub size: u64,
    /// Guest NUMA node QEMU gives it.
    pub numa_node: u64,
    /// Its links on this vPHB (bridges with the same target address).
    pub links: Vec<PciAddress>,
}

/// One bridge's ATSD window in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtsdPlacement {
    /// Host address of the bridge.
    pub bridge: PciAddress,
    /// Guest physical address.
    pub gpa: u64,
    /// The host ATSD register behind it.
    pub host_register: u64,
    /// True when the host kernel uses its NPU's register 0 for this link (the 5.7+ fallback).
    pub fallback: bool,
}

/// One vPHB's NVLink2 windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VphbLayout {
    /// QEMU's vPHB index.
    pub vphb: u32,
    /// Start of its GPU RAM window.
    pub ram_window: u64,
    /// Start of its ATSD window.
    pub atsd_window: u64,
    /// GPUs, in placement order.
    pub gpus: Vec<GpuPlacement>,
    /// ATSD windows, in placement order.
    pub atsd: Vec<AtsdPlacement>,
}

/// The preview.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// vPHBs holding NVLink2 devices, by index.
    pub vphbs: Vec<VphbLayout>,
    /// What QEMU would refuse or leave out.
    pub notes: Vec<String>,
}

/// `pseries-X.Y` at or below 4.0: QEMU's `phb_placement_4_0` gives no NVLink2 windows.
fn pre_4_1_machine(machine: Option<&str>) -> bool {
    let Some(version) = machine.and_then(|m| m.strip_prefix("pseries-")) else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) <= (4, 0),
        (Some(major), None) => major < 4,
        _ => false,
    }
}

/// The layout of the NVLink2 GPUs and bridges among `hostdevs`, or `None` when none is
/// assigned (or `host` knows of none: [`Host::nvlink2_device`]). `phbs` is the placement
/// [`super::budget`] made (empty: everything on vPHB 0).
pub fn preview(
    guest: &Guest,
    hostdevs: &[HostdevInfo],
    phbs: &[PhbPlacement],
    host: &dyn Host,
) -> Option<Layout> {
    let devices: Vec<(&HostdevInfo, Nvlink2Device)> = hostdevs
        .iter()
        .filter_map(|h| Some((h, host.nvlink2_device(h.address)?)))
        .collect();
    if devices.is_empty() {
        return None;
    }
    let mut layout = Layout::default();
    if pre_4_1_machine(guest.machine.as_deref()) {
        layout.notes.push(format!(
            "machine type {}: QEMU gives pseries-4.0 and older no NVLink2 windows",
            guest.machine.as_deref().unwrap_or("")
        ));
        return Some(layout);
    }
    let vphb_of = |bus: Option<u32>| {
        let bus = bus.unwrap_or(0);
        phbs.iter().find(|p| p.index == bus).map_or(bus, |p| p.vphb)
    };
    let mut indices: Vec<u32> = devices.iter().map(|(h, _)| vphb_of(h.guest_bus)).collect();
    indices.sort_unstable();
    indices.dedup();
    let mut numa = guest.numa_nodes.max(1);
    for vphb in indices {
        let ram_window = u64::from(vphb)
            .checked_mul(RAM_WINDOW_SIZE)
            .and_then(|o| o.checked_add(RAM_WINDOW_BASE));
        let atsd_window = u64::from(vphb)
            .checked_mul(ATSD_WINDOW_SIZE)
            .and_then(|o| o.checked_add(ATSD_WINDOW_BASE));
        let (Some(ram_window), Some(atsd_window)) = (ram_window, atsd_window) else {
            layout
                .notes
                .push(format!("vPHB {vphb}: windows beyond 64 bits"));
            continue;
        };
        let mut v = VphbLayout {
            vphb,
            ram_window,
            atsd_window,
            gpus: Vec::new(),
            atsd: Vec::new(),
        };
        let mut ram_next = ram_window;
        let mut atsd_next = atsd_window;
        let mut tgts = Vec::new();
        let mut bridges = Vec::new();
        for (h, device) in devices.iter().filter(|(h, _)| vphb_of(h.guest_bus) == vphb) {
            match device {
                Nvlink2Device::Gpu(gpu) => match gpu.ram {
                    Some(ram) => {
                        v.gpus.push(GpuPlacement {
                            address: h.address,
                            gpa: ram_next,
                            size: ram.size,
                            numa_node: numa,
                            links: Vec::new(),
                        });
                        tgts.push(ram.tgt_addr);
                        ram_next = ram_next.saturating_add(ram.size);
                        numa = numa.saturating_add(1);
                    }
                    None => layout.notes.push(format!(
                        "{}: the host's vfio gives no GPU RAM region, so the guest gets none",
                        h.address
                    )),
                },
                Nvlink2Device::Bridge(bridge) => {
                    if bridge.vfio_refuses {
                        layout.notes.push(format!(
                            "{}: the host's vfio refuses this NVLink bridge, QEMU sees no link",
                            h.address
                        ));
                        continue;
                    }
                    bridges.push((h.address, bridge.tgt_addr));
                    if let Some(atsd) = bridge.atsd {
                        v.atsd.push(AtsdPlacement {
                            bridge: h.address,
                            gpa: atsd_next,
                            host_register: atsd.address,
                            fallback: atsd.fallback,
                        });
                        atsd_next = atsd_next.saturating_add(ATSD_REGION_SIZE);
                    } else {
                        layout.notes.push(format!(
                            "{}: no ATSD register for its link on the host (ibm,mmio-atsd), and \
                             the host kernel has no fallback to register 0 (Linux 5.7+): no \
                             ATSD window",
                            h.address
                        ));
                    }
                }
            }
        }
        for (address, tgt) in bridges {
            let gpu = tgts
                .iter()
                .position(|t| t.is_some() && *t == tgt)
                .and_then(|i| v.gpus.get_mut(i));
            match gpu {
                Some(g) => g.links.push(address),
                None => layout.notes.push(format!(
                    "{address}: its GPU is not assigned on vPHB {vphb}, the link leads nowhere"
                )),
            }
        }
        for g in &v.gpus {
            if g.links.is_empty() {
                layout.notes.push(format!(
                    "{}: assigned without its NVLink bridges: the guest gets the GPU's RAM \
                     window but no NVLink2, and libvirt takes the VFIO branch unless another \
                     bridge is assigned",
                    g.address
                ));
            } else if g.links.len() > MAX_LINKS {
                layout.notes.push(format!(
                    "{}: {} links, QEMU takes at most {MAX_LINKS}",
                    g.address,
                    g.links.len()
                ));
            }
        }
        if v.gpus.len() > MAX_GPUS {
            layout.notes.push(format!(
                "vPHB {vphb}: {} GPUs, QEMU refuses more than {MAX_GPUS}",
                v.gpus.len()
            ));
        }
        if ram_next.saturating_sub(ram_window) > RAM_WINDOW_SIZE {
            layout
                .notes
                .push(format!("vPHB {vphb}: GPU RAM overflows the 2 TiB window"));
        }
        layout.vphbs.push(v);
    }
    Some(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types() {
        assert!(pre_4_1_machine(Some("pseries-4.0")));
        assert!(pre_4_1_machine(Some("pseries-3.1")));
        assert!(pre_4_1_machine(Some("pseries-2")));
        assert!(!pre_4_1_machine(Some("pseries-4.1")));
        assert!(!pre_4_1_machine(Some("pseries-5.2")));
        assert!(!pre_4_1_machine(Some("pseries")));
        assert!(!pre_4_1_machine(None));
        assert!(!pre_4_1_machine(Some("pseries-x")));
    }

    #[test]
    fn window_constants() {
        // 6 GPUs × 3 links × 64 KiB fill the ATSD window exactly.
        assert_eq!(
            ATSD_WINDOW_SIZE,
            (MAX_GPUS * MAX_LINKS) as u64 * ATSD_REGION_SIZE
        );
        // vPHB 1 starts where the reference's example says.
        assert_eq!(RAM_WINDOW_BASE + RAM_WINDOW_SIZE, 0x4200_0000_0000);
        assert_eq!(ATSD_WINDOW_BASE + ATSD_WINDOW_SIZE, 0x8000_0012_0000);
    }
}
