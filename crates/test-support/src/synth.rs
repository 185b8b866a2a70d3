//! Synthetic sysfs PCI trees, for tests and benchmarks (std only, no panics).
//!
//! Used by the pci crate's tests, by lsnvlink-cli's tests (lspci as the oracle) and by
//! `cargo xtask bench pci`. Writes what Linux and lspci need of a device: `vendor device class
//! revision subsystem_* irq resource numa_node config` (64 bytes; bridges with header type 1
//! and their bus numbers), the `/sys/bus/pci/devices/<address>` link into
//! `/sys/devices/pci…/…`, and `driver`, `iommu_group` and `of_node` links whose targets exist,
//! so that lspci resolves them too.
//!
//! ```
//! use lsnvlink_test_support::synth::{Dev, Synth};
//!
//! let dir = tempfile::tempdir()?;
//! let mut synth = Synth::new(dir.path())?;
//! let root_port = Dev::new(4, 0, 0, 0).ids(0x1014, 0x04c1, 0x060400, 0).bridge(1, 1);
//! synth.add(&root_port, None)?;
//! let gpu = Dev::new(4, 1, 0, 0).ids(0x10de, 0x1db1, 0x030200, 0xa1);
//! let path = synth.add(&gpu, Some("0004:00:00.0"))?;
//! assert!(path.ends_with("sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0"));
//! assert_eq!(std::fs::read_to_string(path.join("vendor"))?, "0x10de\n");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// One function to write.
#[derive(Debug, Clone)]
pub struct Dev {
    /// PCI domain (segment); above `0xffff` for 32-bit domains.
    pub domain: u32,
    /// Bus number.
    pub bus: u8,
    /// Device number on the bus.
    pub device: u8,
    /// Function number.
    pub function: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device_id: u16,
    /// Class code (base class, subclass, programming interface: `0x030200`).
    pub class: u32,
    /// Revision.
    pub revision: u8,
    /// Subsystem (vendor, device) ids, written for header type 0.
    pub subsystem: (u16, u16),
    /// Header type byte (bit 7: multi-function; 1 for a bridge).
    pub header_type: u8,
    /// (secondary, subordinate) for bridges (header type 1).
    pub buses: Option<(u8, u8)>,
    /// `numa_node` content (`-1`: none); no file when `None`.
    pub numa_node: Option<i32>,
    /// IOMMU group linked as `iommu_group`.
    pub iommu_group: Option<u32>,
    /// Driver linked as `driver`, also named in `uevent`.
    pub driver: Option<String>,
    /// Path under /sys/firmware/devicetree/base, without a leading '/'.
    pub of_node: Option<String>,
    /// Physical slot written under `/sys/bus/pci/slots`.
    pub slot: Option<String>,
}

impl Dev {
    /// A virtio network function (`1af4:1000`, class `020000`) at the address, NUMA node -1,
    /// no driver, group, device-tree node or slot.
    pub fn new(domain: u32, bus: u8, device: u8, function: u8) -> Dev {
        Dev {
            domain,
            bus,
            device,
            function,
            vendor: 0x1af4,
            device_id: 0x1000,
            class: 0x020000,
            revision: 0,
            subsystem: (0, 0),
            header_type: 0,
            buses: None,
            numa_node: Some(-1),
            iommu_group: None,
            driver: None,
            of_node: None,
            slot: None,
        }
    }

    /// The address, `DDDD:BB:DD.F`.
    pub fn address(&self) -> String {
        format!(
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }

    /// The device with these ids, class and revision.
    pub fn ids(mut self, vendor: u16, device: u16, class: u32, revision: u8) -> Dev {
        self.vendor = vendor;
        self.device_id = device;
        self.class = class;
        self.revision = revision;
        self
    }

    /// The device as a PCI bridge (header type 1) to buses `secondary..=subordinate`.
    pub fn bridge(mut self, secondary: u8, subordinate: u8) -> Dev {
        self.header_type = 1;
        self.buses = Some((secondary, subordinate));
        self
    }

    fn config(&self) -> [u8; 64] {
        let mut c = [0u8; 64];
        let mut put = |at: usize, bytes: &[u8]| {
            if let Some(dst) = c.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        put(0, &self.vendor.to_le_bytes());
        put(2, &self.device_id.to_le_bytes());
        put(8, &[self.revision]);
        let class = self.class.to_le_bytes();
        put(9, class.get(..3).unwrap_or_default());
        put(14, &[self.header_type]);
        if let Some((sec, sub)) = self.buses {
            put(0x18, &[self.bus, sec, sub]);
        } else if self.header_type & 0x7f == 0 {
            put(0x2c, &self.subsystem.0.to_le_bytes());
            put(0x2e, &self.subsystem.1.to_le_bytes());
        }
        c
    }
}

/// A tree being written under `root` (the directory that holds `sys/`).
pub struct Synth {
    root: PathBuf,
    /// Canonical path under sys/devices of each written device, by address.
    paths: std::collections::HashMap<String, String>,
    made: BTreeSet<PathBuf>,
}

fn write(path: &Path, content: &[u8]) -> io::Result<()> {
    std::fs::write(path, content)
}

impl Synth {
    /// An empty tree under `root`: `sys/bus/pci/devices` and `sys/devices`.
    pub fn new(root: &Path) -> io::Result<Synth> {
        std::fs::create_dir_all(root.join("sys/bus/pci/devices"))?;
        std::fs::create_dir_all(root.join("sys/devices"))?;
        Ok(Synth {
            root: root.to_path_buf(),
            paths: std::collections::HashMap::new(),
            made: BTreeSet::new(),
        })
    }

    fn mkdir(&mut self, path: PathBuf) -> io::Result<()> {
        if !self.made.contains(&path) {
            std::fs::create_dir_all(&path)?;
            self.made.insert(path);
        }
        Ok(())
    }

    /// The bus `domain:bus` below the device at `above` (under `sys/devices/`): its
    /// `pci_bus/DDDD:BB` directory and its `/sys/class/pci_bus` link, as Linux has them.
    fn bus(&mut self, above: &str, domain: u32, bus: u8) -> io::Result<()> {
        let name = format!("{domain:04x}:{bus:02x}");
        let class = self.root.join("sys/class/pci_bus");
        if self.made.contains(&class.join(&name)) {
            return Ok(());
        }
        self.mkdir(
            self.root
                .join("sys/devices")
                .join(above)
                .join("pci_bus")
                .join(&name),
        )?;
        self.mkdir(class.clone())?;
        std::os::unix::fs::symlink(
            format!("../../devices/{above}/pci_bus/{name}"),
            class.join(&name),
        )?;
        self.made.insert(class.join(name));
        Ok(())
    }

    /// The canonical sysfs path (under `sys/devices/`) of a written device.
    pub fn path_of(&self, address: &str) -> Option<&str> {
        self.paths.get(address).map(String::as_str)
    }

    /// Writes `dev` behind `parent` (an address written before), or on its root bus.
    pub fn add(&mut self, dev: &Dev, parent: Option<&str>) -> io::Result<PathBuf> {
        let address = dev.address();
        let rel = match parent.and_then(|p| self.paths.get(p)) {
            Some(p) => format!("{p}/{address}"),
            None => format!("pci{:04x}:{:02x}/{address}", dev.domain, dev.bus),
        };
        let dir = self.root.join("sys/devices").join(&rel);
        self.mkdir(dir.clone())?;
        if parent.is_none() {
            self.bus(
                &format!("pci{:04x}:{:02x}", dev.domain, dev.bus),
                dev.domain,
                dev.bus,
            )?;
        }
        if let Some((secondary, _)) = dev.buses {
            self.bus(&rel, dev.domain, secondary)?;
        }
        // Depth of the device directory below sys/: devices/<components>.
        let depth = 1 + rel.split('/').count();
        let up = "../".repeat(depth);
        write(
            &dir.join("vendor"),
            format!("0x{:04x}\n", dev.vendor).as_bytes(),
        )?;
        write(
            &dir.join("device"),
            format!("0x{:04x}\n", dev.device_id).as_bytes(),
        )?;
        write(
            &dir.join("class"),
            format!("0x{:06x}\n", dev.class).as_bytes(),
        )?;
        write(
            &dir.join("revision"),
            format!("0x{:02x}\n", dev.revision).as_bytes(),
        )?;
        write(
            &dir.join("subsystem_vendor"),
            format!("0x{:04x}\n", dev.subsystem.0).as_bytes(),
        )?;
        write(
            &dir.join("subsystem_device"),
            format!("0x{:04x}\n", dev.subsystem.1).as_bytes(),
        )?;
        write(&dir.join("irq"), b"0\n")?;
        write(
            &dir.join("resource"),
            "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                .repeat(13)
                .as_bytes(),
        )?;
        if let Some(node) = dev.numa_node {
            write(&dir.join("numa_node"), format!("{node}\n").as_bytes())?;
        }
        write(&dir.join("config"), &dev.config())?;
        // As the kernel prints it (pci_uevent, drivers/pci/pci-driver.c).
        let mut uevent = String::new();
        if let Some(driver) = &dev.driver {
            uevent.push_str(&format!("DRIVER={driver}\n"));
        }
        uevent.push_str(&format!(
            "PCI_CLASS={:X}\nPCI_ID={:04X}:{:04X}\nPCI_SUBSYS_ID={:04X}:{:04X}\nPCI_SLOT_NAME={address}\n",
            dev.class, dev.vendor, dev.device_id, dev.subsystem.0, dev.subsystem.1
        ));
        write(&dir.join("uevent"), uevent.as_bytes())?;
        if let Some(driver) = &dev.driver {
            self.mkdir(self.root.join("sys/bus/pci/drivers").join(driver))?;
            std::os::unix::fs::symlink(
                format!("{up}bus/pci/drivers/{driver}"),
                dir.join("driver"),
            )?;
        }
        if let Some(group) = dev.iommu_group {
            self.mkdir(
                self.root
                    .join(format!("sys/kernel/iommu_groups/{group}/devices")),
            )?;
            std::os::unix::fs::symlink(
                format!("{up}kernel/iommu_groups/{group}"),
                dir.join("iommu_group"),
            )?;
        }
        if let Some(node) = &dev.of_node {
            self.mkdir(self.root.join("sys/firmware/devicetree/base").join(node))?;
            std::os::unix::fs::symlink(
                format!("{up}firmware/devicetree/base/{node}"),
                dir.join("of_node"),
            )?;
            write(&dir.join("devspec"), format!("/{node}\n").as_bytes())?;
        }
        if let Some(slot) = &dev.slot {
            let slot_dir = self.root.join("sys/bus/pci/slots").join(slot);
            self.mkdir(slot_dir.clone())?;
            write(
                &slot_dir.join("address"),
                format!("{:04x}:{:02x}:{:02x}\n", dev.domain, dev.bus, dev.device).as_bytes(),
            )?;
        }
        std::os::unix::fs::symlink(
            format!("../../../devices/{rel}"),
            self.root.join("sys/bus/pci/devices").join(&address),
        )?;
        self.paths.insert(address, rel);
        Ok(dir)
    }
}

/// Functions, (vendor, device, class, revision), driver, subsystem ids.
type Endpoint = (u8, (u16, u16, u32, u8), Option<&'static str>, (u16, u16));

/// Writes a tree of exactly `n` devices under `root` and returns their addresses.
///
/// Domains come in a repeating pattern: a PCIe domain (root port → switch upstream port →
/// up to 8 downstream ports, each with a multi-function endpoint: GPUs, NICs, NVMe), then an
/// NPU domain of NVLink2 bridges (`1014:04ea`, class `068001`, flat on bus 0). Domain 0000 is
/// always a PCIe domain; every fourth domain is numbered above `0xffff` (32-bit domains).
/// Drivers, NUMA nodes (`-1` on NPU bridges), IOMMU groups, device-tree nodes and slots vary
/// with the position.
pub fn generate(root: &Path, n: usize) -> io::Result<Vec<String>> {
    let mut synth = Synth::new(root)?;
    let mut out = Vec::with_capacity(n);
    let mut group = 0u32;
    let mut index = 0u32;
    'domains: while out.len() < n {
        let domain = if index % 4 == 3 {
            0x10000 + index
        } else {
            index
        };
        let npu = index % 3 == 2;
        let numa = if index.is_multiple_of(2) { 0 } else { 8 };
        index += 1;
        if npu {
            for dev_no in 0..32u8 {
                for function in 0..3u8 {
                    if out.len() >= n {
                        break 'domains;
                    }
                    let mut d =
                        Dev::new(domain, 0, dev_no, function).ids(0x1014, 0x04ea, 0x068001, 1);
                    d.header_type = 0x80;
                    d.iommu_group = Some(group);
                    if dev_no % 2 == 0 {
                        d.driver = Some("ibmnpu".into());
                    }
                    d.of_node = Some(format!(
                        "pciex@{:x}/unknown-bridge@{dev_no:x}{}",
                        0x6030200000000u64 + u64::from(domain),
                        if function == 0 {
                            String::new()
                        } else {
                            format!(",{function}")
                        }
                    ));
                    synth.add(&d, None)?;
                    out.push(d.address());
                }
            }
            group += 1;
            continue;
        }
        let ports = 8u8;
        let mut rp = Dev::new(domain, 0, 0, 0)
            .ids(0x1014, 0x04c1, 0x060400, 0)
            .bridge(1, 2 + ports);
        rp.driver = Some("pcieport".into());
        rp.numa_node = Some(numa);
        rp.iommu_group = Some(group);
        rp.of_node = Some(format!(
            "pciex@{:x}/pci@0",
            0x600c3c0000000u64 + u64::from(domain)
        ));
        let rp_addr = rp.address();
        synth.add(&rp, None)?;
        out.push(rp_addr.clone());
        if out.len() >= n {
            break;
        }
        let mut up = Dev::new(domain, 1, 0, 0)
            .ids(0x10b5, 0x8725, 0x060400, 0xca)
            .bridge(2, 2 + ports);
        up.subsystem = (0x10b5, 0x8725);
        up.driver = Some("pcieport".into());
        up.numa_node = Some(numa);
        up.iommu_group = Some(group);
        let up_addr = up.address();
        synth.add(&up, Some(&rp_addr))?;
        out.push(up_addr.clone());
        for port in 0..ports {
            if out.len() >= n {
                break 'domains;
            }
            let bus = 3 + port;
            let mut dp = Dev::new(domain, 2, port, 0)
                .ids(0x10b5, 0x8725, 0x060400, 0xca)
                .bridge(bus, bus);
            dp.subsystem = (0x10b5, 0x8725);
            dp.driver = Some("pcieport".into());
            dp.numa_node = Some(numa);
            dp.iommu_group = Some(group);
            let dp_addr = dp.address();
            synth.add(&dp, Some(&up_addr))?;
            out.push(dp_addr.clone());
            let (functions, ids, driver, sub): Endpoint = match port % 4 {
                0 => (
                    1,
                    (0x10de, 0x1db1, 0x030200, 0xa1),
                    Some("nvidia"),
                    (0x10de, 0x1212),
                ),
                1 => (
                    1,
                    (0x10de, 0x1db5, 0x030200, 0xa1),
                    Some("vfio-pci"),
                    (0x10de, 0x124a),
                ),
                2 => (
                    4,
                    (0x15b3, 0x1019, 0x020700, 0x00),
                    Some("mlx5_core"),
                    (0x15b3, 0x0008),
                ),
                _ => (1, (0x144d, 0xa822, 0x010802, 0x01), None, (0x144d, 0xa801)),
            };
            for function in 0..functions {
                if out.len() >= n {
                    break 'domains;
                }
                let mut ep = Dev::new(domain, bus, 0, function).ids(ids.0, ids.1, ids.2, ids.3);
                ep.subsystem = sub;
                ep.header_type = if functions > 1 && function == 0 {
                    0x80
                } else {
                    0
                };
                ep.driver = driver.map(str::to_owned);
                ep.numa_node = Some(numa);
                ep.iommu_group = Some(group + 1 + u32::from(port));
                if function == 0 {
                    ep.slot = Some(format!("{domain:x}-{port}"));
                }
                synth.add(&ep, Some(&dp_addr))?;
                out.push(ep.address());
            }
        }
        group += 1 + u32::from(ports);
    }
    Ok(out)
}
