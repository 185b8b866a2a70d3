//! The host model: what a capture describes, before it is written as files.
//!
//! Section numbers (§) refer to the reference note on POWER9 NVLink2 hosts kept beside the
//! project (`reference/power9-nvlink2.md`), whose sources are the upstream files named there:
//! skiboot `hw/npu2.c`, `hw/phys-map.c`, `core/pci.c`, `hdata/test/op920.wsp.dts`, the Linux
//! 5.x powernv and vfio NVLink2 code, and a real AC922 boot log (linuxppc-dev, 2019-07-10).
//! `[G]` marks a value no source confirms (reasoned, realistic).

/// Which GPU board layout (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planar {
    /// 4 GPUs, 2 per socket, 3 links each to CPU ("Redbud", 8335-GTH).
    Redbud,
    /// 6 GPUs, 3 per socket, 2 links each to CPU ("Sequoia", 8335-GTW).
    Sequoia,
}

/// Where GPU memory apertures sit (§2.1 "GPU memory base per GPU").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuMap {
    /// `GPU_MEM_4T_UP`: 0x40000000000 + i * 0x2000000000.
    Up4T,
    /// `GPU_MEM_4T_DOWN`: 0x3e000000000 - i * 0x2000000000.
    Down4T,
}

/// Firmware generation (§2.3 (c) version history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware {
    /// skiboot v6.2+: 8 `ibm,mmio-atsd` registers and `ibm,supported-tce-sizes`; before: 1 and
    /// none.
    pub v6_2: bool,
    /// skiboot v6.3+: `ibm,opal-num-pes = 8` (else 16) and `ibm,nvlink-peers` on GPUs.
    pub v6_3: bool,
}

/// An NVLink2 GPU setup.
#[derive(Debug, Clone)]
pub struct Gpus {
    /// Board layout.
    pub planar: Planar,
    /// PCI device id: 0x1db1 (V100 SXM2 16 GB) or 0x1db5 (32 GB) (§1 "GPUs").
    pub device_id: u16,
    /// Memory the NVIDIA driver onlines per GPU node, in kB; 0 when it is not loaded (§2.4
    /// NUMA sysfs: 15 GiB = 15728640 kB for 16 GB parts [S hwloc], 32256 MB for 32 GB parts
    /// [S milanpro numactl]).
    pub onlined_kb: u64,
    /// GPU driver (`nvidia`, `vfio-pci`, …) and NVLink bridge driver (`ibmnpu`, `vfio-pci`).
    pub gpu_driver: &'static str,
    /// Driver of the NVLink bridge functions.
    pub bridge_driver: &'static str,
    /// GPU memory map.
    pub map: GpuMap,
    /// Firmware generation.
    pub firmware: Firmware,
    /// NVLink bridge functions absent from sysfs (a link down), as `DDDD:BB:DD.F`.
    pub missing_bridges: &'static [&'static str],
    /// Whether skiboot created the GPU memory nodes; without them the bridges'
    /// `memory-region` points to no node.
    pub memory_nodes: bool,
}

/// The CPU side of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// A 2-socket POWER9 PowerNV host (chips 0 and 8).
    Power9 {
        /// Hardware threads per chip: 80 on the AC922 boot-log box (20 cores SMT4), 88 on
        /// the 8335-GTW of the hwloc capture (22 cores).
        threads_per_chip: u32,
    },
    /// An x86-64 host with one NUMA node.
    X86,
}

/// A whole host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Capture file stem.
    pub name: &'static str,
    /// What the capture exercises (for testdata/README.md).
    pub about: &'static str,
    /// Host name (`/proc/sys/kernel/hostname`).
    pub hostname: &'static str,
    /// Kernel release.
    pub kernel: &'static str,
    /// Machine type-model (`model` in the device tree, `/proc/cpuinfo`).
    pub model: &'static str,
    /// CPU side.
    pub arch: Arch,
    /// NVLink2 GPUs, if any.
    pub gpus: Option<Gpus>,
}

const NEW_FW: Firmware = Firmware {
    v6_2: true,
    v6_3: true,
};

fn ac922_4gpu() -> Gpus {
    Gpus {
        planar: Planar::Redbud,
        device_id: 0x1db1,
        onlined_kb: 15_728_640,
        gpu_driver: "nvidia",
        bridge_driver: "ibmnpu",
        map: GpuMap::Up4T,
        firmware: NEW_FW,
        missing_bridges: &[],
        memory_nodes: true,
    }
}

/// Every generated capture.
pub fn hosts() -> Vec<Host> {
    let p9_80 = Arch::Power9 {
        threads_per_chip: 80,
    };
    vec![
        Host {
            name: "ac922-4gpu-16gb-nvidia",
            about: "AC922 8335-GTH, 4 x V100 SXM2 16 GB on the nvidia driver (NVLink bridges on ibmnpu); current firmware: 8 ATSD registers, `ibm,nvlink-peers`; GPU memory onlined in NUMA nodes 252-255 (4T_UP map).",
            hostname: "wsp-4gpu",
            kernel: "5.10.0",
            model: "8335-GTH",
            arch: p9_80,
            gpus: Some(ac922_4gpu()),
        },
        Host {
            name: "ac922-6gpu-32gb-vfio",
            about: "AC922 8335-GTW (Summit node), 6 x V100 SXM2 32 GB, GPUs and NVLink bridges bound to vfio-pci; older firmware: 1 ATSD register, no `ibm,nvlink-peers`, 16 PEs; GPU memory map growing down from 0x3e000000000 (4T_DOWN); GPU NUMA nodes 250-255 empty.",
            hostname: "summit-6gpu",
            kernel: "5.4.0",
            model: "8335-GTW",
            arch: Arch::Power9 {
                threads_per_chip: 88,
            },
            gpus: Some(Gpus {
                planar: Planar::Sequoia,
                device_id: 0x1db5,
                onlined_kb: 0,
                gpu_driver: "vfio-pci",
                bridge_driver: "vfio-pci",
                map: GpuMap::Down4T,
                firmware: Firmware {
                    v6_2: false,
                    v6_3: false,
                },
                missing_bridges: &[],
                memory_nodes: true,
            }),
        },
        Host {
            name: "ac922-4gpu-link-down",
            about: "As ac922-4gpu-16gb-nvidia, but NVLink bridge function 0007:00:01.2 (GPU4's third link, chip 8) is missing from sysfs while the device tree still describes it: a link down.",
            hostname: "wsp-linkdown",
            kernel: "5.10.0",
            model: "8335-GTH",
            arch: p9_80,
            gpus: Some(Gpus {
                missing_bridges: &["0007:00:01.2"],
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-4gpu-no-gpu-memory",
            about: "As ac922-4gpu-16gb-nvidia, but firmware created no GPU memory nodes: every NVLink bridge's `memory-region` points to no node, and NUMA nodes 252-255 are absent.",
            hostname: "wsp-nomem",
            kernel: "5.10.0",
            model: "8335-GTH",
            arch: p9_80,
            gpus: Some(Gpus {
                memory_nodes: false,
                onlined_kb: 0,
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "power9-no-gpu",
            about: "A 2-socket POWER9 PowerNV host without GPUs or NPU (an LC922-like 9006-22P [G]): device tree, PHB4s, NVMe and Ethernet, NUMA nodes 0 and 8 only.",
            hostname: "p9-nogpu",
            kernel: "5.10.0",
            model: "9006-22P",
            arch: p9_80,
            gpus: None,
        },
        Host {
            name: "x86-v100-pcie",
            about: "An x86-64 host with a PCIe V100 (10de:1db4) on the nvidia driver: no device tree, no `/proc/device-tree`, no NVLink2.",
            hostname: "x86-gpu",
            kernel: "5.10.0-28-amd64",
            model: "x86",
            arch: Arch::X86,
            gpus: None,
        },
    ]
}

/// The GPU memory aperture base for GPU `index` (group) on `chip` (§2.1: `phys_map_get` +
/// `chip << 42`, 128 GiB each).
pub fn gpu_mem_base(map: GpuMap, chip: u32, index: u32) -> u64 {
    let step = 0x20_0000_0000u64 * u64::from(index);
    let base = match map {
        GpuMap::Up4T => 0x400_0000_0000 + step,
        GpuMap::Down4T => 0x3e0_0000_0000 - step,
    };
    base + (u64::from(chip) << 42)
}

/// GPU memory aperture size: 128 GiB whatever the GPU has (§2.1).
pub const GPU_MEM_SIZE: u64 = 0x20_0000_0000;

/// `ibm,device-tgt-addr` from a GMB base (§2.1, skiboot hw/npu2.c `npu2_dn_fixup_gmb`).
pub fn tgt_addr(base: u64) -> u64 {
    ((base >> 42) & 1) << 42
        | ((base >> 45) & 3) << 43
        | ((base >> 49) & 3) << 45
        | (base & ((1 << 43) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_table_of_the_reference() {
        // §2.2: GMB bases and target addresses, 4T_UP.
        assert_eq!(gpu_mem_base(GpuMap::Up4T, 0, 1), 0x420_0000_0000);
        assert_eq!(gpu_mem_base(GpuMap::Up4T, 8, 0), 0x2400_0000_0000);
        assert_eq!(tgt_addr(0x400_0000_0000), 0x400_0000_0000);
        assert_eq!(tgt_addr(0x2400_0000_0000), 0xc00_0000_0000);
        assert_eq!(tgt_addr(0x2420_0000_0000), 0xc20_0000_0000);
        assert_eq!(tgt_addr(0x2440_0000_0000), 0xc40_0000_0000);
        // 4T_DOWN (§2.2 "If the map is 4T_DOWN instead").
        assert_eq!(gpu_mem_base(GpuMap::Down4T, 0, 2), 0x3a0_0000_0000);
        assert_eq!(gpu_mem_base(GpuMap::Down4T, 8, 0), 0x23e0_0000_0000);
        assert_eq!(
            tgt_addr(gpu_mem_base(GpuMap::Down4T, 8, 0)),
            0xbe0_0000_0000
        );
        assert_eq!(
            tgt_addr(gpu_mem_base(GpuMap::Down4T, 8, 2)),
            0xba0_0000_0000
        );
    }
}
