//! The host model: what a capture describes, before it is written as files.
//!
//! Section numbers (§) refer to the reference note on POWER9 NVLink2 hosts kept beside the
//! project (`reference/power9-nvlink2.md`), whose sources are the upstream files named there:
//! skiboot `hw/npu2.c`, `hw/phys-map.c`, `core/pci.c`, `hdata/test/op920.wsp.dts`, the Linux
//! 4.x/5.x powernv and vfio NVLink2 code, a real AC922 boot log (linuxppc-dev, 2019-07-10)
//! and a real 8335-GTW capture (open-mpi/hwloc `tests/hwloc/linux/nvidiagpunumanodes`).
//! §7 lists how real hosts differ across kernels, firmware levels and GPU populations; the
//! hosts below cover those shapes. `[G]` marks a value no source confirms (reasoned,
//! realistic).

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

/// The running kernel, as far as the NVLink2 layout depends on it (§7 "Real hosts across
/// kernels").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// `uname -r`.
    pub release: &'static str,
    /// Whether Linux probes the NPU PHBs (`ibm,ioda2-npu2-phb`), so that the NVLink bridge
    /// functions (domains 0006/0007) exist in sysfs: true before 5.13. torvalds/linux
    /// `562d1e207d32` "powerpc/powernv: remove the nvlink support" (v5.13) drops the probe
    /// from `arch/powerpc/platforms/powernv/pci.c` `pnv_pci_init`.
    pub npu_probed: bool,
    /// How a GPU and its NVLink bridges share IOMMU groups.
    pub groups: Grouping,
    /// Whether `devspec` ends with a newline: from 5.13, when Linux
    /// `drivers/pci/pci-sysfs.c` `devspec_show` moved to `sysfs_emit(buf, "%pOF\n", np)`;
    /// before, `sprintf(buf, "%pOF", np)` (§7 "other details").
    pub devspec_newline: bool,
    /// Whether `/sys/kernel/iommu_groups/N/type` exists: torvalds/linux `c52c72d3dee8`
    /// "iommu: Add sysfs attribyte for domain type" (`drivers/iommu/iommu.c`
    /// `iommu_group_show_type`, created in `iommu_group_alloc`), present in a 4.19 tree; its
    /// newline fix `24f307d8abf7` was backported to 4.19.y (no 4.14.y backport found). So
    /// 4.19+ has it, upstream 4.14 not [G for RHEL's 4.14, which may carry backports].
    /// It prints the group's default domain type, `unknown` when the group has none.
    pub iommu_group_type: bool,
    /// PCI drivers built into the kernel that bind nothing on the modelled hosts: each still
    /// has its directory under `/sys/bus/pci/drivers` (registration creates it,
    /// `drivers/base/bus.c` `bus_add_driver`). Debian builds the 8250 PCI serial driver in
    /// (`CONFIG_SERIAL_8250_PCI=y` in Debian 12's 6.1 ppc64el config, whose live capture shows
    /// the empty `serial/`, `drivers/tty/serial/8250/8250_pci.c` `.name = "serial"`) [G: that
    /// Debian 11's 5.10 configs set it too]. Empty for the other distributions (unknown).
    pub idle_pci_drivers: &'static [&'static str],
}

/// IOMMU grouping of GPUs and NVLink bridges (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Linux 5.0-5.12: one compound group per NPU: every GPU of the socket and all six of the
    /// NPU's bridges (`npu-dma.c` `pnv_try_setup_npu_table_group`; boot log groups 5 and 10).
    PerNpu,
    /// Linux < 5.0: one group per GPU PE, the GPU and only its own bridges (4.19 `npu-dma.c`
    /// `pnv_pci_npu_setup_iommu`). Also what a >= 5.13 kernel shows: no NPU, so each GPU is
    /// alone in its PHB4 PE's group [G].
    PerGpu,
}

impl Kernel {
    /// RHEL 7.5 for POWER9 ("ALT"), the kernel of the real 8335-GTW hwloc capture (§6 item 3).
    pub const EL7A_4_14: Kernel = Kernel {
        release: "4.14.0-49.el7a.ppc64le",
        npu_probed: true,
        groups: Grouping::PerGpu,
        devspec_newline: false,
        iommu_group_type: false,
        idle_pci_drivers: &[],
    };
    /// Ubuntu 20.04's 5.4 [G on the release string]: compound groups, vfio NVLink2 without
    /// the ATSD fallback (5.0-5.6, §7 "vfio ATSD").
    pub const UBUNTU_5_4: Kernel = Kernel {
        release: "5.4.0-150-generic",
        npu_probed: true,
        groups: Grouping::PerNpu,
        devspec_newline: false,
        iommu_group_type: true,
        idle_pci_drivers: &[],
    };
    /// Debian 11's 5.10 [G on the release string], the last LTS with NVLink2 (§5): compound
    /// groups, vfio with the `ibm,mmio-atsd[0]` fallback (5.7+).
    pub const DEBIAN_5_10: Kernel = Kernel {
        release: "5.10.0-28-powerpc64le",
        npu_probed: true,
        groups: Grouping::PerNpu,
        devspec_newline: false,
        iommu_group_type: true,
        idle_pci_drivers: &["serial"],
    };
    /// RHEL 9.2's 5.14: no NPU PHBs at all (§7 row 1).
    pub const EL9_5_14: Kernel = Kernel {
        release: "5.14.0-284.11.1.el9_2.ppc64le",
        npu_probed: false,
        groups: Grouping::PerGpu,
        devspec_newline: true,
        iommu_group_type: true,
        idle_pci_drivers: &[],
    };
    /// Debian 11's x86-64 5.10 (no device tree, so only the release matters).
    pub const DEBIAN_5_10_AMD64: Kernel = Kernel {
        release: "5.10.0-28-amd64",
        npu_probed: false,
        groups: Grouping::PerGpu,
        devspec_newline: false,
        iommu_group_type: true,
        idle_pci_drivers: &["serial"],
    };
}

/// The firmware a POWER9 host runs (§2.3 (c) version history, §7 "firmware levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware {
    /// `/ibm,opal/firmware/version`: the running skiboot's version string (skiboot
    /// `core/opal.c` `add_opal_firmware_node`; `make_version.sh`: `git describe`, e.g.
    /// `v6.0.23`; a Buildroot (op-build) build may carry a `skiboot-` prefix, which
    /// `core/flash-firmware-versions.c` strips before comparing).
    pub skiboot: &'static str,
    /// Registers in the NPU PHBs' `ibm,mmio-atsd`: 1 up to skiboot 6.1 and on the whole 6.0.x
    /// branch, 8 from v6.2 (`0fa446cc21cb`).
    pub atsd_registers: u32,
    /// `ibm,supported-tce-sizes` on the NPU PHBs: skiboot 6.0.15+ and 6.2+ (`003ccd577516`).
    pub tce_sizes: bool,
    /// skiboot v6.3+: `ibm,opal-num-pes = 8` (else 16) and `ibm,nvlink-peers` on GPUs
    /// (`b3bc840c1d85`, `b392d785eb49`).
    pub v6_3: bool,
    /// skiboot v6.2+ NPU2 device detection (`b6cc82cb3` "hw/npu2, platform: Add NPU2
    /// platform device detection callback"): every xscom link node gets `ibm,npu-link-type`
    /// (hw/npu2-common.c `setup_devices`; 6.0.x writes none), and on Redbud skiboot asks the
    /// OCC which GPU slots are fitted (platforms/astbmc/witherspoon.c
    /// `witherspoon_npu2_device_detect`), so the links of an empty slot say `"unknown"` while
    /// the NPU still gets all six bridge functions (hw/npu2.c `npu2_populate_devices`).
    pub device_detect: bool,
    /// The PNOR VERSION partition, which skiboot parses into `/ibm,firmware-versions`
    /// (`core/flash-firmware-versions.c`); `None` where there is no PNOR (QEMU). The text's
    /// shape is op-build's (`openpower/package/VERSION.readme`: `$(vendor)-$(platform)-
    /// $(op-version)`, then one tab-indented `$(package)-$(version)` line per package);
    /// the component levels are [G], in the style of real OpenPOWER VERSION strings.
    pub pnor_version: Option<&'static str>,
}

/// OP920-era firmware: skiboot 6.0.23 (6.0.x stable branch, tag `v6.0.23`, 2020-04): one ATSD
/// register, 16 PEs, no `ibm,nvlink-peers`, but `ibm,supported-tce-sizes` (6.0.15+). The
/// version string without prefix [G].
pub const FW_OP920: Firmware = Firmware {
    skiboot: "v6.0.23",
    atsd_registers: 1,
    tce_sizes: true,
    v6_3: false,
    device_detect: false,
    pnor_version: Some(
        "IBM-witherspoon-OP9-v2.0.14-2.80\n\top-build-v2.0.14-8-g5e1f0f9\n\tbuildroot-2018.02.1-6-ga8d1126\n\tskiboot-v6.0.23\n\thostboot-4b6f7d3-pa7be6c0\n\tocc-77bb5e6\n\tlinux-4.16.13-openpower1-p2a7a7b0\n\tpetitboot-v1.7.5-p8f5fc86\n\tmachine-xml-7cd20a6\n\thostboot-binaries-hw080418a.920\n\tcapp-ucode-p9-dd2-v4\n\tsbe-8e0105e\n\thcode-hw052318a.920\n",
    ),
};

/// The first POWER9 GA firmware: skiboot 6.0.1 (2018-05): one ATSD register, 16 PEs, no
/// peers, no `ibm,supported-tce-sizes` (before 6.0.15). With the Buildroot `skiboot-`
/// prefix [G].
pub const FW_OP920_GA: Firmware = Firmware {
    skiboot: "skiboot-v6.0.1",
    atsd_registers: 1,
    tce_sizes: false,
    v6_3: false,
    device_detect: false,
    pnor_version: Some(
        "IBM-witherspoon-OP9-v2.0-1.21\n\top-build-v2.0-1-g4a3b5c7\n\tbuildroot-2018.02.1-6-ga8d1126\n\tskiboot-v6.0.1\n\thostboot-8d3ef7d-p4b9b1b4\n\tocc-77bb5e6\n\tlinux-4.16.8-openpower1-p2a7a7b0\n\tpetitboot-v1.7.1-p8f5fc86\n\tmachine-xml-7cd20a6\n\thostboot-binaries-hw051018a.920\n\tcapp-ucode-p9-dd2-v4\n\tsbe-8e0105e\n\thcode-hw051018a.920\n",
    ),
};

/// OP940-era firmware: skiboot 6.5.4 (tag `v6.5.4`, 2020-03): 8 ATSD registers, 8 PEs,
/// `ibm,nvlink-peers`. With the Buildroot `skiboot-` prefix [G]; the component levels follow
/// a real op-build 2020 VERSION string (openbmc mailing list, "ExtendedVersion" example) [G].
pub const FW_OP940: Firmware = Firmware {
    skiboot: "skiboot-v6.5.4",
    atsd_registers: 8,
    tce_sizes: true,
    v6_3: true,
    device_detect: true,
    pnor_version: Some(
        "IBM-witherspoon-OP9-v2.4-4.94\n\top-build-v2.4-9-gd5ed9d0\n\tbuildroot-2019.05.3-17-g522600d\n\tskiboot-v6.5.4\n\thostboot-820a099-pe030f7b\n\tocc-3ab2921\n\tlinux-5.4.33-openpower1-p2339fe8\n\tpetitboot-v1.12\n\tmachine-xml-0f9b366-p7fb7a8d\n\thostboot-binaries-hw013120a.opmst\n\tcapp-ucode-p9-dd2-v4\n\tsbe-0a77603\n\thcode-hw031620a.opmst\n",
    ),
};

/// Firmware of the GPU-less POWER9 host (an LC922-like board, op-build platform `p9dsu`)
/// [G].
pub const FW_P9DSU: Firmware = Firmware {
    pnor_version: Some(
        "IBM-p9dsu-OP9-v2.4-4.94\n\top-build-v2.4-9-gd5ed9d0\n\tbuildroot-2019.05.3-17-g522600d\n\tskiboot-v6.5.4\n\thostboot-820a099-pe030f7b\n\tocc-3ab2921\n\tlinux-5.4.33-openpower1-p2339fe8\n\tpetitboot-v1.12\n\tmachine-xml-a6f4df3\n\thostboot-binaries-hw013120a.opmst\n\tcapp-ucode-p9-dd2-v4\n\tsbe-0a77603\n\thcode-hw031620a.opmst\n",
    ),
    ..FW_OP940
};

/// An NVLink2 GPU setup.
#[derive(Debug, Clone)]
pub struct Gpus {
    /// Board layout.
    pub planar: Planar,
    /// PCI device id: 0x1db1 (V100 SXM2 16 GB) or 0x1db5 (32 GB) (§1 "GPUs").
    pub device_id: u16,
    /// Memory the NVIDIA driver onlines per GPU node, in kB; 0 when it has not (§7 "GPU
    /// memory size": 15728640 kB for 16 GB parts [S hwloc], 32256 MB = 33030144 kB for 32 GB
    /// parts [S milanpro numactl]; 0 kB with vfio-pci or before `nvidia-persistenced`).
    pub onlined_kb: u64,
    /// GPU driver (`nvidia`, `vfio-pci`, …).
    pub gpu_driver: &'static str,
    /// Driver of the NVLink bridge functions (`ibmnpu`, `vfio-pci`).
    pub bridge_driver: &'static str,
    /// GPU memory map.
    pub map: GpuMap,
    /// Single NVLink bridge functions absent from sysfs, as `DDDD:BB:DD.F` (no known cause
    /// explains one function vanishing alone: §7 "bridge functions missing from the bus").
    pub missing_bridges: &'static [&'static str],
    /// GPU slots (`GPUn` labels, n = 0..5) whose every NVLink bridge function is gone from
    /// sysfs while the device tree still describes them: the GPU's NPU PE was removed after an
    /// EEH permanent failure (Linux `arch/powerpc/kernel/eeh_driver.c`
    /// `eeh_handle_normal_event` → `pci_hp_remove_devices`; NVIDIA `ibmnpu` "NPU FENCE
    /// detected") (§7).
    pub removed_gpu_bridges: &'static [u32],
    /// GPU slots (`GPUn` labels) with no GPU fitted: the slot's bridges still exist, without
    /// `ibm,gpu` (§7 "partly populated board").
    pub empty_slots: &'static [u32],
    /// Whether skiboot created the GPU memory nodes; without them the bridges'
    /// `memory-region` points to no node.
    pub memory_nodes: bool,
}

impl Gpus {
    /// The number of GPU slots per socket of the planar (§1).
    pub fn slots_per_chip(&self) -> u32 {
        match self.planar {
            Planar::Redbud => 2,
            Planar::Sequoia => 3,
        }
    }

    /// `Size:` in `numa_status` for an onlined GPU: 0x3f0000000 for the 16 GB part [S hwloc
    /// capture, whose node shows MemTotal 15728640 kB]; for the 32 GB part 0x7e0000000 [G:
    /// twice that].
    pub fn numa_status_size(&self) -> u64 {
        if self.device_id == 0x1db5 {
            0x7_e000_0000
        } else {
            0x3_f000_0000
        }
    }
}

/// The CPU side of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// A 2-socket POWER9 PowerNV host (chips 0 and 8).
    Power9 {
        /// Hardware threads per chip: 80 on the AC922 boot-log box (20 cores SMT4), 88 on
        /// the 8335-GTW of the hwloc capture (22 cores).
        threads_per_chip: u32,
        /// Firmware level.
        firmware: Firmware,
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
    /// Kernel.
    pub kernel: Kernel,
    /// Machine type-model (`model` in the device tree, `/proc/cpuinfo`).
    pub model: &'static str,
    /// CPU side.
    pub arch: Arch,
    /// NVLink2 GPUs, if any.
    pub gpus: Option<Gpus>,
}

fn ac922_4gpu() -> Gpus {
    Gpus {
        planar: Planar::Redbud,
        device_id: 0x1db1,
        onlined_kb: 15_728_640,
        gpu_driver: "nvidia",
        bridge_driver: "ibmnpu",
        map: GpuMap::Up4T,
        missing_bridges: &[],
        removed_gpu_bridges: &[],
        empty_slots: &[],
        memory_nodes: true,
    }
}

/// Every generated capture.
pub fn hosts() -> Vec<Host> {
    let wsp = |firmware| Arch::Power9 {
        threads_per_chip: 80,
        firmware,
    };
    vec![
        Host {
            name: "ac922-4gpu-16gb-nvidia",
            about: "AC922 8335-GTH, 4 x V100 SXM2 16 GB on the nvidia driver (NVLink bridges on ibmnpu), kernel 5.10 (compound IOMMU group per NPU: 5 and 10); OP940-era firmware (skiboot 6.5.4: 8 ATSD registers, `ibm,nvlink-peers`, 8 PEs); GPU memory onlined (15728640 kB, `numa_status` online) in NUMA nodes 252-255 (4T_UP map, 128 GiB windows). A healthy host: no finding.",
            hostname: "wsp-4gpu",
            kernel: Kernel::DEBIAN_5_10,
            model: "8335-GTH",
            arch: wsp(FW_OP940),
            gpus: Some(ac922_4gpu()),
        },
        Host {
            name: "ac922-6gpu-32gb-vfio",
            about: "AC922 8335-GTW fitted with 6 x V100 SXM2 32 GB, GPUs and NVLink bridges bound to vfio-pci, kernel 5.4 (no ATSD fallback, 5.0-5.6); OP920 firmware (skiboot 6.0.23: 1 ATSD register, no `ibm,nvlink-peers`, 16 PEs); GPU memory map growing down from 0x3e000000000 (4T_DOWN); GPU NUMA nodes 250-255 hold 0 kB (vfio). Expected: the ATSD warning for every bridge on link 1-5 (only `ibm,mmio-atsd[0]` exists), no `gpu-memory-offline` (vfio, not nvidia).",
            hostname: "gtw-6gpu",
            kernel: Kernel::UBUNTU_5_4,
            model: "8335-GTW",
            arch: Arch::Power9 {
                threads_per_chip: 88,
                firmware: FW_OP920,
            },
            gpus: Some(Gpus {
                planar: Planar::Sequoia,
                device_id: 0x1db5,
                onlined_kb: 0,
                gpu_driver: "vfio-pci",
                bridge_driver: "vfio-pci",
                map: GpuMap::Down4T,
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-4gpu-kernel-5.14",
            about: "AC922 8335-GTH, 4 x V100 SXM2 16 GB, healthy, on RHEL 9.2's kernel 5.14: the NPU PHBs are not probed (Linux >= 5.13), so domains 0006/0007 and every `1014:04ea` bridge are absent from sysfs while the device tree still has the NPU PHBs, bridges, `ibm,npu` and GPU `memory@` nodes; each GPU alone in its IOMMU group; nvidia driver without onlined memory (nodes 252-255 at 0 kB, no `numa_status`); `devspec` ends with a newline. Expected: `nvlink2-kernel-unsupported` (warning, host-wide), no `link-missing`; the 0 kB GPU nodes follow from it (without the NPU the driver cannot online GPU memory).",
            hostname: "wsp-el9",
            kernel: Kernel::EL9_5_14,
            model: "8335-GTH",
            arch: wsp(FW_OP940),
            gpus: Some(Gpus {
                onlined_kb: 0,
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-2gpu-16gb-nvidia",
            about: "AC922 8335-GTH with 2 x V100 SXM2 16 GB, one per socket (slots GPU0 0004:04:00.0 and GPU3 0035:03:00.0; GPU1 and GPU4 empty), kernel 5.10, OP940 firmware. skiboot still creates all six bridge functions per NPU (all in sysfs, one compound IOMMU group per NPU) and all four GPU `memory@` nodes; the empty slots' bridges (0006:00:01.0-.2, 0007:00:01.0-.2) have no `ibm,gpu`; the fitted GPUs' `ibm,nvlink-peers` entries for the absent GPU are phandle 0. Memory onlined on nodes 255 and 253; nodes 254 and 252 hold 0 kB. Expected: `gpu-slot-empty` (info) for each of the 6 empty-slot bridges, nothing worse.",
            hostname: "wsp-2gpu",
            kernel: Kernel::DEBIAN_5_10,
            model: "8335-GTH",
            arch: wsp(FW_OP940),
            gpus: Some(Gpus {
                empty_slots: &[1, 4],
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-6gpu-16gb-kernel-4.14",
            about: "AC922 8335-GTW as in the real hwloc capture: 6 x V100 SXM2 16 GB on nvidia + ibmnpu, RHEL 7.5 ALT kernel 4.14.0-49.el7a, 88 threads per chip; one IOMMU group per GPU PE (the GPU and its own 2 bridges: Linux < 5.0); GPU memory onlined (15728640 kB, `numa_status` online) in nodes 250-255; first POWER9 GA firmware (skiboot 6.0.1: 1 ATSD register, 16 PEs, no peers, no TCE sizes); `devspec` without newline. Expected: no finding (no ATSD warning: not a 5.0-5.6 kernel).",
            hostname: "gtw-el7a",
            kernel: Kernel::EL7A_4_14,
            model: "8335-GTW",
            arch: Arch::Power9 {
                threads_per_chip: 88,
                firmware: FW_OP920_GA,
            },
            gpus: Some(Gpus {
                planar: Planar::Sequoia,
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-4gpu-5.10-one-atsd",
            about: "AC922 8335-GTH, 4 x V100 SXM2 16 GB, GPUs and bridges on vfio-pci, kernel 5.10 with OP920 firmware (skiboot 6.0.23: one `ibm,mmio-atsd` entry, no peers, 16 PEs): vfio on 5.7+ falls back to `ibm,mmio-atsd[0]`. GPU nodes 252-255 at 0 kB (vfio). Expected: no ATSD warning, no `gpu-memory-offline`.",
            hostname: "wsp-oneatsd",
            kernel: Kernel::DEBIAN_5_10,
            model: "8335-GTH",
            arch: wsp(FW_OP920),
            gpus: Some(Gpus {
                onlined_kb: 0,
                gpu_driver: "vfio-pci",
                bridge_driver: "vfio-pci",
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-4gpu-eeh-removed",
            about: "As ac922-4gpu-16gb-nvidia, but all three NVLink bridge functions of GPU4 (0035:04:00.0, chip 8; bridges 0007:00:01.0-.2) are gone from sysfs while the device tree still describes them: the GPU's NPU PE was removed after an EEH permanent failure (NPU fence). GPU4 stays on the bus on nvidia with its memory still onlined (the removal came after boot). Expected: `link-missing` as an error naming the removed PE (all of the GPU's bridges gone).",
            hostname: "wsp-eeh",
            kernel: Kernel::DEBIAN_5_10,
            model: "8335-GTH",
            arch: wsp(FW_OP940),
            gpus: Some(Gpus {
                removed_gpu_bridges: &[4],
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "ac922-4gpu-no-gpu-memory",
            about: "As ac922-4gpu-16gb-nvidia, but firmware created no GPU memory nodes: every NVLink bridge's `memory-region` points to no node, and NUMA nodes 252-255 are absent; the nvidia driver onlined nothing (no `numa_status`).",
            hostname: "wsp-nomem",
            kernel: Kernel::DEBIAN_5_10,
            model: "8335-GTH",
            arch: wsp(FW_OP940),
            gpus: Some(Gpus {
                memory_nodes: false,
                onlined_kb: 0,
                ..ac922_4gpu()
            }),
        },
        Host {
            name: "power9-no-gpu",
            about: "A 2-socket POWER9 PowerNV host without GPUs or NPU (an LC922-like 9006-22P [G]): device tree, PHB4s, NVMe and Ethernet, NUMA nodes 0 and 8 only. Expected: no NVLink2 finding.",
            hostname: "p9-nogpu",
            kernel: Kernel::DEBIAN_5_10,
            model: "9006-22P",
            arch: wsp(FW_P9DSU),
            gpus: None,
        },
        Host {
            name: "x86-v100-pcie",
            about: "An x86-64 host with a PCIe V100 (10de:1db4) on the nvidia driver: no device tree, no `/proc/device-tree`, no NVLink2.",
            hostname: "x86-gpu",
            kernel: Kernel::DEBIAN_5_10_AMD64,
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
