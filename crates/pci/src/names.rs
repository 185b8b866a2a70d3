//! Names for vendor, device, subsystem and class ids: the system's `pci.ids`, plus a small
//! built-in table for the ids that matter on POWER9 NVLink2 hosts.
//!
//! Names are formatted the way `lspci -nn` prints them (pciutils `lib/names.c`), unknown ids
//! included: `Bridge [0680]`, `IBM Device [1014:04ea]`, `Vendor [fff0]`, `Unknown vendor
//! [abce]`, `Class [fe00]`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

/// Where distributions install `pci.ids`, in the order lsnvlink looks.
pub const SYSTEM_PCI_IDS: [&str; 3] = [
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/usr/share/pci.ids",
];

/// Vendors named without `pci.ids`.
const BUILTIN_VENDORS: &[(u16, &str)] = &[(0x1014, "IBM"), (0x10de, "NVIDIA Corporation")];

/// Devices named without `pci.ids`. `1014:04ea` is in no `pci.ids` release; its class and use
/// are from open-power/skiboot `hw/npu2.c` (`npu2_populate_cfg`). The others as `pci.ids`
/// 2023.04.10 names them.
const BUILTIN_DEVICES: &[(u16, u16, &str)] = &[
    (0x1014, 0x04ea, "POWER9 NPU2 NVLink2 bridge"),
    (0x1014, 0x04c1, "POWER9 Host Bridge (PHB4)"),
    (0x10de, 0x1db1, "GV100GL [Tesla V100 SXM2 16GB]"),
    (0x10de, 0x1db5, "GV100GL [Tesla V100 SXM2 32GB]"),
    (0x10de, 0x1df5, "GV100GL [Tesla V100 SXM2 16GB]"),
];

/// Classes named without `pci.ids` (base, subclass), as `pci.ids` names them.
const BUILTIN_CLASSES: &[(u8, Option<u8>, &str)] = &[
    (0x03, None, "Display controller"),
    (0x03, Some(0x02), "3D controller"),
    (0x06, None, "Bridge"),
    (0x06, Some(0x04), "PCI bridge"),
    (0x06, Some(0x80), "Bridge"),
];

/// The built-in name of a device, if it has one (whether or not `pci.ids` knows it).
pub fn builtin_device(vendor: u16, device: u16) -> Option<&'static str> {
    BUILTIN_DEVICES
        .iter()
        .find(|(v, d, _)| *v == vendor && *d == device)
        .map(|(_, _, name)| *name)
}

#[derive(Debug, Default)]
struct VendorEntry {
    name: String,
    devices: HashMap<u16, DeviceEntry>,
}

#[derive(Debug, Default)]
struct DeviceEntry {
    name: String,
    subsystems: HashMap<(u16, u16), String>,
}

/// A parsed `pci.ids`.
#[derive(Debug, Default)]
pub struct PciIds {
    vendors: HashMap<u16, VendorEntry>,
    classes: HashMap<u8, String>,
    subclasses: HashMap<(u8, u8), String>,
    prog_ifs: HashMap<(u8, u8, u8), String>,
}

/// Splits `hhhh  name` into its hex id and the name.
fn id_and_name(line: &str, digits: usize) -> Option<(u32, &str)> {
    let id = line.get(..digits)?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = line.get(digits..)?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let id = u32::from_str_radix(id, 16).ok()?;
    Some((id, rest.trim()))
}

impl PciIds {
    /// Parses `pci.ids` text. Device and subsystem lines are kept only for vendors `wanted`
    /// accepts (every vendor's own name is kept), so that a listing of a few vendors does not
    /// pay for the whole file. Lines that do not parse are skipped, as pciutils does.
    pub fn parse(text: &str, wanted: impl Fn(u16) -> bool) -> PciIds {
        let mut ids = PciIds::default();
        enum At {
            Nothing,
            Vendor(u16, bool),
            Device(u16, u16),
            Class(u8),
            Subclass(u8, u8),
        }
        let mut at = At::Nothing;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("\t\t") {
                match at {
                    At::Device(v, d) => {
                        let Some((sv, after)) = id_and_name(rest, 4) else {
                            continue;
                        };
                        if let Some((sd, name)) = id_and_name(after, 4)
                            && let Some(dev) =
                                ids.vendors.get_mut(&v).and_then(|e| e.devices.get_mut(&d))
                        {
                            dev.subsystems
                                .insert((sv as u16, sd as u16), name.to_owned());
                        }
                    }
                    At::Subclass(c, s) => {
                        if let Some((p, name)) = id_and_name(rest, 2) {
                            ids.prog_ifs.insert((c, s, p as u8), name.to_owned());
                        }
                    }
                    _ => {}
                }
            } else if let Some(rest) = line.strip_prefix('\t') {
                match at {
                    At::Vendor(v, true) | At::Device(v, _) => {
                        if let Some((d, name)) = id_and_name(rest, 4) {
                            let d = d as u16;
                            if let Some(vendor) = ids.vendors.get_mut(&v) {
                                vendor.devices.insert(
                                    d,
                                    DeviceEntry {
                                        name: name.to_owned(),
                                        subsystems: HashMap::new(),
                                    },
                                );
                            }
                            at = At::Device(v, d);
                        }
                    }
                    At::Class(c) | At::Subclass(c, _) => {
                        if let Some((s, name)) = id_and_name(rest, 2) {
                            ids.subclasses.insert((c, s as u8), name.to_owned());
                            at = At::Subclass(c, s as u8);
                        }
                    }
                    _ => {}
                }
            } else if let Some(rest) = line.strip_prefix("C ") {
                at = match id_and_name(rest, 2) {
                    Some((c, name)) => {
                        ids.classes.insert(c as u8, name.to_owned());
                        At::Class(c as u8)
                    }
                    None => At::Nothing,
                };
            } else {
                at = match id_and_name(line, 4) {
                    Some((v, name)) => {
                        let v = v as u16;
                        ids.vendors.entry(v).or_default().name = name.to_owned();
                        At::Vendor(v, wanted(v))
                    }
                    // Other sections (device classes are the last in pci.ids; some files add
                    // `X` lists): skip until the next vendor or class line.
                    None => At::Nothing,
                };
            }
        }
        ids
    }

    /// Reads and parses the file at `path` (see [`parse`](PciIds::parse)) within
    /// [`fsroot::Limits::default`]'s `max_input_bytes`.
    pub fn load(path: &Path, wanted: impl Fn(u16) -> bool) -> io::Result<PciIds> {
        PciIds::load_bounded(path, wanted, fsroot::Limits::default().max_input_bytes)
    }

    /// Reads and parses the file at `path`, opened once and read from that handle: it must be
    /// a regular file (a device node such as `/dev/zero`, a FIFO or a socket is refused
    /// without reading or blocking) of at most `limit` bytes ([`fsroot::read_input`]).
    pub fn load_bounded(
        path: &Path,
        wanted: impl Fn(u16) -> bool,
        limit: u64,
    ) -> io::Result<PciIds> {
        let bytes = fsroot::read_input(path, limit)?;
        Ok(PciIds::parse(&String::from_utf8_lossy(&bytes), wanted))
    }
}

/// Name lookups: `pci.ids` when there is one, then the built-in table.
#[derive(Debug, Default)]
pub struct Names {
    ids: Option<PciIds>,
    source: Option<PathBuf>,
}

impl Names {
    /// Names from the built-in table only.
    pub fn builtin() -> Names {
        Names::default()
    }

    /// Names from a parsed `pci.ids` (read from `source`), then the built-in table.
    pub fn with_ids(ids: PciIds, source: Option<PathBuf>) -> Names {
        Names {
            ids: Some(ids),
            source,
        }
    }

    /// Loads `path`, or else the first system `pci.ids` that exists ([`SYSTEM_PCI_IDS`]);
    /// built-in names only when there is none. An explicit `path` that cannot be read is an
    /// error. Only vendors in `vendors` get their device lists parsed.
    pub fn load(path: Option<&Path>, vendors: &HashSet<u16>) -> io::Result<Names> {
        Names::load_bounded(path, vendors, fsroot::Limits::default().max_input_bytes)
    }

    /// As [`load`](Names::load), reading at most `limit` bytes of a regular file
    /// ([`PciIds::load_bounded`]).
    pub fn load_bounded(
        path: Option<&Path>,
        vendors: &HashSet<u16>,
        limit: u64,
    ) -> io::Result<Names> {
        let wanted = |v: u16| vendors.contains(&v);
        if let Some(path) = path {
            let ids = PciIds::load_bounded(path, wanted, limit)?;
            return Ok(Names::with_ids(ids, Some(path.to_path_buf())));
        }
        for candidate in SYSTEM_PCI_IDS {
            match PciIds::load_bounded(Path::new(candidate), wanted, limit) {
                Ok(ids) => return Ok(Names::with_ids(ids, Some(PathBuf::from(candidate)))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Names::builtin())
    }

    /// The `pci.ids` file in use, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The vendor's name.
    pub fn vendor(&self, vendor: u16) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.vendors.get(&vendor))
            .map(|v| v.name.as_str())
            .filter(|n| !n.is_empty())
            .or_else(|| {
                BUILTIN_VENDORS
                    .iter()
                    .find(|(v, _)| *v == vendor)
                    .map(|(_, n)| *n)
            })
    }

    /// The device's name.
    pub fn device(&self, vendor: u16, device: u16) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.vendors.get(&vendor))
            .and_then(|v| v.devices.get(&device))
            .map(|d| d.name.as_str())
            .or_else(|| builtin_device(vendor, device))
    }

    /// The subsystem's name (`pci.ids` only).
    pub fn subsystem(&self, vendor: u16, device: u16, sv: u16, sd: u16) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.vendors.get(&vendor))
            .and_then(|v| v.devices.get(&device))
            .and_then(|d| d.subsystems.get(&(sv, sd)))
            .map(String::as_str)
    }

    /// The base class's name.
    pub fn class(&self, base: u8) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.classes.get(&base))
            .map(String::as_str)
            .or_else(|| builtin_class(base, None))
    }

    /// The subclass's name.
    pub fn subclass(&self, base: u8, sub: u8) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.subclasses.get(&(base, sub)))
            .map(String::as_str)
            .or_else(|| builtin_class(base, Some(sub)))
    }

    /// The programming interface's name (`pci.ids` only).
    pub fn prog_if(&self, base: u8, sub: u8, prog_if: u8) -> Option<&str> {
        self.ids
            .as_ref()
            .and_then(|ids| ids.prog_ifs.get(&(base, sub, prog_if)))
            .map(String::as_str)
    }

    /// `class` as `lspci -nn` prints it: `PCI bridge [0604]`, else the base class's name,
    /// else `Class [xxxx]`.
    pub fn class_nn(&self, class: u32) -> String {
        let [_, base, sub, _] = class.to_be_bytes();
        let code = u16::from_be_bytes([base, sub]);
        match self.subclass(base, sub).or_else(|| self.class(base)) {
            Some(name) => format!("{name} [{code:04x}]"),
            None => format!("Class [{code:04x}]"),
        }
    }

    /// Vendor and device together as `lspci -nn` prints them: `IBM Device [1014:04ea]` when
    /// only the vendor is known, `Device [vvvv:dddd]` when neither is.
    pub fn vendor_device_nn(&self, vendor: u16, device: u16) -> String {
        match (self.vendor(vendor), self.device(vendor, device)) {
            (Some(v), Some(d)) => format!("{v} {d} [{vendor:04x}:{device:04x}]"),
            (Some(v), None) => format!("{v} Device [{vendor:04x}:{device:04x}]"),
            (None, _) => format!("Device [{vendor:04x}:{device:04x}]"),
        }
    }

    /// The vendor alone, as the `Vendor:` tag of `lspci -vmmnn`.
    pub fn vendor_nn(&self, vendor: u16) -> String {
        let name = self.vendor(vendor).unwrap_or("Vendor");
        format!("{name} [{vendor:04x}]")
    }

    /// The device alone, as the `Device:` tag of `lspci -vmmnn`.
    pub fn device_nn(&self, vendor: u16, device: u16) -> String {
        let name = self.device(vendor, device).unwrap_or("Device");
        format!("{name} [{device:04x}]")
    }

    /// The subsystem vendor, as the `SVendor:` tag of `lspci -vmmnn`.
    pub fn subsystem_vendor_nn(&self, sv: u16) -> String {
        let name = self.vendor(sv).unwrap_or("Unknown vendor");
        format!("{name} [{sv:04x}]")
    }

    /// The subsystem device, as the `SDevice:` tag of `lspci -vmmnn`: the subsystem's own
    /// name, else the device's name when the subsystem ids repeat the device's ids.
    pub fn subsystem_device_nn(&self, vendor: u16, device: u16, sv: u16, sd: u16) -> String {
        let name = self.subsystem(vendor, device, sv, sd).or_else(|| {
            (vendor == sv && device == sd)
                .then(|| self.device(vendor, device))
                .flatten()
        });
        format!("{} [{sd:04x}]", name.unwrap_or("Device"))
    }
}

fn builtin_class(base: u8, sub: Option<u8>) -> Option<&'static str> {
    BUILTIN_CLASSES
        .iter()
        .find(|(b, s, _)| *b == base && *s == sub)
        .map(|(_, _, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &str = "\
# comment
1014  IBM
\t04c1  POWER9 Host Bridge (PHB4)
10de  NVIDIA Corporation
\t1db1  GV100GL [Tesla V100 SXM2 16GB]
\t\t10de 1212  Tesla V100-SXM2-16GB
10b5  PLX Technology, Inc.
\t8725  PEX 8725
bad line
C 06  Bridge
\t04  PCI bridge
\t\t00  Normal decode
\t80  Bridge
C 03  Display controller
\t02  3D controller
";

    #[test]
    fn lspci_formats() {
        let names = Names::with_ids(PciIds::parse(IDS, |_| true), None);
        assert_eq!(names.class_nn(0x068001), "Bridge [0680]");
        assert_eq!(names.class_nn(0x067700), "Bridge [0677]");
        assert_eq!(names.class_nn(0xfe0000), "Class [fe00]");
        assert_eq!(
            names.vendor_device_nn(0x1014, 0x04c1),
            "IBM POWER9 Host Bridge (PHB4) [1014:04c1]"
        );
        // Not in this pci.ids: the built-in table names it.
        assert_eq!(
            names.vendor_device_nn(0x1014, 0x04ea),
            "IBM POWER9 NPU2 NVLink2 bridge [1014:04ea]"
        );
        assert_eq!(
            names.vendor_device_nn(0x1014, 0x1234),
            "IBM Device [1014:1234]"
        );
        assert_eq!(names.vendor_device_nn(0xfff0, 0x1234), "Device [fff0:1234]");
        assert_eq!(names.vendor_nn(0xfff0), "Vendor [fff0]");
        assert_eq!(names.subsystem_vendor_nn(0xfff0), "Unknown vendor [fff0]");
        assert_eq!(
            names.subsystem_device_nn(0x10de, 0x1db1, 0x10de, 0x1212),
            "Tesla V100-SXM2-16GB [1212]"
        );
        assert_eq!(
            names.subsystem_device_nn(0x10b5, 0x8725, 0x10b5, 0x8725),
            "PEX 8725 [8725]"
        );
        assert_eq!(
            names.subsystem_device_nn(0x10b5, 0x8725, 0x10b5, 0x1),
            "Device [0001]"
        );
        assert_eq!(names.prog_if(6, 4, 0), Some("Normal decode"));
    }

    #[test]
    fn unwanted_vendors_keep_only_their_name() {
        let ids = PciIds::parse(IDS, |v| v == 0x1014);
        let names = Names::with_ids(ids, None);
        assert_eq!(names.vendor(0x10b5), Some("PLX Technology, Inc."));
        assert_eq!(names.device(0x10b5, 0x8725), None);
        assert_eq!(
            names.device(0x1014, 0x04c1),
            Some("POWER9 Host Bridge (PHB4)")
        );
    }

    #[test]
    fn builtin_only() {
        let names = Names::builtin();
        assert_eq!(
            names.vendor_device_nn(0x10de, 0x1db5),
            "NVIDIA Corporation GV100GL [Tesla V100 SXM2 32GB] [10de:1db5]"
        );
        // pci.ids names 1df5 like 1db1: another V100 SXM2 16 GB board.
        assert_eq!(
            names.vendor_device_nn(0x10de, 0x1df5),
            "NVIDIA Corporation GV100GL [Tesla V100 SXM2 16GB] [10de:1df5]"
        );
        assert_eq!(names.class_nn(0x030200), "3D controller [0302]");
        assert_eq!(names.class_nn(0x010802), "Class [0108]");
    }

    #[test]
    fn garbage_does_not_panic() {
        let text = "\t\t\tzz\n\tC 1\nC zz  x\nC 0\n\t\t\n\t1\n\u{e9}\u{e9}\u{e9}\u{e9}  x\n1234\n";
        let _ = PciIds::parse(text, |_| true);
    }
}
