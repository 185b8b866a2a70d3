//! Turns a [`Host`] into the files of a capture.

use anyhow::Result;
use lsnvlink::capture::{Capture, Manifest, Tree};

use super::dt::Dt;
use super::model::{
    Arch, Firmware, GPU_MEM_SIZE, Gpus, Grouping, Host, Planar, gpu_mem_base, tgt_addr,
};
use super::pci::{self, Dev, MEM32, MEM64, MEM64_PREF};

/// The POWER9 chips: `ibm,chip-id` 0 and 8 (§1 "Sockets").
const CHIPS: [u32; 2] = [0, 8];
/// PHB4 indices present per chip on Witherspoon: all six on chip 0, 0/3/4/5 on chip 8 (§2.1).
const PHB4S: [&[u32]; 2] = [&[0, 1, 2, 3, 4, 5], &[0, 3, 4, 5]];
/// xscom node phandles and their `npu@5011000` / `link@0` phandles [S op920-dts, §2.3 (a)(b)].
const XSCOM_PHANDLE: [u32; 2] = [0xc6, 0xe4];
const NPU_PHANDLE: [u32; 2] = [0x173, 0x17a];
const LINK0_PHANDLE: [u32; 2] = [0x174, 0x17b];
/// `/ibm,pcie-slots/.../down-port@X/builtin` phandles of slots GPU0-2 and GPU3-5 [S op920-dts].
const GPU_SLOT_PHANDLE: [[u32; 3]; 2] = [[0x155, 0x157, 0x159], [0x16e, 0x170, 0x172]];
/// Serial numbers of the op920 machine (system 7887E6A, chips YA1934740459/YA1934727469).
const SYSTEM_ID: &str = "7887E6A";
const CHIP_SERIAL: [&str; 2] = ["YA1934740459", "YA1934727469"];
/// System RAM per chip: `/memory@0` `reg <0x0 0x0 0x40 0x0>` = 256 GiB [S op920-dts].
const RAM_PER_CHIP: u64 = 0x40_0000_0000;

/// The NVLink group of each of a chip's six links (§2.3 (b) `ibm,npu-group-id`).
fn link_groups(planar: Planar) -> [u32; 6] {
    match planar {
        Planar::Redbud => [0, 0, 0, 1, 1, 1],
        Planar::Sequoia => [0, 0, 1, 1, 2, 2],
    }
}

/// Builds the capture of `host`.
pub fn capture(host: &Host) -> Result<Capture> {
    let mut tree = Tree::new();
    tree.insert_file(
        "proc/sys/kernel/osrelease",
        format!("{}\n", host.kernel.release).into_bytes(),
    )?;
    tree.insert_file(
        "proc/sys/kernel/hostname",
        format!("{}\n", host.hostname).into_bytes(),
    )?;
    match host.arch {
        Arch::Power9 {
            threads_per_chip,
            firmware,
        } => power9(&mut tree, host, threads_per_chip, &firmware)?,
        Arch::X86 => x86(&mut tree, host)?,
    }
    let mut manifest = Manifest::fixed("cargo xtask testdata");
    manifest.kernel_release = Some(host.kernel.release.to_owned());
    manifest.hostname = Some(host.hostname.to_owned());
    manifest.allowlist = lsnvlink::capture::allowlist::rules()
        .into_iter()
        .map(|r| r.pattern)
        .collect();
    Ok(Capture { tree, manifest })
}

/// A node path's class-based name (skiboot core/pci.c `pci_class_name`, for the classes the
/// model uses).
fn class_name(class: u32) -> &'static str {
    match class >> 8 {
        0x0106 => "sata",
        0x0108 => "mass-storage",
        0x0200 => "ethernet",
        0x0207 => "network",
        0x0300 => "vga",
        0x0302 => "3d-controller",
        0x0604 => "pci",
        0x0680 => "unknown-bridge",
        0x0880 => "system-peripheral",
        0x0c03 if class & 0xff == 0x30 => "usb-xhci",
        _ => "device",
    }
}

/// Hands out phandles to run-time nodes in creation order, after the last op920 one (0x180):
/// PHBs, then PCI devices, then GPU memory (§2.3: "PHB nodes < PCI nodes < GPU memory
/// nodes") [G on the numbers].
struct Phandles(u32);

impl Phandles {
    fn next(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
}

/// One GPU slot of the model (fitted or empty).
struct Gpu {
    chip: usize,
    group: u32,
    /// The GPU's PCI function; `None` for an empty slot.
    dev: Option<usize>,
    bridges: Vec<usize>,
    mem_phandle: u32,
    mem_base: u64,
    mem_chip_id: u32,
}

/// The `GPUn` slot label of group `group` on chip index `ci` (op920-dts `ibm,slot-label`).
fn slot_number(ci: usize, group: u32) -> u32 {
    ci as u32 * 3 + group
}

fn power9(tree: &mut Tree, host: &Host, threads_per_chip: u32, fw: &Firmware) -> Result<()> {
    let nr_cpus = threads_per_chip * 2;
    let gpus_cfg = host.gpus.as_ref();
    let mut devs: Vec<Dev> = Vec::new();
    let mut irq = 23u32; // [G] legacy interrupt numbers, one per function
    let mut push = |devs: &mut Vec<Dev>, mut d: Dev, parent: Option<usize>| -> usize {
        irq += 1;
        d.irq = irq;
        d.parent = parent;
        devs.push(d);
        devs.len() - 1
    };
    // --- PCI functions on the PHB4s (§2.4 "Other real devices on the bootlog box") ---
    let root_port = |dom: u32, numa: i32, sub: u8| {
        let mut d = Dev::new(dom, 0, 0, 0, (0x1014, 0x04c1), 0x060400);
        d.bridge = Some((1, sub));
        d.pcie = Some(4);
        d.numa = numa;
        d.driver = Some("pcieport");
        d
    };
    let ep = |dom: u32, bus: u8, dev: u8, func: u8, id: (u16, u16), class: u32, numa: i32| {
        let mut d = Dev::new(dom, bus, dev, func, id, class);
        d.numa = numa;
        d
    };
    // IOMMU groups: on the AC922 the boot log's numbers (§2.4: "Adding to iommu group N");
    // elsewhere in probe order.
    let has_gpus = gpus_cfg.is_some();
    let mut group = 0u32;
    let mut pick = |bootlog: u32| {
        if has_gpus {
            bootlog
        } else {
            group += 1;
            group - 1
        }
    };
    // Domain 0000: NVMe.
    let rp = push(&mut devs, root_port(0x0000, 0, 1), None);
    let mut d = ep(0, 1, 0, 0, (0x144d, 0xa822), 0x010802, 0);
    d.driver = Some("nvme");
    d.group = Some(pick(0));
    d.bars = vec![(0, 0x0006_00c3_8000_0000, 0x4000, MEM64)];
    push(&mut devs, d, Some(rp));
    // Domain 0001: USB 3.
    let rp = push(&mut devs, root_port(0x0001, 0, 1), None);
    let mut d = ep(1, 1, 0, 0, (0x104c, 0x8241), 0x0c0330, 0);
    d.driver = Some("xhci_hcd");
    d.group = Some(pick(1));
    push(&mut devs, d, Some(rp));
    if gpus_cfg.is_some() {
        // Domain 0002: ASPEED PCIe-to-PCI bridge and VGA (conventional PCI, so no PCIe cap;
        // the real fb0 path is /pciex@600c3c0200000/pci@0/pci@0/vga@0).
        let rp = push(&mut devs, root_port(0x0002, 0, 2), None);
        let mut b = ep(2, 1, 0, 0, (0x1a03, 0x1150), 0x060400, 0);
        b.bridge = Some((2, 2));
        b.pcie = Some(7);
        let b = push(&mut devs, b, Some(rp));
        let mut v = ep(2, 2, 0, 0, (0x1a03, 0x2000), 0x030000, 0);
        v.pcie = None;
        v.rev = 0x41;
        v.driver = Some("ast");
        v.group = Some(pick(2));
        push(&mut devs, v, Some(b));
        // Domain 0003: ConnectX-5, two functions.
        let rp = push(&mut devs, root_port(0x0003, 0, 1), None);
        let g = pick(3);
        for f in 0..2 {
            let mut d = ep(3, 1, 0, f, (0x15b3, 0x1019), 0x020700, 0);
            d.multifunction = true;
            d.driver = Some("mlx5_core");
            d.group = Some(g);
            d.dsn = Some(0xb8ce_f603_0012_3456); // [G]
            push(&mut devs, d, Some(rp));
        }
    }
    // Domain 0004 (chip 0 PHB 4): PLX switch, SATA, GPU0-2; domain 0035 (chip 8 PHB 5):
    // switch and GPU3-5 (§2.4; bus ranges from the boot log).
    let mut gpu_slots: Vec<(usize, u32, usize)> = Vec::new(); // (chip, group, downstream port)
    let mut gpu_groups = [0u32; 2];
    let planar_gpus = gpus_cfg.map_or(0, |g| g.slots_per_chip() as usize);
    for (ci, &chip) in CHIPS.iter().enumerate() {
        let numa = chip as i32;
        let dom = if ci == 0 { 0x0004 } else { 0x0035 };
        if gpus_cfg.is_none() {
            // A plain POWER9 host: an Ethernet adapter on each chip's PHB 4 / PHB 5 [G].
            let rp = push(&mut devs, root_port(dom, numa, 1), None);
            let g = pick(0);
            for f in 0..2 {
                let mut d = ep(dom, 1, 0, f, (0x14e4, 0x1657), 0x020000, numa);
                d.multifunction = true;
                d.driver = Some("tg3");
                d.group = Some(g);
                push(&mut devs, d, Some(rp));
            }
            continue;
        }
        let (ports, sub): (&[u8], u8) = if ci == 0 {
            (&[0x02, 0x0a, 0x0b, 0x0c], 0x0a)
        } else {
            (&[0x04, 0x05, 0x0d], 0x09)
        };
        let rp = push(&mut devs, root_port(dom, numa, sub), None);
        let mut up = ep(dom, 1, 0, 0, (0x10b5, 0x8725), 0x060400, numa);
        up.bridge = Some((2, sub));
        up.pcie = Some(5);
        up.driver = Some("pcieport");
        up.multifunction = ci == 0;
        let switch_group = (ci == 0).then(|| pick(6));
        up.group = switch_group;
        let up = push(&mut devs, up, Some(rp));
        if ci == 0 {
            for f in 1..5 {
                let mut dma = ep(dom, 1, 0, f, (0x10b5, 0x87d0), 0x088000, numa);
                dma.multifunction = true;
                dma.group = switch_group;
                push(&mut devs, dma, Some(up));
            }
        }
        let gpu_group = pick(if ci == 0 { 5 } else { 10 });
        if let Some(slot) = gpu_groups.get_mut(ci) {
            *slot = gpu_group;
        }
        for (bus, (k, &port)) in (3u8..).zip(ports.iter().enumerate()) {
            let is_sata = ci == 0 && k == 0;
            let last = k + 1 == ports.len();
            let secondary = bus;
            let subordinate = if last { sub } else { bus };
            let mut dp = ep(dom, 2, port, 0, (0x10b5, 0x8725), 0x060400, numa);
            dp.bridge = Some((secondary, subordinate));
            dp.pcie = Some(6);
            dp.driver = Some("pcieport");
            let dp = push(&mut devs, dp, Some(up));
            if is_sata {
                let mut s = ep(dom, secondary, 0, 0, (0x1b4b, 0x9235), 0x010601, numa);
                s.driver = Some("ahci");
                s.group = Some(pick(4));
                push(&mut devs, s, Some(dp));
            } else {
                let slot = if ci == 0 { k - 1 } else { k };
                if slot < planar_gpus {
                    gpu_slots.push((ci, slot as u32, dp));
                }
            }
        }
    }
    // The GPUs themselves (§2.2 "GPU PCI addr"; vendor/device/class/revision §1). IOMMU
    // groups (§7): per NPU on 5.0-5.12 (the boot log's 5 and 10); per GPU PE otherwise, the
    // first GPU of a socket keeping the socket's number and the others numbered after the
    // boot log's last group [G].
    let mut gpus: Vec<Gpu> = Vec::new();
    let mut extra_group = 11u32;
    let mut socket_group_used = [false; 2];
    if let Some(cfg) = gpus_cfg {
        for &(ci, g, port) in &gpu_slots {
            let chip = CHIPS.get(ci).copied().unwrap_or(0);
            if cfg.empty_slots.contains(&slot_number(ci, g)) {
                gpus.push(Gpu {
                    chip: ci,
                    group: g,
                    dev: None,
                    bridges: Vec::new(),
                    mem_phandle: 0,
                    mem_base: gpu_mem_base(cfg.map, chip, g),
                    mem_chip_id: 0,
                });
                continue;
            }
            let Some(secondary) = devs.get(port).and_then(|p| p.bridge).map(|b| b.0) else {
                continue;
            };
            let dom = devs.get(port).map_or(0, |p| p.dom);
            let mut d = ep(
                dom,
                secondary,
                0,
                0,
                (0x10de, cfg.device_id),
                0x030200,
                chip as i32,
            );
            d.rev = 0xa1;
            // Subsystem ids [G]: 10de:1212 (16 GB), 10de:1249 (32 GB).
            d.subsys = (
                0x10de,
                if cfg.device_id == 0x1db5 {
                    0x1249
                } else {
                    0x1212
                },
            );
            d.driver = Some(cfg.gpu_driver);
            let socket = gpu_groups.get(ci).copied().unwrap_or(0);
            let used = socket_group_used.get_mut(ci);
            d.group = Some(match (host.kernel.groups, used) {
                (Grouping::PerNpu, _) => socket,
                (Grouping::PerGpu, Some(used)) if !*used => {
                    *used = true;
                    socket
                }
                (Grouping::PerGpu, _) => {
                    extra_group += 1;
                    extra_group - 1
                }
            });
            // PCIe: 8 GT/s x16 capable, x2 trained (boot log: "limited by 8 GT/s x2 link").
            d.link = (3, 16, 3, 2);
            // BARs: GPU0's are the boot log's; the others follow the same pattern [G].
            let off = u64::from(chip) << 42;
            let k = u64::from(g);
            d.bars = vec![
                (
                    0,
                    0x6_00c2_0000_0000 + off + k * 0x100_0000,
                    0x100_0000,
                    MEM32,
                ),
                (
                    1,
                    0x6_0240_0000_0000 + off + k * 0x8_0000_0000,
                    0x4_0000_0000,
                    MEM64_PREF,
                ),
                (
                    3,
                    0x6_0244_0000_0000 + off + k * 0x8_0000_0000,
                    0x200_0000,
                    MEM64_PREF,
                ),
            ];
            let dev = push(&mut devs, d, Some(port));
            gpus.push(Gpu {
                chip: ci,
                group: g,
                dev: Some(dev),
                bridges: Vec::new(),
                mem_phandle: 0,
                mem_base: gpu_mem_base(cfg.map, chip, g),
                mem_chip_id: 0,
            });
        }
    }
    // Domain 0005: tg3; 0030: ConnectX-4; 0033: ConnectX-5; 0034: empty root port.
    if gpus_cfg.is_some() {
        type Adapter = Option<((u16, u16), u32, &'static str, u32)>;
        let extra: [(u32, i32, Adapter); 4] = [
            (0x0005, 0, Some(((0x14e4, 0x1657), 0x020000, "tg3", 7))),
            (
                0x0030,
                8,
                Some(((0x15b3, 0x1015), 0x020000, "mlx5_core", 8)),
            ),
            (
                0x0033,
                8,
                Some(((0x15b3, 0x1019), 0x020700, "mlx5_core", 9)),
            ),
            (0x0034, 8, None),
        ];
        for (dom, numa, what) in extra {
            let rp = push(&mut devs, root_port(dom, numa, 1), None);
            if let Some((id, class, driver, bootlog_group)) = what {
                let g = pick(bootlog_group);
                for f in 0..2 {
                    let mut d = ep(dom, 1, 0, f, id, class, numa);
                    d.multifunction = true;
                    d.driver = Some(driver);
                    d.group = Some(g);
                    if id.0 == 0x15b3 {
                        d.dsn = Some(0x9803_9b03_00ab_cd00 | u64::from(dom)); // [G]
                    }
                    push(&mut devs, d, Some(rp));
                }
            }
        }
    }
    // --- NVLink bridge functions on the NPU PHBs 0006 / 0007 (§2.1 "NVLink bridge BDF") ---
    let mut bridge_links: Vec<(usize, usize, usize)> = Vec::new(); // (dev, chip index, link)
    if let Some(cfg) = gpus_cfg {
        let groups = link_groups(cfg.planar);
        for ci in 0..2usize {
            let npu_base = npu_base(ci);
            for (link, &g) in groups.iter().enumerate() {
                let func = groups.iter().take(link).filter(|&&x| x == g).count() as u8;
                let mut d = Dev::new(6 + ci as u32, 0, g as u8, func, (0x1014, 0x04ea), 0x068001);
                d.rev = 0x01;
                d.multifunction = true; // header type 0x80 [S npu2_populate_cfg]
                // skiboot hw/npu2.c npu2_populate_pcie_cap: a PCIe endpoint capability at
                // 0x40, link capability and status 8 GT/s x1, Device Capabilities with
                // function-level reset and unlimited L0s/L1 latencies; then the vendor
                // capability carrying the link index.
                d.link = (3, 1, 3, 1);
                d.devcap = 0x1000_0000 | 7 << 6 | 7 << 9;
                d.npu_link = Some(link as u8);
                d.numa = -1; // §2.4 [G]: no ibm,associativity on the NPU PHB
                d.driver = Some(cfg.bridge_driver);
                let gpu_group = gpus
                    .iter()
                    .find(|x| x.chip == ci && x.group == g)
                    .and_then(|x| x.dev)
                    .and_then(|dev| devs.get(dev))
                    .and_then(|dev| dev.group);
                d.group = match (host.kernel.groups, gpu_group) {
                    (Grouping::PerNpu, _) => gpu_groups.get(ci).copied(),
                    (Grouping::PerGpu, Some(group)) => Some(group),
                    // An empty slot's bridges form a PE of their own [G].
                    (Grouping::PerGpu, None) => {
                        if func == 0 {
                            extra_group += 1;
                        }
                        Some(extra_group - 1)
                    }
                };
                let l = link as u64;
                d.bars = vec![
                    (0, npu_base + 0x160_0000 + l * 0x2_0000, 0x2_0000, MEM64),
                    (2, npu_base + 0x16c_0000 + l * 0x1_0000, 0x1_0000, MEM64),
                ];
                // Absent from sysfs: on >= 5.13 (NPU PHBs not probed), a removed PE (all of a
                // GPU's bridges), or a single vanished function (§7).
                d.in_sysfs = host.kernel.npu_probed
                    && !cfg.missing_bridges.contains(&d.addr().as_str())
                    && !cfg.removed_gpu_bridges.contains(&slot_number(ci, g));
                let dev = push(&mut devs, d, None);
                bridge_links.push((dev, ci, link));
                if let Some(gpu) = gpus.iter_mut().find(|x| x.chip == ci && x.group == g) {
                    gpu.bridges.push(dev);
                }
            }
        }
    }
    // --- Device tree ---
    let mut tree_dt = Dt::default();
    let mut ph = Phandles(0x180);
    device_tree_static(&mut tree_dt, host, gpus_cfg, fw)?;
    let ics = ph.next();
    tree_dt
        .node("interrupt-controller@6030203100000", ics) // [G] the XIVE node
        .strings("compatible", &["ibm,opal-xive-pe", "ibm,opal-intc"])
        .flag("interrupt-controller")
        .cells("#interrupt-cells", &[2]);
    // PHB4 nodes (§2.3 (g)), in OPAL id order.
    let mut phb_paths: Vec<(u32, String)> = Vec::new();
    for (ci, &chip) in CHIPS.iter().enumerate() {
        for &idx in PHB4S.get(ci).copied().unwrap_or_default() {
            let base = 0x6_00c3_c000_0000u64 + u64::from(idx) * 0x10_0000 + (u64::from(chip) << 42);
            let id = chip * 6 + idx; // include/phb4.h phb4_get_opal_id
            // The PHB's XIVE ESB (interrupt) BAR: hw/phys-map.c PHB4_XIVE_ESB, 512 MiB apart;
            // skiboot writes only 256 MiB of it into `reg`.
            let esb =
                0x6_00c3_0000_0000u64 + u64::from(idx) * 0x2000_0000 + (u64::from(chip) << 42);
            let path = format!("pciex@{base:x}");
            tree_dt
                .node(&path, ph.next())
                .strings("compatible", &["ibm,power9-pciex", "ibm,ioda3-phb"])
                .string("device_type", "pciex")
                .cells("ibm,phb-index", &[idx])
                .cells("ibm,chip-id", &[chip])
                .cells("ibm,opal-phbid", &[0, id])
                .cells("ibm,associativity", &[4, 0, 0, ci as u32 + 1, chip])
                // hw/phb4.c phb4_probe_stack: `reg` = PHB register BAR (4 KiB) and ESB BAR
                // (256 MiB), four u64 cells.
                .u64s("reg", &[base, 0x1000, esb, 0x1000_0000])
                .cells("#address-cells", &[3])
                .cells("#size-cells", &[2])
                .cells("#interrupt-cells", &[1])
                .cells("bus-range", &[0, 0xff]);
            phb_paths.push((id, path));
        }
    }
    // NPU PHB nodes (§2.3 (c)).
    let mut npu_paths: Vec<String> = Vec::new();
    if gpus_cfg.is_some() {
        for ci in 0..2usize {
            let chip = CHIPS.get(ci).copied().unwrap_or(0);
            let regs = npu_base(ci);
            let path = format!("pciex@{regs:x}");
            let atsd: Vec<u64> = (0..u64::from(fw.atsd_registers))
                .map(|n| regs + 0x80_0000 + n * 0x1_0000)
                .collect();
            let ntl = regs + 0x160_0000;
            let imap: Vec<u32> = bridge_links
                .iter()
                .filter(|&&(_, c, _)| c == ci)
                .flat_map(|&(dev, _, link)| {
                    let bdfn = devs.get(dev).map_or(0, Dev::bdfn);
                    // [G] LSI numbers
                    [
                        bdfn << 8,
                        0,
                        0,
                        1,
                        ics,
                        0x800 + (chip << 4) + link as u32,
                        0,
                    ]
                })
                .collect();
            let node = tree_dt.node(&path, ph.next());
            node.strings(
                "compatible",
                &["ibm,power9-npu-pciex", "ibm,ioda2-npu2-phb"],
            )
            .string("device_type", "pciex")
            .u64s("reg", &[regs, 0x100_0000])
            .cells("ibm,phb-index", &[7])
            .cells("ibm,npu-index", &[ci as u32])
            .cells("ibm,chip-id", &[chip])
            .cells("ibm,xscom-base", &[0x501_1000])
            .cells("ibm,npcq", &[NPU_PHANDLE.get(ci).copied().unwrap_or(0)])
            .cells("ibm,links", &[6])
            .u64s("ibm,mmio-window", &[ntl, 0x12_0000])
            .cells("ibm,phb-diag-data-size", &[0])
            .cells("#address-cells", &[3])
            .cells("#size-cells", &[2])
            .cells("#interrupt-cells", &[1])
            .cells("bus-range", &[0, 0xff])
            .cells("clock-frequency", &[0x200, 0])
            .cells("interrupt-parent", &[ics])
            .cells("interrupt-map", &imap)
            .cells("interrupt-map-mask", &[0xff00, 0, 0, 7])
            .cells("ibm,opal-num-pes", &[if fw.v6_3 { 8 } else { 0x10 }])
            .cells("ibm,opal-reserved-pe", &[if fw.v6_3 { 7 } else { 0xf }])
            .u64s("ibm,mmio-atsd", &atsd)
            .cells(
                "ranges",
                &[0x200_0000, hi(ntl), lo(ntl), hi(ntl), lo(ntl), 0, 0x12_0000],
            )
            .cells("ibm,opal-phbid", &[0, 6 + ci as u32]);
            if fw.tce_sizes {
                node.cells("ibm,supported-tce-sizes", &[0xc, 0x10, 0x18, 0x1c]);
            }
            npu_paths.push(path);
        }
    }
    // PCI device nodes, PHB by PHB, parents before children (core/pci.c
    // pci_add_one_device_node): name from the class, `@dev` or `@dev,fn`.
    //
    // Location codes (§7 "other details"): a root port or switch downstream port that
    // `/ibm,pcie-slots` labels is a slot and gets `ibm,slot-label` and `ibm,slot-location-code`
    // = `<ibm,io-base-loc-code>-<label>` (platforms/astbmc/slots.c dt_slot_get_slot_info,
    // core/pci-slot.c pci_slot_add_loc); an unlabelled root port gets the base location code
    // as `ibm,slot-location-code` (core/pci.c pci_add_one_device_node). Every node then gets
    // `ibm,loc-code` from core/pci.c pci_add_loc_code: the nearest ancestor's slot label, else
    // its slot location code, else its own slot location code, else an ancestor's loc-code.
    let base_loc = format!("UOPWR.{SYSTEM_ID}-Node0");
    let mut slot_props: Vec<(Option<String>, Option<String>)> = vec![(None, None); devs.len()];
    let mut loc_of: Vec<Option<String>> = vec![None; devs.len()];
    let mut phandle_of = vec![0u32; devs.len()];
    let mut order: Vec<usize> = (0..devs.len()).collect();
    order.sort_by_key(|&i| (devs.get(i).map_or(0, |d| d.dom), depth(&devs, i), i));
    for &i in &order {
        let Some(d) = devs.get(i) else { continue };
        let parent_path = match d.parent {
            Some(p) => devs.get(p).and_then(|p| p.of_node.clone()),
            None if d.dom >= 6 && d.dom < 8 => npu_paths.get(d.dom as usize - 6).cloned(),
            None => phb_paths
                .iter()
                .find(|(id, _)| *id == d.dom)
                .map(|(_, p)| p.clone()),
        };
        let Some(parent_path) = parent_path else {
            continue;
        };
        let name_class = if d.parent.is_none() && d.pcie == Some(4) {
            0x060400
        } else {
            d.class
        };
        let unit = if d.func == 0 {
            format!("{:x}", d.dev)
        } else {
            format!("{:x},{:x}", d.dev, d.func)
        };
        let path = format!("{parent_path}/{}@{unit}", class_name(name_class));
        let phandle = ph.next();
        if let Some(slot) = phandle_of.get_mut(i) {
            *slot = phandle;
        }
        let label = slot_label(d, gpus_cfg.is_some());
        let slot_loc = match (&label, d.parent.is_none() && d.pcie == Some(4)) {
            (Some(label), _) => Some(format!("{base_loc}-{label}")),
            (None, true) if d.dom < 6 || d.dom >= 8 => Some(base_loc.clone()),
            (None, _) => None,
        };
        let mut loc = None;
        let mut at = d.parent;
        while let Some(p) = at {
            if let Some((l, sl)) = slot_props.get(p)
                && let Some(found) = l.as_ref().or(sl.as_ref())
            {
                loc = Some(found.clone());
                break;
            }
            at = devs.get(p).and_then(|x| x.parent);
        }
        let loc = loc.or_else(|| slot_loc.clone()).or_else(|| {
            let mut at = d.parent;
            while let Some(p) = at {
                if let Some(Some(found)) = loc_of.get(p) {
                    return Some(found.clone());
                }
                at = devs.get(p).and_then(|x| x.parent);
            }
            None
        });
        let node = tree_dt.node(&path, phandle);
        if let Some(label) = &label {
            node.string("ibm,slot-label", label);
        }
        if let Some(slot_loc) = &slot_loc {
            node.string("ibm,slot-location-code", slot_loc);
        }
        if let Some(loc) = &loc {
            node.string("ibm,loc-code", loc);
        }
        if let Some(x) = slot_props.get_mut(i) {
            *x = (label, slot_loc);
        }
        if let Some(x) = loc_of.get_mut(i) {
            *x = loc;
        }
        node.cells("ibm,pci-config-space-type", &[u32::from(d.pcie.is_some())])
            .cells("class-code", &[d.class])
            .cells("revision-id", &[u32::from(d.rev)])
            .cells("vendor-id", &[u32::from(d.vendor)])
            .cells("device-id", &[u32::from(d.device)])
            .cells("interrupts", &[1])
            .cells("reg", &[d.bdfn() << 8, 0, 0, 0, 0]);
        if d.bridge.is_some() {
            node.cells("#address-cells", &[3])
                .cells("#size-cells", &[2])
                .cells("#interrupt-cells", &[1])
                .string(
                    "device_type",
                    if d.pcie.is_some() { "pciex" } else { "pci" },
                )
                .cells(
                    "ranges",
                    &[0x200_0000, 0, 0, 0x200_0000, 0, 0, 0xf000_0000, 0],
                );
        }
        if let Some(dm) = devs.get_mut(i) {
            dm.of_node = Some(path);
        }
    }
    // GPU memory nodes (§2.3 (e)), created in bridge order: chip-id counts down from 255.
    if let Some(cfg) = gpus_cfg {
        let mut chip_id = 256u32;
        for gpu in &mut gpus {
            chip_id -= 1;
            gpu.mem_phandle = ph.next();
            gpu.mem_chip_id = chip_id;
            if !cfg.memory_nodes {
                continue;
            }
            let b = gpu.mem_base;
            tree_dt
                .node(&format!("memory@{b:x}"), gpu.mem_phandle)
                .string("device_type", "memory")
                .string("compatible", "ibm,coherent-device-memory")
                .u64s("reg", &[b, GPU_MEM_SIZE])
                .cells("ibm,chip-id", &[gpu.mem_chip_id])
                .u64s("linux,usable-memory", &[b, 0])
                .cells(
                    "ibm,associativity",
                    &[4, chip_id, chip_id, chip_id, chip_id],
                );
        }
        // NVLink bridge and GPU properties (§2.3 (d), (f)). An empty slot's bridges get all but
        // `ibm,gpu`, which hw/npu2.c npu2_dn_fixup adds only once npu2_dev_bind_pci_dev found
        // the GPU (§7 "partly populated board").
        for gpu in &gpus {
            let label = format!("GPU{}", slot_number(gpu.chip, gpu.group));
            let gpu_phandle = gpu.dev.and_then(|dev| phandle_of.get(dev).copied());
            for &b in &gpu.bridges {
                let Some(&(_, ci, link)) = bridge_links.iter().find(|x| x.0 == b) else {
                    continue;
                };
                let Some(path) = devs.get(b).and_then(|d| d.of_node.clone()) else {
                    continue;
                };
                let link_phandle = LINK0_PHANDLE.get(ci).copied().unwrap_or(0) + link as u32;
                let node = tree_dt
                    .at(&path)
                    .cells("memory-region", &[gpu.mem_phandle])
                    .u64s("ibm,device-tgt-addr", &[tgt_addr(gpu.mem_base)])
                    .cells("ibm,nvlink", &[link_phandle])
                    .cells("ibm,nvlink-speed", &[8])
                    .string("ibm,loc-code", &label);
                if let Some(gpu_phandle) = gpu_phandle {
                    node.cells("ibm,gpu", &[gpu_phandle]);
                }
            }
            let npu: Vec<u32> = gpu
                .bridges
                .iter()
                .map(|&b| phandle_of.get(b).copied().unwrap_or(0))
                .collect();
            let Some(path) = gpu
                .dev
                .and_then(|dev| devs.get(dev))
                .and_then(|d| d.of_node.clone())
            else {
                continue;
            };
            let node = tree_dt.at(&path);
            node.cells("ibm,npu", &npu);
            if fw.v6_3 {
                node.cells(
                    "ibm,nvlink-peers",
                    &nvlink_peers(cfg, &gpus, gpu, &phandle_of, &bridge_links),
                );
            }
        }
    }
    firmware_versions(&mut tree_dt, &mut ph, fw);
    tree_dt.write(tree)?;
    tree.insert_symlink("proc/device-tree", "/sys/firmware/devicetree/base")?;
    // --- sysfs PCI, NUMA, /proc ---
    let cpus_of = |node: i32| -> Vec<u32> {
        match node {
            0 => (0..threads_per_chip).collect(),
            8 => (threads_per_chip..nr_cpus).collect(),
            _ => (0..nr_cpus).collect(),
        }
    };
    pci::write(
        tree,
        &devs,
        &pci::Kernel {
            cpus_of: &cpus_of,
            nr_cpus,
            devspec_newline: host.kernel.devspec_newline,
            // The powerpc IOMMU groups have no default domain on the kernels modelled:
            // arch/powerpc/kernel/iommu.c `iommu_add_device` puts a device straight into the
            // PE's group (`iommu_group_add_device`), with no `iommu_ops` registered for PCI,
            // so `iommu_group_show_type` prints `unknown` (so in the live 6.1 capture). The
            // `spapr_tce_iommu_ops` that change this came after 6.1 (linuxppc-dev, 2022-23:
            // "powerpc/iommu: Add iommu_ops to report capabilities and allow blocking
            // domains").
            group_type: host.kernel.iommu_group_type.then_some("unknown\n"),
            dt: Some(&tree_dt),
            idle_drivers: host.kernel.idle_pci_drivers,
        },
    )?;
    let mut nodes: Vec<(u32, Vec<u32>, u64)> = vec![
        (0, cpus_of(0), RAM_PER_CHIP >> 10),
        (8, cpus_of(8), RAM_PER_CHIP >> 10),
    ];
    // GPU memory NUMA nodes: Linux onlines a node for every `memory` node with
    // `ibm,associativity`, even one whose `linux,usable-memory` is empty
    // (arch/powerpc/mm/numa.c parse_numa_properties calls node_set_online before looking at
    // the size), so an empty slot's node exists and holds 0 kB like any node the NVIDIA driver
    // has not onlined [G: read from the source, not seen on a real 2-GPU host].
    if let Some(cfg) = gpus_cfg.filter(|c| c.memory_nodes) {
        for gpu in &gpus {
            let kb = if gpu.dev.is_some() { cfg.onlined_kb } else { 0 };
            nodes.push((gpu.mem_chip_id, Vec::new(), kb));
            // /proc/driver/nvidia/gpus/<addr>/numa_status (NVIDIA nv-procfs.c
            // nv_procfs_read_numa_status; the shape of the real hwloc capture) for a GPU whose
            // memory the driver onlined.
            let Some(dev) = gpu.dev.and_then(|dev| devs.get(dev)) else {
                continue;
            };
            if kb > 0 && dev.driver == Some("nvidia") && host.kernel.npu_probed {
                tree.insert_file(
                    &format!("proc/driver/nvidia/gpus/{}/numa_status", dev.addr()),
                    format!(
                        "Node:      {}\nStatus:    online\nAddress:   {:x}\nSize:      {:x}\n",
                        gpu.mem_chip_id,
                        gpu.mem_base,
                        cfg.numa_status_size()
                    )
                    .into_bytes(),
                )?;
            }
        }
    }
    numa(tree, &mut nodes)?;
    let total_kb: u64 = nodes.iter().map(|n| n.2).sum();
    meminfo(tree, total_kb)?;
    cpuinfo_power9(tree, host.model, nr_cpus)?;
    Ok(())
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}
fn lo(v: u64) -> u32 {
    v as u32
}

/// NPU register base of chip index `ci` (§2.1: `0x6030200000000`, chip select shift 42).
fn npu_base(ci: usize) -> u64 {
    0x6_0302_0000_0000 + (u64::from(CHIPS.get(ci).copied().unwrap_or(0)) << 42)
}

fn depth(devs: &[Dev], i: usize) -> usize {
    let mut n = 0;
    let mut at = devs.get(i).and_then(|d| d.parent);
    while let Some(p) = at {
        n += 1;
        at = devs.get(p).and_then(|d| d.parent);
    }
    n
}

/// `ibm,nvlink-peers` (§2.3 (f)): per GPU link, the far end, `g` GPU nodes and `n[link]` the
/// bridges of the socket's NPU.
fn nvlink_peers(
    cfg: &Gpus,
    gpus: &[Gpu],
    gpu: &Gpu,
    phandle_of: &[u32],
    bridge_links: &[(usize, usize, usize)],
) -> Vec<u32> {
    let g = |group: u32| {
        gpus.iter()
            .find(|x| x.chip == gpu.chip && x.group == group)
            .and_then(|x| x.dev)
            .and_then(|dev| phandle_of.get(dev).copied())
            // An empty slot: witherspoon.c PEERPH(g) writes 0 for a NULL g (the entry for an
            // absent GPU is read through a NULL `nvlink.pd` unchecked, so a real host may show
            // a stray value instead) [G on 0].
            .unwrap_or(0)
    };
    let n = |link: usize| {
        bridge_links
            .iter()
            .find(|&&(_, c, l)| c == gpu.chip && l == link)
            .and_then(|&(dev, _, _)| phandle_of.get(dev).copied())
            .unwrap_or(0)
    };
    match (cfg.planar, gpu.group) {
        (Planar::Redbud, 0) => vec![g(1), n(0), g(1), n(1), g(1), n(2)],
        (Planar::Redbud, _) => vec![g(0), n(3), g(0), n(4), g(0), n(5)],
        (Planar::Sequoia, 0) => vec![g(1), n(0), g(2), g(2), g(1), n(1)],
        (Planar::Sequoia, 1) => vec![g(0), n(2), g(2), g(2), g(0), n(3)],
        (Planar::Sequoia, _) => vec![g(1), g(0), g(1), n(4), g(0), n(5)],
    }
}

/// The device-tree nodes firmware builds from HDAT (op920-dts): root, `/ibm,opal`,
/// `/ibm,pcie-slots`, system RAM, xscom with the NPU and its links (§2.3 (a), (b)).
fn device_tree_static(t: &mut Dt, host: &Host, gpus: Option<&Gpus>, fw: &Firmware) -> Result<()> {
    let witherspoon = gpus.is_some();
    let root = t.node("", 0x1);
    root.cells("#address-cells", &[2])
        .cells("#size-cells", &[2])
        .string("model", host.model)
        .string("vendor", "IBM")
        .string("system-id", SYSTEM_ID)
        .string("ibm,io-base-loc-code", &format!("UOPWR.{SYSTEM_ID}-Node0"));
    if witherspoon {
        root.strings(
            "compatible",
            &["ibm,powernv", "ibm,p9-openbmc", "ibm,witherspoon"],
        )
        .string("model-name", "ibm,witherspoon");
    } else {
        root.strings(
            "compatible",
            &["ibm,powernv", "ibm,p9-openbmc", "ibm,boston"],
        ); // [G]
    }
    // core/affinity.c add_associativity_ref_point: <4 ref2 2>, ref2 = 4 off POWER8E (§2.3 (e)).
    t.node("ibm,opal", 0x5e)
        .cells("ibm,associativity-reference-points", &[4, 4, 2]);
    for (ci, &chip) in CHIPS.iter().enumerate() {
        let base = u64::from(chip) << 42;
        t.node(
            &format!("memory@{base:x}"),
            [0x100, 0x117].get(ci).copied().unwrap_or(0),
        )
        .string("device_type", "memory")
        .u64s("reg", &[base, RAM_PER_CHIP])
        .cells("ibm,chip-id", &[chip])
        .cells("ibm,associativity", &[4, 0, 0, ci as u32 + 1, chip]);
        let xscom = format!(
            "xscom@{:x}",
            0x6_03fc_0000_0000u64 + (u64::from(chip) << 42)
        );
        t.node(&xscom, XSCOM_PHANDLE.get(ci).copied().unwrap_or(0))
            .cells("ibm,chip-id", &[chip])
            .cells("ibm,proc-chip-id", &[ci as u32])
            .cells("#address-cells", &[1])
            .cells("#size-cells", &[1])
            .flag("scom-controller")
            .strings("compatible", &["ibm,xscom", "ibm,power9-xscom"])
            .u64s(
                "reg",
                &[0x6_03fc_0000_0000 + (u64::from(chip) << 42), 0x8_0000_0000],
            )
            .string("ibm,loc-code", &format!("UOPWR.{SYSTEM_ID}-Node0-Proc{ci}"))
            .string("part-number", "02CY210")
            .string(
                "serial-number",
                CHIP_SERIAL.get(ci).copied().unwrap_or_default(),
            )
            .cells("ibm,ccm-node-id", &[0])
            .cells("ibm,hw-card-id", &[0])
            .cells("ibm,hw-module-id", &[ci as u32 + 1]);
        let Some(cfg) = gpus else { continue };
        let npu = format!("{xscom}/npu@5011000");
        t.node(&npu, NPU_PHANDLE.get(ci).copied().unwrap_or(0))
            .string("compatible", "ibm,power9-npu")
            .cells("reg", &[0x501_1000, 0x2c])
            .cells("ibm,npu-index", &[ci as u32])
            .cells("ibm,npu-links", &[6])
            .cells("#address-cells", &[1])
            .cells("#size-cells", &[0]);
        let groups = link_groups(cfg.planar);
        const LANE_MASK: [u32; 6] = [0xf1e000, 0xe1870, 0x78f, 0x78f, 0xe1870, 0xf1e000];
        const BRICK: [u32; 6] = [0, 1, 2, 9, 10, 11];
        for (link, &g) in groups.iter().enumerate() {
            let l = link as u32;
            let slot = GPU_SLOT_PHANDLE
                .get(ci)
                .and_then(|s| s.get(g as usize))
                .copied()
                .unwrap_or(0);
            t.node(
                &format!("{npu}/link@{link}"),
                LINK0_PHANDLE.get(ci).copied().unwrap_or(0) + l,
            )
            .string("compatible", "ibm,npu-link")
            .cells("reg", &[l])
            .cells("ibm,npu-link-index", &[l])
            .cells("ibm,workbook-link-id", &[2 * l + 1])
            .cells(
                "ibm,npu-phy",
                &[0x8000_0000, if link < 3 { 0x901_0c3f } else { 0xc01_0c3f }],
            )
            .cells(
                "ibm,npu-lane-mask",
                &[LANE_MASK.get(link).copied().unwrap_or(0)],
            )
            .cells("ibm,npu-brick-id", &[BRICK.get(link).copied().unwrap_or(0)])
            .cells("ibm,npu-group-id", &[g])
            .string("ibm,slot-label", &format!("GPU{}", ci as u32 * 3 + g))
            .cells("ibm,pcie-slot", &[slot])
            .cells("ibm,link-speed", &[0x6, 0xaea7d0])
            .cells("nvidia,link-speed", &[0x8]);
            if fw.device_detect {
                let empty =
                    cfg.planar == Planar::Redbud && cfg.empty_slots.contains(&slot_number(ci, g));
                t.at(&format!("{npu}/link@{link}")).string(
                    "ibm,npu-link-type",
                    if empty { "unknown" } else { "nvlink" },
                );
            }
        }
    }
    if witherspoon {
        pcie_slots(t);
    }
    Ok(())
}

/// The `ibm,slot-label` a PCI function gets as a slot, from op920-dts `/ibm,pcie-slots`:
/// labelled root complexes (`root-complex@chip,phb`) and the PLX switch down-ports of the GPU
/// slots (`down-port@a|b|c` on chip 0 PHB 4, `down-port@4|5|d` on chip 8 PHB 5). Only the
/// Witherspoon model has that table.
fn slot_label(d: &Dev, witherspoon: bool) -> Option<String> {
    if !witherspoon {
        return None;
    }
    let label = match (d.parent.is_none(), d.pcie, d.dom, d.dev) {
        (true, Some(4), 0x0000, _) => "SLOT3",
        (true, Some(4), 0x0003, _) => "SLOT1",
        (true, Some(4), 0x0030, _) => "SLOT2",
        (true, Some(4), 0x0033, _) => "SLOT1",
        (true, Some(4), 0x0034, _) => "SLOT0",
        (false, Some(6), 0x0004, 0xa) => "GPU0",
        (false, Some(6), 0x0004, 0xb) => "GPU1",
        (false, Some(6), 0x0004, 0xc) => "GPU2",
        (false, Some(6), 0x0035, 0x4) => "GPU3",
        (false, Some(6), 0x0035, 0x5) => "GPU4",
        (false, Some(6), 0x0035, 0xd) => "GPU5",
        _ => return None,
    };
    Some(label.to_owned())
}

/// The firmware's version nodes: `/ibm,opal/firmware` with the running skiboot's `version`
/// (core/opal.c `add_opal_firmware_node`; its `symbol-map` is left out), and, where a PNOR
/// exists, `/ibm,firmware-versions` parsed from the VERSION partition as
/// core/flash-firmware-versions.c does: `version` from the first line past its first `-`
/// (or past `open-power-`), then for each later line the first known component it starts
/// with, not already set, gets the text after `<component>-`. Both are created late in
/// boot, so their phandles come after the run-time nodes [G on the numbers].
fn firmware_versions(t: &mut Dt, ph: &mut Phandles, fw: &Firmware) {
    const COMPONENTS: [&str; 12] = [
        "open-power",
        "buildroot",
        "skiboot",
        "hostboot-binaries",
        "hostboot",
        "linux",
        "petitboot",
        "occ",
        "capp-ucode",
        "sbe",
        "machine-xml",
        "hcode",
    ];
    if let Some(text) = fw.pnor_version {
        let node = t.node("ibm,firmware-versions", ph.next());
        let mut lines = text.lines().map(|l| l.replace('\t', ""));
        if let Some(first) = lines.next() {
            let version = match first.strip_prefix("open-power") {
                Some(rest) => rest.get(1..),
                None => first.split_once('-').map(|(_, rest)| rest),
            };
            if let Some(version) = version {
                node.string("version", version);
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for line in lines {
            for key in COMPONENTS {
                if !line.starts_with(key) || seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                node.string(key, line.get(key.len() + 1..).unwrap_or_default());
            }
        }
    }
    t.node("ibm,opal/firmware", ph.next())
        .string("compatible", "ibm,opal-firmware")
        .string("version", fw.skiboot);
}

/// `/ibm,pcie-slots` of op920-dts: root complexes, the PLX switches and the GPU slots whose
/// `builtin` nodes the links' `ibm,pcie-slot` point to.
fn pcie_slots(t: &mut Dt) {
    t.node("ibm,pcie-slots", 0x149)
        .cells("#address-cells", &[2])
        .cells("#size-cells", &[0]);
    // (chip, phb, phandle, slot label or "", switch (phandle, upstream-port, ports)).
    type Switch = (u32, u32, &'static [(u32, u32, u32, &'static str)]);
    let rcs: [(u32, u32, u32, &str, Option<Switch>); 10] = [
        (0, 0, 0x14a, "SLOT3", None),
        (0, 1, 0x14c, "", None),
        (0, 2, 0x14e, "", None),
        (0, 3, 0x150, "SLOT1", None),
        (
            0,
            4,
            0x152,
            "",
            Some((
                0x153,
                0,
                &[
                    (0xa, 0x154, 0x155, "GPU0"),
                    (0xb, 0x156, 0x157, "GPU1"),
                    (0xc, 0x158, 0x159, "GPU2"),
                ],
            )),
        ),
        (0, 5, 0x15a, "", None),
        (8, 0, 0x165, "SLOT2", None),
        (8, 3, 0x167, "SLOT1", None),
        (8, 4, 0x169, "SLOT0", None),
        (
            8,
            5,
            0x16b,
            "",
            Some((
                0x16c,
                1,
                &[
                    (0x4, 0x16d, 0x16e, "GPU3"),
                    (0x5, 0x16f, 0x170, "GPU4"),
                    (0xd, 0x171, 0x172, "GPU5"),
                ],
            )),
        ),
    ];
    for (chip, phb, phandle, label, switch) in rcs {
        let rc = format!("ibm,pcie-slots/root-complex@{chip:x},{phb:x}");
        let node = t.node(&rc, phandle);
        node.cells("reg", &[chip, phb])
            .cells("#address-cells", &[2])
            .cells("#size-cells", &[0])
            .strings("compatible", &["ibm,pcie-port", "ibm,pcie-root-port"])
            .cells("ibm,chip-id", &[chip]);
        if !label.is_empty() {
            node.string("ibm,slot-label", label);
            t.node(&format!("{rc}/pluggable"), phandle + 1)
                .string("ibm,slot-label", label);
        } else if switch.is_none() {
            t.node(&format!("{rc}/builtin"), phandle + 1);
        }
        if let Some((sw_phandle, upstream, ports)) = switch {
            let sw = format!("{rc}/switch-up@10b5,8725");
            t.node(&sw, sw_phandle)
                .cells("reg", &[0x10b5, 0x8725])
                .cells("#address-cells", &[1])
                .cells("#size-cells", &[0])
                .cells("upstream-port", &[upstream])
                .flag("ibm,pluggable");
            for &(port, port_phandle, builtin, slot) in ports {
                let dp = format!("{sw}/down-port@{port:x}");
                t.node(&dp, port_phandle)
                    .string("compatible", "ibm,pcie-port")
                    .cells("reg", &[port])
                    .flag("ibm,pluggable")
                    .string("ibm,slot-label", slot);
                t.node(&format!("{dp}/builtin"), builtin)
                    .string("ibm,slot-label", slot);
            }
        }
    }
}

/// `/sys/devices/system/node` (§2.4 "NUMA sysfs": distances 10 local, 40 between sockets,
/// 80 to and between GPU nodes [S hwloc]). `nodes`: (id, cpus, MemTotal kB).
fn numa(tree: &mut Tree, nodes: &mut [(u32, Vec<u32>, u64)]) -> Result<()> {
    nodes.sort_by_key(|n| n.0);
    let ids: Vec<u32> = nodes.iter().map(|n| n.0).collect();
    let with_cpus: Vec<u32> = nodes
        .iter()
        .filter(|n| !n.1.is_empty())
        .map(|n| n.0)
        .collect();
    let with_mem: Vec<u32> = nodes.iter().filter(|n| n.2 > 0).map(|n| n.0).collect();
    let base = "sys/devices/system/node";
    let put = |tree: &mut Tree, name: &str, text: String| {
        tree.insert_file(&format!("{base}/{name}"), text.into_bytes())
    };
    put(tree, "online", format!("{}\n", pci::list(&ids)))?;
    put(tree, "possible", format!("{}\n", pci::list(&ids)))?;
    put(tree, "has_cpu", format!("{}\n", pci::list(&with_cpus)))?;
    put(tree, "has_memory", format!("{}\n", pci::list(&with_mem)))?;
    put(
        tree,
        "has_normal_memory",
        format!("{}\n", pci::list(&with_cpus)),
    )?;
    for (id, cpus, kb) in nodes.iter() {
        let gpu = |n: u32| !with_cpus.contains(&n);
        let distance: Vec<String> = ids
            .iter()
            .map(|&other| {
                if other == *id {
                    "10"
                } else if gpu(other) || gpu(*id) {
                    "80"
                } else {
                    "40"
                }
                .to_owned()
            })
            .collect();
        put(
            tree,
            &format!("node{id}/cpulist"),
            format!("{}\n", pci::list(cpus)),
        )?;
        put(
            tree,
            &format!("node{id}/distance"),
            format!("{}\n", distance.join(" ")),
        )?;
        // MemUsed: a GPU node holds 64 kB of kernel data once onlined [S hwloc capture].
        let used = match (*kb > 0, cpus.is_empty()) {
            (false, _) => 0,
            (true, true) => 64,
            (true, false) => kb / 64,
        };
        put(
            tree,
            &format!("node{id}/meminfo"),
            format!(
                "Node {id} MemTotal:       {kb:>8} kB\nNode {id} MemFree:        {:>8} kB\nNode {id} MemUsed:        {used:>8} kB\n",
                kb - used
            ),
        )?;
    }
    Ok(())
}

fn meminfo(tree: &mut Tree, total_kb: u64) -> Result<()> {
    let free = total_kb / 8 * 7;
    tree.insert_file(
        "proc/meminfo",
        format!(
            "MemTotal:       {total_kb:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\n"
        )
        .into_bytes(),
    )?;
    Ok(())
}

/// `/proc/cpuinfo` of a POWER9 PowerNV host, in the shape of the hwloc 8335-GTW capture.
fn cpuinfo_power9(tree: &mut Tree, model: &str, nr_cpus: u32) -> Result<()> {
    let mut s = String::new();
    for n in 0..nr_cpus {
        s.push_str(&format!(
            "processor\t: {n}\ncpu\t\t: POWER9, altivec supported\nclock\t\t: 3450.000000MHz\nrevision\t: 2.1 (pvr 004e 1201)\n\n"
        ));
    }
    s.push_str(&format!(
        "timebase\t: 512000000\nplatform\t: PowerNV\nmodel\t\t: {model}\nmachine\t\t: PowerNV {model}\nfirmware\t: OPAL\nMMU\t\t: Radix\n"
    ));
    tree.insert_file("proc/cpuinfo", s.into_bytes())?;
    Ok(())
}

/// An x86-64 host: one socket, 8 threads, a PCIe V100 on a root port, USB, SATA, Ethernet;
/// no device tree [G: a generic single-socket server].
fn x86(tree: &mut Tree, machine: &Host) -> Result<()> {
    let nr_cpus = 8;
    let mut devs = Vec::new();
    let mut host = Dev::new(0, 0, 0, 0, (0x8086, 0x3e30), 0x060000);
    host.pcie = None;
    devs.push(host);
    let mut rp = Dev::new(0, 0, 1, 0, (0x8086, 0x1901), 0x060400);
    rp.bridge = Some((1, 1));
    rp.pcie = Some(4);
    rp.driver = Some("pcieport");
    rp.group = Some(1);
    devs.push(rp);
    let mut gpu = Dev::new(0, 1, 0, 0, (0x10de, 0x1db4), 0x030200);
    gpu.parent = Some(1);
    gpu.rev = 0xa1;
    gpu.subsys = (0x10de, 0x1214);
    gpu.driver = Some("nvidia");
    gpu.group = Some(1);
    gpu.link = (3, 16, 3, 16);
    gpu.bars = vec![
        (0, 0xde00_0000, 0x100_0000, MEM32),
        (1, 0x38_0000_0000, 0x4_0000_0000, MEM64_PREF),
        (3, 0x38_4000_0000, 0x200_0000, MEM64_PREF),
    ];
    devs.push(gpu);
    for (dev, id, class, driver) in [
        (0x14u8, (0x8086u16, 0xa36du16), 0x0c0330u32, "xhci_hcd"),
        (0x17, (0x8086, 0xa352), 0x010601, "ahci"),
        (0x1f, (0x8086, 0x15bb), 0x020000, "e1000e"),
    ] {
        let mut d = Dev::new(0, 0, dev, if dev == 0x1f { 6 } else { 0 }, id, class);
        d.pcie = None;
        d.driver = Some(driver);
        d.group = Some(u32::from(dev));
        devs.push(d);
    }
    for (i, d) in devs.iter_mut().enumerate() {
        d.numa = 0;
        d.irq = 16 + i as u32;
    }
    let all: Vec<u32> = (0..nr_cpus).collect();
    pci::write(
        tree,
        &devs,
        &pci::Kernel {
            cpus_of: &|_| all.clone(),
            nr_cpus,
            devspec_newline: false,
            // [G] An x86 IOMMU (groups exist) in its default translated mode: the group's
            // default domain is a DMA domain (`iommu_group_show_type`: `DMA\n`).
            group_type: machine.kernel.iommu_group_type.then_some("DMA\n"),
            dt: None,
            idle_drivers: machine.kernel.idle_pci_drivers,
        },
    )?;
    numa(tree, &mut [(0, all.clone(), 32 << 20)])?;
    meminfo(tree, 32 << 20)?;
    let mut s = String::new();
    for n in 0..nr_cpus {
        s.push_str(&format!(
            "processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\nmodel name\t: Intel(R) Xeon(R) E-2146G CPU @ 3.50GHz\nphysical id\t: 0\ncore id\t\t: {}\ncpu cores\t: 4\n\n",
            n % 4
        ));
    }
    tree.insert_file("proc/cpuinfo", s.into_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use lsnvlink::capture::Entry;

    use super::super::model::{FW_OP940, hosts};
    use super::*;

    fn tree_of(name: &str) -> Tree {
        let host = hosts().into_iter().find(|h| h.name == name).unwrap();
        capture(&host).unwrap().tree
    }

    fn text(tree: &Tree, path: &str) -> String {
        match tree.get(path) {
            Some(Entry::File(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            other => panic!("{path}: {other:?}"),
        }
    }

    /// An attribute of PCI function `addr`, read from its `sys/devices/...` directory (the
    /// tree does not follow the `sys/bus/pci/devices` symlinks).
    fn attr(tree: &Tree, addr: &str, name: &str) -> String {
        let suffix = format!("/{addr}/{name}");
        let path = tree
            .iter()
            .map(|(p, _)| p)
            .find(|p| p.starts_with("sys/devices/") && p.ends_with(&suffix))
            .unwrap()
            .to_owned();
        text(tree, &path)
    }

    fn group_of(tree: &Tree, name: &str) -> Vec<String> {
        let prefix = format!("sys/kernel/iommu_groups/{name}/devices/");
        tree.iter()
            .filter_map(|(p, _)| p.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    #[test]
    fn firmware_versions_parse_like_skiboot() {
        let mut t = Dt::default();
        firmware_versions(&mut t, &mut Phandles(0), &FW_OP940);
        let mut tree = Tree::new();
        t.write(&mut tree).unwrap();
        let fv = "sys/firmware/devicetree/base/ibm,firmware-versions";
        assert_eq!(
            text(&tree, &format!("{fv}/version")),
            "witherspoon-OP9-v2.4-4.94\0"
        );
        assert_eq!(text(&tree, &format!("{fv}/skiboot")), "v6.5.4\0");
        // "hostboot-binaries-…" does not overwrite "hostboot" (already set).
        assert_eq!(text(&tree, &format!("{fv}/hostboot")), "820a099-pe030f7b\0");
        assert_eq!(
            text(&tree, &format!("{fv}/hostboot-binaries")),
            "hw013120a.opmst\0"
        );
        assert!(tree.get(&format!("{fv}/op-build")).is_none());
        assert_eq!(
            text(
                &tree,
                "sys/firmware/devicetree/base/ibm,opal/firmware/version"
            ),
            "skiboot-v6.5.4\0"
        );
    }

    #[test]
    fn kernel_5_14_has_no_npu_functions_but_keeps_the_device_tree() {
        let t = tree_of("ac922-4gpu-kernel-5.14");
        assert!(
            !t.iter()
                .any(|(p, _)| p.starts_with("sys/bus/pci/devices/0006")
                    || p.starts_with("sys/devices/pci0007"))
        );
        assert!(
            t.get("sys/firmware/devicetree/base/pciex@6030200000000/unknown-bridge@1,2/ibm,gpu")
                .is_some()
        );
        assert_eq!(group_of(&t, "5"), ["0004:04:00.0"]);
        let devspec = attr(&t, "0004:04:00.0", "devspec");
        assert!(devspec.ends_with("3d-controller@0\n"), "{devspec}");
        assert!(!t.iter().any(|(p, _)| p.starts_with("proc/driver/nvidia")));
    }

    #[test]
    fn kernel_4_14_groups_each_gpu_with_its_own_bridges() {
        let t = tree_of("ac922-6gpu-16gb-kernel-4.14");
        assert_eq!(
            group_of(&t, "5"),
            ["0004:04:00.0", "0006:00:00.0", "0006:00:00.1"]
        );
        assert_eq!(
            group_of(&t, "14"),
            ["0007:00:02.0", "0007:00:02.1", "0035:05:00.0"]
        );
        let devspec = attr(&t, "0006:00:00.0", "devspec");
        assert_eq!(devspec, "/pciex@6030200000000/unknown-bridge@0");
        assert_eq!(
            text(&t, "proc/driver/nvidia/gpus/0035:05:00.0/numa_status"),
            "Node:      250\nStatus:    online\nAddress:   244000000000\nSize:      3f0000000\n"
        );
    }

    #[test]
    fn two_gpu_board_keeps_every_bridge() {
        let t = tree_of("ac922-2gpu-16gb-nvidia");
        let base = "sys/firmware/devicetree/base";
        let npu = format!("{base}/pciex@6230200000000");
        assert!(t.get(&format!("{npu}/unknown-bridge@0/ibm,gpu")).is_some());
        assert!(t.get(&format!("{npu}/unknown-bridge@1/ibm,gpu")).is_none());
        assert!(
            t.get(&format!("{npu}/unknown-bridge@1,2/memory-region"))
                .is_some()
        );
        assert!(t.get("sys/bus/pci/devices/0007:00:01.2").is_some());
        assert!(t.get("sys/bus/pci/devices/0035:04:00.0").is_none());
        assert_eq!(group_of(&t, "10").len(), 7);
        assert!(
            text(&t, "sys/devices/system/node/node252/meminfo")
                .starts_with("Node 252 MemTotal:              0 kB\n")
        );
        let link = format!("{base}/xscom@623fc00000000/npu@5011000/link@3/ibm,npu-link-type");
        assert_eq!(text(&t, &link), "unknown\0");
    }

    #[test]
    fn eeh_removal_takes_all_bridges_of_one_gpu() {
        let t = tree_of("ac922-4gpu-eeh-removed");
        for f in ["0007:00:01.0", "0007:00:01.1", "0007:00:01.2"] {
            assert!(t.get(&format!("sys/bus/pci/devices/{f}")).is_none());
        }
        assert!(t.get("sys/bus/pci/devices/0007:00:00.2").is_some());
        assert!(t.get("sys/bus/pci/devices/0035:04:00.0").is_some());
    }

    #[test]
    fn pcie_functions_have_the_extended_config_space() {
        let t = tree_of("ac922-4gpu-16gb-nvidia");
        let config = |addr: &str| {
            let suffix = format!("/{addr}/config");
            match t
                .iter()
                .find(|(p, _)| p.starts_with("sys/devices/") && p.ends_with(&suffix))
            {
                Some((_, Entry::File(bytes))) => bytes.clone(),
                other => panic!("{addr}: {other:?}"),
            }
        };
        let len = |addr: &str| config(addr).len();
        // Root port, switch port, GPU: PCI Express, 4 KiB as on the live kernel.
        assert_eq!(len("0004:00:00.0"), 4096);
        assert_eq!(len("0004:02:0a.0"), 4096);
        assert_eq!(len("0004:04:00.0"), 4096);
        // Conventional PCI VGA, and skiboot's 256-byte emulated NVLink bridges.
        assert_eq!(len("0002:02:00.0"), 256);
        assert_eq!(len("0006:00:00.0"), 256);
        assert!(config("0004:04:00.0").iter().skip(0x100).all(|&b| b == 0));
    }

    #[test]
    fn uevent_carries_the_device_tree_keys() {
        let t = tree_of("power9-no-gpu");
        assert_eq!(
            attr(&t, "0000:00:00.0", "uevent"),
            "DRIVER=pcieport\nOF_NAME=pci\nOF_FULLNAME=/pciex@600c3c0000000/pci@0\n\
             OF_TYPE=pciex\nOF_COMPATIBLE_N=0\nPCI_CLASS=60400\nPCI_ID=1014:04C1\n\
             PCI_SUBSYS_ID=0000:0000\nPCI_SLOT_NAME=0000:00:00.0\n\
             MODALIAS=pci:v00001014d000004C1sv00000000sd00000000bc06sc04i00\n"
        );
        let nvme = attr(&t, "0000:01:00.0", "uevent");
        assert!(
            nvme.starts_with(
                "DRIVER=nvme\nOF_NAME=mass-storage\n\
                 OF_FULLNAME=/pciex@600c3c0000000/pci@0/mass-storage@0\nOF_COMPATIBLE_N=0\n\
                 PCI_CLASS=10802\n"
            ),
            "{nvme}"
        );
        // The host bridge's uevent is empty; without a device tree there are no OF_ keys.
        assert_eq!(text(&t, "sys/devices/pci0000:00/uevent"), "");
        let x86 = tree_of("x86-v100-pcie");
        assert!(!attr(&x86, "0000:01:00.0", "uevent").contains("OF_"));
    }

    #[test]
    fn debian_kernels_list_their_idle_serial_driver() {
        let t = tree_of("power9-no-gpu");
        assert_eq!(t.get("sys/bus/pci/drivers/serial"), Some(&Entry::Dir));
        assert!(
            !t.iter()
                .any(|(p, _)| p.starts_with("sys/bus/pci/drivers/serial/"))
        );
        let t = tree_of("ac922-4gpu-kernel-5.14");
        assert!(t.get("sys/bus/pci/drivers/serial").is_none());
    }

    #[test]
    fn iommu_groups_have_a_type_from_4_19() {
        let t = tree_of("power9-no-gpu");
        assert_eq!(text(&t, "sys/kernel/iommu_groups/0/type"), "unknown\n");
        let t = tree_of("ac922-6gpu-16gb-kernel-4.14");
        assert!(t.get("sys/kernel/iommu_groups/5/devices").is_some());
        assert!(t.get("sys/kernel/iommu_groups/5/type").is_none());
        let t = tree_of("x86-v100-pcie");
        assert_eq!(text(&t, "sys/kernel/iommu_groups/1/type"), "DMA\n");
    }

    #[test]
    fn every_pci_node_has_a_location_code() {
        let t = tree_of("ac922-4gpu-16gb-nvidia");
        let base = "sys/firmware/devicetree/base/";
        for (path, _) in t.iter() {
            let Some(node) = path
                .strip_prefix(base)
                .and_then(|p| p.strip_suffix("/vendor-id"))
            else {
                continue;
            };
            assert!(
                t.get(&format!("{base}{node}/ibm,loc-code")).is_some(),
                "{node}"
            );
        }
    }
}
