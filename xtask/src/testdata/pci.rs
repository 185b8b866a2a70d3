//! PCI functions of the model and how Linux 5.x shows them in sysfs (§2.4), with what lspci
//! reads (pciutils `lib/sysfs.c`: `vendor device class irq resource config`, `revision`,
//! `subsystem_*`, `numa_node`, links `driver`, `iommu_group`, `of_node`).

use std::collections::BTreeSet;

use anyhow::Result;
use lsnvlink::capture::Tree;

use super::dt::Dt;

/// Linux `IORESOURCE_MEM` (0x200) with the BAR's own low bits, as `resource` prints flags
/// (include/linux/ioport.h): 32-bit memory.
pub const MEM32: u64 = 0x0004_0200;
/// 64-bit memory, not prefetchable (`IORESOURCE_MEM_64` 0x100000 | `SIZEALIGN` | type 4).
pub const MEM64: u64 = 0x0014_0204;
/// 64-bit prefetchable memory.
pub const MEM64_PREF: u64 = 0x0014_220c;

/// One PCI function.
#[derive(Debug, Clone)]
pub struct Dev {
    /// Domain (the OPAL PHB id on PowerNV, §2.1).
    pub dom: u32,
    /// Bus.
    pub bus: u8,
    /// Device.
    pub dev: u8,
    /// Function.
    pub func: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code (24 bits).
    pub class: u32,
    /// Revision.
    pub rev: u8,
    /// Subsystem vendor and device.
    pub subsys: (u16, u16),
    /// For bridges: secondary and subordinate bus.
    pub bridge: Option<(u8, u8)>,
    /// PCI Express device/port type (0 endpoint, 4 root port, 5 upstream, 6 downstream, 7
    /// PCIe-to-PCI bridge); `None` for conventional PCI.
    pub pcie: Option<u8>,
    /// PCIe link: (max speed, max width, current speed, current width).
    pub link: (u8, u8, u8, u8),
    /// Whether the header type has the multi-function bit.
    pub multifunction: bool,
    /// Index of the upstream bridge in the device list; `None` on the root bus.
    pub parent: Option<usize>,
    /// NUMA node (-1: none).
    pub numa: i32,
    /// IOMMU group.
    pub group: Option<u32>,
    /// Bound driver.
    pub driver: Option<&'static str>,
    /// BARs: (resource index, start, size, flags).
    pub bars: Vec<(usize, u64, u64, u64)>,
    /// Legacy interrupt number (`irq`).
    pub irq: u32,
    /// Whether sysfs shows the function (false: the firmware knows it, Linux does not).
    pub in_sysfs: bool,
    /// Device-tree path below the base, when the host has a device tree.
    pub of_node: Option<String>,
    /// A Device Serial Number capability at 0x100 (in the 4 KiB extended configuration
    /// space), with this serial number.
    pub dsn: Option<u64>,
    /// PCI Express Device Capabilities register (offset 4 in the capability).
    pub devcap: u32,
    /// For an NVLink bridge: its link index, which skiboot's vendor-specific capability at
    /// 0x80 carries at offset 0xc (hw/npu2.c `npu2_populate_vendor_cap`).
    pub npu_link: Option<u8>,
}

impl Dev {
    /// A function with the common defaults.
    pub fn new(dom: u32, bus: u8, dev: u8, func: u8, id: (u16, u16), class: u32) -> Dev {
        Dev {
            dom,
            bus,
            dev,
            func,
            vendor: id.0,
            device: id.1,
            class,
            rev: 0,
            subsys: (0, 0),
            bridge: None,
            pcie: Some(0),
            link: (3, 8, 3, 8),
            multifunction: false,
            parent: None,
            numa: -1,
            group: None,
            driver: None,
            bars: Vec::new(),
            irq: 0,
            in_sysfs: true,
            of_node: None,
            dsn: None,
            devcap: 0,
            npu_link: None,
        }
    }

    /// `DDDD:BB:DD.F`.
    pub fn addr(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.dom, self.bus, self.dev, self.func
        )
    }

    /// `bdfn` as skiboot counts it (bus << 8 | dev << 3 | fn).
    pub fn bdfn(&self) -> u32 {
        u32::from(self.bus) << 8 | u32::from(self.dev) << 3 | u32::from(self.func)
    }

    /// The length of `config` (`dev->cfg_size`): Linux `drivers/pci/probe.c`
    /// `pci_cfg_space_size` gives 4096 (`PCI_CFG_SPACE_EXP_SIZE`) to PCI Express functions
    /// and host bridges when the dword at 0x100 reads as something other than all ones
    /// (`pci_cfg_space_size_ext`), else 256. The live POWER9 kernel shows 4096 on every PCIe
    /// function, root ports included (docs/powernv-vs-model.md). An NVLink bridge's config
    /// space is skiboot's emulation, 0x100 bytes long (hw/npu2.c `pci_virt_add_device(…,
    /// 0x100, …)`), and core/pci-virt.c `pci_virt_cfg_read` answers a read past it with
    /// `OPAL_PARAMETER` and all ones: 256.
    pub fn cfg_size(&self) -> usize {
        let host_bridge = self.class >> 8 == 0x0600;
        if self.npu_link.is_none() && (self.pcie.is_some() || host_bridge || self.dsn.is_some()) {
            4096
        } else {
            256
        }
    }
}

/// The sysfs directory of device `i` (below `sys/`): `devices/pciDDDD:00/<each bridge>/<addr>`.
pub fn sysfs_dir(devs: &[Dev], i: usize) -> String {
    let mut chain = Vec::new();
    let mut at = Some(i);
    while let Some(k) = at {
        let Some(d) = devs.get(k) else { break };
        chain.push(d.addr());
        at = d.parent;
    }
    chain.reverse();
    let dom = devs.get(i).map_or(0, |d| d.dom);
    format!("devices/pci{dom:04x}:00/{}", chain.join("/"))
}

/// `../` enough times to climb from `dir` (below `sys/`) back to `sys/`.
fn up(dir: &str) -> String {
    "../".repeat(dir.split('/').count())
}

/// A cpumask as sysfs prints it: 32-bit hex words, most significant first, comma-separated.
pub fn cpumask(cpus: &[u32], nr_cpus: u32) -> String {
    let words = nr_cpus.div_ceil(32).max(1);
    let mut out = Vec::new();
    for w in (0..words).rev() {
        let mut word = 0u32;
        for &c in cpus {
            if c / 32 == w {
                word |= 1 << (c % 32);
            }
        }
        out.push(format!("{word:08x}"));
    }
    out.join(",")
}

/// A list as sysfs prints it: `0,8,252-255`.
pub fn list(values: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while let Some(&start) = values.get(i) {
        let mut end = start;
        while values.get(i + 1) == Some(&(end + 1)) {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The config space lspci reads: the standard header, a PCI Express capability at 0x40, and
/// for devices with a serial number the Device Serial Number capability at 0x100 (PCI Express
/// base specification 7.9.3). [`Dev::cfg_size`] bytes; an extended space without a
/// capability reads as zeros from 0x100 (a zero header: no extended capability).
pub fn config(d: &Dev) -> Vec<u8> {
    let mut c = vec![0u8; d.cfg_size()];
    let mut put = |off: usize, bytes: &[u8]| {
        if let Some(dst) = c.get_mut(off..off + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    put(0x00, &d.vendor.to_le_bytes());
    put(0x02, &d.device.to_le_bytes());
    put(0x04, &0x0006u16.to_le_bytes()); // memory space + bus master [G]
    put(
        0x06,
        &(if d.pcie.is_some() { 0x0010u16 } else { 0 }).to_le_bytes(),
    );
    put(0x08, &[d.rev]);
    put(
        0x09,
        &[
            (d.class & 0xff) as u8,
            (d.class >> 8) as u8,
            (d.class >> 16) as u8,
        ],
    );
    let header = if d.bridge.is_some() { 1u8 } else { 0 };
    put(0x0e, &[header | if d.multifunction { 0x80 } else { 0 }]);
    match d.bridge {
        Some((secondary, subordinate)) => put(0x18, &[d.bus, secondary, subordinate]),
        None => {
            for &(index, start, _, flags) in &d.bars {
                let low = (start as u32 & 0xffff_fff0) | (flags & 0xf) as u32;
                put(0x10 + 4 * index, &low.to_le_bytes());
                if flags & 0x4 != 0 {
                    put(0x14 + 4 * index, &((start >> 32) as u32).to_le_bytes());
                }
            }
            put(0x2c, &d.subsys.0.to_le_bytes());
            put(0x2e, &d.subsys.1.to_le_bytes());
        }
    }
    put(0x3c, &[(d.irq & 0xff) as u8, 1]);
    if let Some(kind) = d.pcie {
        let (max_speed, max_width, speed, width) = d.link;
        put(0x34, &[0x40]);
        put(0x40, &[0x10, 0x00]);
        put(0x42, &(2u16 | u16::from(kind) << 4).to_le_bytes());
        put(0x44, &d.devcap.to_le_bytes());
        put(
            0x4c,
            &(u32::from(max_speed) | u32::from(max_width) << 4).to_le_bytes(),
        );
        put(
            0x52,
            &(u16::from(speed) | u16::from(width) << 4).to_le_bytes(),
        );
    }
    if let Some(link) = d.npu_link {
        // skiboot hw/npu2.c npu2_populate_vendor_cap: chained after the PCIe capability,
        // id 9 (vendor), length 0x10, version 1, the link index at +0xc.
        put(0x41, &[0x80]);
        put(0x80, &[0x09, 0x00, 0x10, 0x01]);
        put(0x8c, &[link]);
    }
    if let Some(serial) = d.dsn {
        put(0x100, &(0x0003u32 | 1 << 16).to_le_bytes());
        put(0x104, &serial.to_le_bytes());
    }
    c
}

/// `resource`: 13 lines for an endpoint, 17 for a bridge (Linux `resource_show`, with
/// `CONFIG_PCI_IOV`), `start end flags` each as `0x%016llx`.
fn resource(d: &Dev) -> String {
    let lines = if d.bridge.is_some() { 17 } else { 13 };
    (0..lines)
        .map(|i| {
            let (start, end, flags) = d
                .bars
                .iter()
                .find(|b| b.0 == i)
                .map_or((0, 0, 0), |&(_, start, size, flags)| {
                    (start, start + size - 1, flags)
                });
            format!("0x{start:016x} 0x{end:016x} 0x{flags:016x}\n")
        })
        .collect()
}

/// What differs, host to host and kernel to kernel, in the PCI sysfs [`write`] produces.
pub struct Kernel<'a> {
    /// The CPUs local to a NUMA node (-1: all).
    pub cpus_of: &'a dyn Fn(i32) -> Vec<u32>,
    /// `nr_cpu_ids`, the width of `local_cpus`.
    pub nr_cpus: u32,
    /// Whether the kernel ends `devspec` with a newline (5.13+).
    pub devspec_newline: bool,
    /// What `/sys/kernel/iommu_groups/N/type` reads, on kernels that have it.
    pub group_type: Option<&'static str>,
    /// The device tree the functions' `of_node` links point into, for the `OF_*` keys of
    /// `uevent`.
    pub dt: Option<&'a Dt>,
    /// Drivers registered with the PCI bus and bound to nothing: their directories under
    /// `/sys/bus/pci/drivers` exist all the same.
    pub idle_drivers: &'a [&'static str],
}

/// The `OF_*` lines of a device's `uevent`, in the order Linux writes them: torvalds/linux
/// `drivers/base/core.c` `dev_uevent` calls `of_device_uevent` (`drivers/of/device.c`) for a
/// device with an `of_node`, after `DRIVER=` and before the bus's own keys (`pci_uevent`):
/// `OF_NAME`, `OF_FULLNAME`, `OF_TYPE` when the node has a `device_type`, one
/// `OF_COMPATIBLE_<n>` per `compatible` string, `OF_COMPATIBLE_N` (then `OF_ALIAS_<n>` for
/// `/aliases` entries naming the node: the model has none). The same code in 4.14 (with
/// `full_name` for `%pOF`) and in 6.1, whose live capture shows exactly these lines.
fn of_uevent(dt: Option<&Dt>, node: &str) -> String {
    let text = |bytes: &[u8]| {
        bytes
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
    };
    let leaf = node.rsplit('/').next().unwrap_or_default();
    let name = leaf.split('@').next().unwrap_or_default();
    let mut s = format!("OF_NAME={name}\nOF_FULLNAME=/{node}\n");
    let prop = |name: &str| dt.and_then(|dt| dt.prop(node, name)).map(text);
    if let Some(kind) = prop("device_type").and_then(|t| t.into_iter().next()) {
        s.push_str(&format!("OF_TYPE={kind}\n"));
    }
    let compatible = prop("compatible").unwrap_or_default();
    for (n, c) in compatible.iter().enumerate() {
        s.push_str(&format!("OF_COMPATIBLE_{n}={c}\n"));
    }
    s.push_str(&format!("OF_COMPATIBLE_N={}\n", compatible.len()));
    s
}

/// Writes every function to `tree`: the device directories with their attributes and links,
/// `/sys/bus/pci/{devices,drivers}` and `/sys/kernel/iommu_groups`.
pub fn write(tree: &mut Tree, devs: &[Dev], kernel: &Kernel<'_>) -> Result<()> {
    let nr_cpus = kernel.nr_cpus;
    tree.insert_dir("sys/bus/pci/devices")?;
    tree.insert_dir("sys/bus/pci/drivers")?;
    for driver in kernel.idle_drivers {
        tree.insert_dir(&format!("sys/bus/pci/drivers/{driver}"))?;
    }
    let mut groups = BTreeSet::new();
    for (i, d) in devs.iter().enumerate() {
        if !d.in_sysfs {
            continue;
        }
        let dir = sysfs_dir(devs, i);
        // The host bridge `pciDDDD:00` is a device without bus or class, so
        // drivers/base/core.c `dev_uevent_filter` refuses it and `uevent_show` prints
        // nothing: an empty `uevent` (so in the live capture).
        if d.parent.is_none() {
            let host = dir.split('/').take(2).collect::<Vec<_>>().join("/");
            tree.insert_file(&format!("sys/{host}/uevent"), Vec::new())?;
        }
        let up = up(&dir);
        let addr = d.addr();
        let file = |tree: &mut Tree, name: &str, text: String| {
            tree.insert_file(&format!("sys/{dir}/{name}"), text.into_bytes())
        };
        file(tree, "vendor", format!("0x{:04x}\n", d.vendor))?;
        file(tree, "device", format!("0x{:04x}\n", d.device))?;
        file(tree, "class", format!("0x{:06x}\n", d.class))?;
        file(tree, "revision", format!("0x{:02x}\n", d.rev))?;
        file(tree, "subsystem_vendor", format!("0x{:04x}\n", d.subsys.0))?;
        file(tree, "subsystem_device", format!("0x{:04x}\n", d.subsys.1))?;
        file(tree, "irq", format!("{}\n", d.irq))?;
        file(tree, "resource", resource(d))?;
        file(tree, "numa_node", format!("{}\n", d.numa))?;
        let cpus = (kernel.cpus_of)(d.numa);
        file(tree, "local_cpus", format!("{}\n", cpumask(&cpus, nr_cpus)))?;
        file(tree, "local_cpulist", format!("{}\n", list(&cpus)))?;
        file(
            tree,
            "enable",
            format!("{}\n", u8::from(d.driver.is_some())),
        )?;
        file(tree, "driver_override", "(null)\n".to_owned())?;
        // Linux drivers/pci/pci-driver.c pci_uevent and pci-sysfs.c modalias_show.
        let modalias = format!(
            "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}",
            d.vendor,
            d.device,
            d.subsys.0,
            d.subsys.1,
            d.class >> 16,
            (d.class >> 8) & 0xff,
            d.class & 0xff
        );
        file(tree, "modalias", format!("{modalias}\n"))?;
        let mut uevent = String::new();
        if let Some(driver) = d.driver {
            uevent.push_str(&format!("DRIVER={driver}\n"));
        }
        if let Some(node) = &d.of_node {
            uevent.push_str(&of_uevent(kernel.dt, node));
        }
        uevent.push_str(&format!(
            "PCI_CLASS={:X}\nPCI_ID={:04X}:{:04X}\nPCI_SUBSYS_ID={:04X}:{:04X}\nPCI_SLOT_NAME={addr}\nMODALIAS={modalias}\n",
            d.class, d.vendor, d.device, d.subsys.0, d.subsys.1
        ));
        file(tree, "uevent", uevent)?;
        if let Some((secondary, subordinate)) = d.bridge {
            file(tree, "secondary_bus_number", format!("{secondary}\n"))?;
            file(tree, "subordinate_bus_number", format!("{subordinate}\n"))?;
        }
        if d.pcie.is_some() && d.link.1 > 0 {
            let speed = |s: u8| match s {
                1 => "2.5 GT/s PCIe",
                2 => "5.0 GT/s PCIe",
                3 => "8.0 GT/s PCIe",
                _ => "16.0 GT/s PCIe",
            };
            file(tree, "max_link_speed", format!("{}\n", speed(d.link.0)))?;
            file(tree, "max_link_width", format!("{}\n", d.link.1))?;
            file(tree, "current_link_speed", format!("{}\n", speed(d.link.2)))?;
            file(tree, "current_link_width", format!("{}\n", d.link.3))?;
        }
        tree.insert_file(&format!("sys/{dir}/config"), config(d))?;
        tree.insert_symlink(&format!("sys/{dir}/subsystem"), &format!("{up}bus/pci"))?;
        tree.insert_symlink(
            &format!("sys/bus/pci/devices/{addr}"),
            &format!("../../../{dir}"),
        )?;
        if let Some(driver) = d.driver {
            tree.insert_symlink(
                &format!("sys/{dir}/driver"),
                &format!("{up}bus/pci/drivers/{driver}"),
            )?;
            tree.insert_symlink(
                &format!("sys/bus/pci/drivers/{driver}/{addr}"),
                &format!("../../../../{dir}"),
            )?;
        }
        if let Some(group) = d.group {
            groups.insert(group);
            tree.insert_symlink(
                &format!("sys/{dir}/iommu_group"),
                &format!("{up}kernel/iommu_groups/{group}"),
            )?;
            tree.insert_symlink(
                &format!("sys/kernel/iommu_groups/{group}/devices/{addr}"),
                &format!("../../../../{dir}"),
            )?;
        }
        if let Some(node) = &d.of_node {
            // §2.4 "of_node link targets": relative, into firmware/devicetree/base.
            tree.insert_symlink(
                &format!("sys/{dir}/of_node"),
                &format!("{up}firmware/devicetree/base/{node}"),
            )?;
            // Linux drivers/pci/pci-sysfs.c devspec_show: `sprintf(buf, "%pOF", np)` before
            // 5.13, `sysfs_emit(buf, "%pOF\n", np)` after (§7 "other details").
            let nl = if kernel.devspec_newline { "\n" } else { "" };
            file(tree, "devspec", format!("/{node}{nl}"))?;
        }
    }
    if let Some(text) = kernel.group_type {
        for group in groups {
            tree.insert_file(
                &format!("sys/kernel/iommu_groups/{group}/type"),
                text.as_bytes().to_vec(),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_formats() {
        assert_eq!(list(&[0, 8, 252, 253, 254, 255]), "0,8,252-255");
        assert_eq!(list(&[]), "");
        let node0: Vec<u32> = (0..80).collect();
        assert_eq!(
            cpumask(&node0, 160),
            "00000000,00000000,0000ffff,ffffffff,ffffffff"
        );
        assert_eq!(up("devices/pci0006:00/0006:00:00.0"), "../../../");
    }

    #[test]
    fn bridge_bars_land_in_config_and_resource() {
        let mut d = Dev::new(6, 0, 1, 2, (0x1014, 0x04ea), 0x068001);
        d.bars = vec![
            (0, 0x0006_0302_016a_0000, 0x20000, MEM64),
            (2, 0x0006_0302_0171_0000, 0x10000, MEM64),
        ];
        let c = config(&d);
        assert_eq!(
            &c[0x10..0x18],
            &[0x04, 0x00, 0x6a, 0x01, 0x02, 0x03, 0x06, 0x00]
        );
        let r = resource(&d);
        assert_eq!(r.lines().count(), 13);
        assert!(
            r.starts_with("0x00060302016a0000 0x00060302016bffff 0x0000000000140204\n"),
            "{r}"
        );
    }
}
