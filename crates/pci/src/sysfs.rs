//! Reading `/sys/bus/pci` through an [`fsroot::Root`].

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use fsroot::{EntryKind, Root};

use crate::address::{BusAddress, PciAddress};

use crate::config::{ConfigHeader, HEADER_LEN};
use crate::device::{AttrError, Attribute, Class, Device, Parent, Problem, link_basename};
use crate::value::{self, ValueError};

/// Where the bus lists its devices.
pub const DEVICES_DIR: &str = "/sys/bus/pci/devices";
/// Where hotplug and firmware slots are listed.
pub const SLOTS_DIR: &str = "/sys/bus/pci/slots";
/// Where the kernel lists every PCI bus, each a link into the device above it.
pub const PCI_BUS_CLASS: &str = "/sys/class/pci_bus";
/// The directory form of the device tree, which `of_node` links point into.
pub const DEVICE_TREE_BASE: &str = "/sys/firmware/devicetree/base";

/// When to read a device's `config` file (its first 64 bytes). Reading it on a live system
/// costs real configuration cycles, so the default reads it only for bridges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigRead {
    /// Never (the revision and subsystem ids then come only from their own files).
    Never,
    /// Only for a device whose `revision` or subsystem files are missing, to take those values
    /// from the header instead.
    Fallback,
    /// For bridges that forward to buses behind them ([`Class::forwards_buses`](crate::Class::forwards_buses)),
    /// whose header holds those bus numbers; and for any device whose `revision` or subsystem
    /// files are missing.
    #[default]
    Bridges,
    /// For every device.
    Always,
}

/// Which attributes to read.
///
/// Fewer files read is a faster walk: a listing like `lspci -n` needs two files per device
/// (`uevent`, `revision`), a tree like `lspci -t` only the bus numbers of bridges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fields {
    /// `vendor`, `device` and `revision`.
    pub ids: bool,
    /// `class` (read anyway when needed to tell whether a device is a bridge).
    pub class: bool,
    /// The parent, from the `/sys/bus/pci/devices/<address>` link's text. Without it the
    /// attributes are read through the link and [`Device::parent`] stays
    /// [`Parent::Unknown`](crate::Parent::Unknown), without an error.
    pub parent: bool,
    /// Take `vendor`, `device` and `class` from the device's `uevent` (`PCI_ID`, `PCI_CLASS`)
    /// when it has them: one file instead of three. Their own files are read (and their
    /// problems reported) when `uevent` is missing or incomplete.
    pub uevent: bool,
    /// With `parent`: find parents without reading every device's bus link. From
    /// `/sys/class/pci_bus` (one link per bus names the bridge above it, so which devices are
    /// bridges is known without reading their class), else by walking `/sys/devices/pci*`
    /// (one listing per bridge). Devices neither reaches are still found through their link.
    pub walk: bool,
    /// `subsystem_vendor`, `subsystem_device`.
    pub subsystem: bool,
    /// `numa_node`.
    pub numa_node: bool,
    /// The `iommu_group` link.
    pub iommu_group: bool,
    /// The `driver` link.
    pub driver: bool,
    /// The `of_node` link.
    pub of_node: bool,
    /// `devspec`.
    pub devspec: bool,
    /// Slot labels from `/sys/bus/pci/slots`.
    pub slot: bool,
    /// When to read `config`.
    pub config: ConfigRead,
}

impl Fields {
    /// Everything, each from its own file, `config` for bridges only.
    pub fn all() -> Fields {
        Fields {
            ids: true,
            class: true,
            parent: true,
            uevent: false,
            walk: false,
            subsystem: true,
            numa_node: true,
            iommu_group: true,
            driver: true,
            of_node: true,
            devspec: true,
            slot: true,
            config: ConfigRead::Bridges,
        }
    }

    /// Only the ids, class and revision, as a listing like `lspci -n` needs (from `uevent`
    /// and `revision`: two files per device); `config` only when `revision` is missing.
    pub fn minimal() -> Fields {
        Fields {
            ids: true,
            class: true,
            parent: false,
            uevent: true,
            walk: false,
            subsystem: false,
            numa_node: false,
            iommu_group: false,
            driver: false,
            of_node: false,
            devspec: false,
            slot: false,
            config: ConfigRead::Fallback,
        }
    }
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::all()
    }
}

/// The PCI bus could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list PCI devices: {0}")]
pub struct Error(#[source] pub fsroot::Error);

/// Something about the bus as a whole, not about one device's attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A device was listed but was gone when its files were read (hot unplug during a live
    /// walk); it is left out.
    Vanished(PciAddress),
    /// An entry of `/sys/bus/pci/devices` whose name is not a PCI address; it is left out.
    NotAnAddress {
        /// The entry's name.
        name: String,
        /// Why it is not an address.
        reason: String,
    },
    /// `/sys/bus/pci/slots` or one slot's `address` could not be read; slot labels may be
    /// missing.
    Slots {
        /// The path that failed.
        path: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Vanished(address) => {
                write!(f, "{address}: vanished while being read, left out")
            }
            Note::NotAnAddress { name, reason } => {
                write!(f, "{DEVICES_DIR}/{name}: left out: {reason}")
            }
            Note::Slots { path, reason } => write!(f, "{path}: {reason}"),
        }
    }
}

/// The devices of a PCI bus, sorted by address, and notes about the walk.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Pci {
    /// The devices, sorted by address.
    pub devices: Vec<Device>,
    /// Devices left out and other bus-wide problems.
    pub notes: Vec<Note>,
}

impl Pci {
    /// A bus of `devices` (sorted here by address) with `notes`, for readers that list the
    /// functions from something other than sysfs.
    pub fn new(mut devices: Vec<Device>, notes: Vec<Note>) -> Pci {
        devices.sort_by_key(|d| d.address);
        Pci { devices, notes }
    }

    /// Reads every device under `/sys/bus/pci/devices` of `root`.
    ///
    /// Fails only when the directory itself cannot be listed; a device with missing or
    /// malformed attributes is still listed, with its [`errors`](Device::errors).
    pub fn read(root: &Root, fields: &Fields) -> Result<Pci, Error> {
        let mut notes = Vec::new();
        let names = list(root, &mut notes)?;
        let slots = if fields.slot {
            read_slots(root, &mut notes)
        } else {
            HashMap::new()
        };
        let mut walked = HashMap::new();
        let mut located = HashMap::new();
        if fields.parent && fields.walk {
            match BusParents::read(root) {
                Some(buses) => located = buses.locate(&names),
                None => walked = walk(root, &names, fields),
            }
        }
        let mut devices = Vec::with_capacity(names.len());
        for address in names {
            let read = match walked.remove(&address) {
                Some(read) => read,
                None => read_device_at(root, address, fields, located.remove(&address)),
            };
            match read {
                Ok(mut device) => {
                    device.slot = slots
                        .get(&(address.domain(), address.bus(), address.device()))
                        .cloned();
                    devices.push(device);
                }
                Err(Vanished) => notes.push(Note::Vanished(address)),
            }
        }
        Ok(Pci { devices, notes })
    }

    /// The device at `address`, if listed.
    pub fn get(&self, address: PciAddress) -> Option<&Device> {
        self.devices
            .binary_search_by_key(&address, |d| d.address)
            .ok()
            .and_then(|i| self.devices.get(i))
    }
}

/// The addresses listed under `/sys/bus/pci/devices`, sorted; names that are not addresses
/// become notes.
pub fn list(root: &Root, notes: &mut Vec<Note>) -> Result<Vec<PciAddress>, Error> {
    let names = root.read_dir(DEVICES_DIR).map_err(Error)?;
    let mut addresses = Vec::with_capacity(names.len());
    for name in names {
        match name.parse::<PciAddress>() {
            Ok(address) => addresses.push(address),
            Err(e) => notes.push(Note::NotAnAddress {
                name,
                reason: e.to_string(),
            }),
        }
    }
    addresses.sort_unstable();
    addresses.dedup();
    Ok(addresses)
}

/// The device was gone by the time it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vanished;

/// Reads one device. `Err(Vanished)` when its entry no longer exists.
pub fn read_device(root: &Root, address: PciAddress, fields: &Fields) -> Result<Device, Vanished> {
    read_device_at(root, address, fields, None)
}

/// Where a device is, when known before reading it.
#[derive(Debug, Clone)]
struct Known {
    /// Its canonical directory.
    dir: String,
    parent: Parent,
    /// Whether it forwards to buses behind it, when known without its class.
    forwards: Option<bool>,
}

/// Reads one device, from its canonical directory and parent when they are already known.
fn read_device_at(
    root: &Root,
    address: PciAddress,
    fields: &Fields,
    known: Option<Known>,
) -> Result<Device, Vanished> {
    let mut device = Device::new(address);
    let entry = format!("{DEVICES_DIR}/{address}");
    let forwards = known.as_ref().and_then(|k| k.forwards);
    let dir = match known {
        Some(known) => {
            device.parent = known.parent;
            device.sysfs_path = Some(known.dir.clone());
            known.dir
        }
        None if fields.parent => locate(root, &entry, address, &mut device)?,
        None => entry.clone(),
    };
    let reader = Reader { root, dir: &dir };

    // One `uevent` read can stand for `vendor`, `device` and `class` (the kernel prints the
    // same fields there: `pci_uevent` in torvalds/linux drivers/pci/pci-driver.c).
    let from_uevent = if fields.ids && fields.uevent {
        match root.read_attr(format!("{dir}/uevent")) {
            Ok(bytes) => Uevent::parse(&bytes),
            Err(e) if e.is_not_found() && !root.exists(&dir) => return Err(Vanished),
            Err(_) => None,
        }
    } else {
        None
    };
    if let Some(u) = from_uevent {
        device.vendor_id = Some(u.vendor);
        device.device_id = Some(u.device);
        device.class = Some(u.class);
    } else {
        let mut first = None;
        if fields.ids {
            device.vendor_id = reader.value(&mut device.errors, Attribute::Vendor, value::parse_id);
            device.device_id = reader.value(&mut device.errors, Attribute::Device, value::parse_id);
            first = Some(Attribute::Vendor);
        }
        if fields.class || forwards.is_none() {
            device.class = reader
                .value(&mut device.errors, Attribute::Class, value::parse_class)
                .and_then(Class::new);
            first = first.or(Some(Attribute::Class));
        }
        // The first attribute read tells whether the device is still there.
        if first
            .and_then(|a| device.error(a))
            .is_some_and(|e| e.problem == Problem::Missing)
            && !root.exists(&dir)
        {
            return Err(Vanished);
        }
    }
    let revision = fields
        .ids
        .then(|| reader.optional(Attribute::Revision, value::parse_u8));
    let (subsystem_vendor, subsystem_device) = if fields.subsystem {
        (
            reader.optional(Attribute::SubsystemVendor, value::parse_id),
            reader.optional(Attribute::SubsystemDevice, value::parse_id),
        )
    } else {
        (Ok(None), Ok(None))
    };

    let wants_config = match fields.config {
        ConfigRead::Never => false,
        ConfigRead::Always => true,
        ConfigRead::Fallback | ConfigRead::Bridges => {
            (fields.config == ConfigRead::Bridges
                && forwards.unwrap_or_else(|| device.class.is_some_and(|c| c.forwards_buses())))
                || matches!(revision, Some(Ok(None)))
                || (fields.subsystem
                    && (matches!(subsystem_vendor, Ok(None))
                        || matches!(subsystem_device, Ok(None))))
        }
    };
    if wants_config {
        device.config = reader.config(&mut device.errors);
    }
    let config = device.config;

    // The revision and subsystem ids fall back to configuration space, as lspci's sysfs
    // backend does (pciutils lib/sysfs.c).
    if let Some(revision) = revision {
        device.revision = settle(
            &mut device.errors,
            Attribute::Revision,
            revision,
            config.map(|c| c.revision),
        );
    }
    if fields.subsystem {
        let from_config = config.and_then(|c| c.subsystem);
        device.subsystem_vendor_id = settle(
            &mut device.errors,
            Attribute::SubsystemVendor,
            subsystem_vendor,
            from_config.map(|s| s.0),
        );
        device.subsystem_device_id = settle(
            &mut device.errors,
            Attribute::SubsystemDevice,
            subsystem_device,
            from_config.map(|s| s.1),
        );
        // A bridge header has no subsystem ids: their absence is not an error there.
        if config.is_some_and(|c| c.subsystem.is_none()) {
            device.errors.retain(|e| {
                !(matches!(
                    e.attribute,
                    Attribute::SubsystemVendor | Attribute::SubsystemDevice
                ) && e.problem == Problem::Missing)
            });
        }
    }

    if fields.numa_node {
        device.numa_node = reader
            .value(
                &mut device.errors,
                Attribute::NumaNode,
                value::parse_numa_node,
            )
            .flatten();
    }
    if fields.iommu_group
        && let Some(name) = reader.link_name(&mut device.errors, Attribute::IommuGroup)
    {
        match name.parse::<u32>() {
            Ok(group) => device.iommu_group = Some(group),
            Err(_) => device.fail(
                Attribute::IommuGroup,
                Problem::BadLink {
                    target: name,
                    reason: "does not end in a group number",
                },
            ),
        }
    }
    if fields.driver {
        device.driver = reader.link_name(&mut device.errors, Attribute::Driver);
    }
    if fields.of_node {
        device.of_node = reader.of_node(&mut device.errors);
    }
    if fields.devspec {
        device.devspec = match root.read_attr(format!("{dir}/devspec")) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).trim().to_owned();
                (!text.is_empty()).then_some(text)
            }
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                device.fail(Attribute::Devspec, Problem::from_fs(&e));
                None
            }
        };
    }
    Ok(device)
}

/// The buses of `/sys/class/pci_bus` and the device above each: a bridge, or the root bus
/// directory. The kernel puts a device's directory in the directory of the device above its
/// bus, so this gives every parent and tells every forwarding bridge, one link per bus.
#[derive(Debug, Default)]
struct BusParents {
    /// For each bus: the directory above it, and what that is.
    buses: HashMap<BusAddress, (String, Parent)>,
    /// The bridges some bus hangs from.
    bridges: HashSet<PciAddress>,
}

impl BusParents {
    /// `None` when `/sys/class/pci_bus` is missing or empty (captures often lack it).
    fn read(root: &Root) -> Option<BusParents> {
        let names = root.read_dir(PCI_BUS_CLASS).ok()?;
        let mut found = BusParents::default();
        for name in names {
            let Ok(bus) = BusAddress::from_root_dir_name(&format!("pci{name}")) else {
                continue;
            };
            let Ok(text) = root.read_link(format!("{PCI_BUS_CLASS}/{name}")) else {
                continue;
            };
            // …/<device above>/pci_bus/<name>
            let Some(path) = canonical(Path::new(PCI_BUS_CLASS), &text) else {
                continue;
            };
            let Some(above) = path
                .parent()
                .filter(|p| p.file_name().is_some_and(|n| n == "pci_bus"))
                .and_then(Path::parent)
            else {
                continue;
            };
            let (Some(dir), Some(above_name)) =
                (above.to_str(), above.file_name().and_then(|n| n.to_str()))
            else {
                continue;
            };
            let parent = if let Ok(bridge) = above_name.parse::<PciAddress>() {
                found.bridges.insert(bridge);
                Parent::Bridge(bridge)
            } else if let Ok(root_bus) = BusAddress::from_root_dir_name(above_name) {
                Parent::RootBus(root_bus)
            } else {
                continue;
            };
            found.buses.insert(bus, (dir.to_owned(), parent));
        }
        (!found.buses.is_empty()).then_some(found)
    }

    /// Where each listed device is, for those on a known bus.
    fn locate(&self, listed: &[PciAddress]) -> HashMap<PciAddress, Known> {
        listed
            .iter()
            .filter_map(|&address| {
                let (dir, parent) = self.buses.get(&address.bus_address())?;
                Some((
                    address,
                    Known {
                        dir: format!("{dir}/{address}"),
                        parent: *parent,
                        forwards: Some(self.bridges.contains(&address)),
                    },
                ))
            })
            .collect()
    }
}

/// Finds listed devices by walking `/sys/devices/pci*` from the root buses down, listing only
/// the directories of bridges that forward to buses: one listing per bridge instead of one
/// link per device. Each device found is read (its parent known from where it was found).
/// Devices the walk does not reach are left to the caller (read through their bus link).
fn walk(
    root: &Root,
    listed: &[PciAddress],
    fields: &Fields,
) -> HashMap<PciAddress, Result<Device, Vanished>> {
    let wanted: HashSet<PciAddress> = listed.iter().copied().collect();
    let mut found = HashMap::with_capacity(listed.len());
    let mut stack: Vec<(String, Parent)> = root
        .read_dir("/sys/devices")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let bus = BusAddress::from_root_dir_name(&name).ok()?;
            Some((format!("/sys/devices/{name}"), Parent::RootBus(bus)))
        })
        .collect();
    while let Some((dir, parent)) = stack.pop() {
        let Ok(names) = root.read_dir(&dir) else {
            continue;
        };
        // Most entries of a bridge's directory are its attributes: skip them before parsing.
        for name in names.iter().filter(|n| n.contains(':')) {
            let Ok(address) = name.parse::<PciAddress>() else {
                continue;
            };
            if !wanted.contains(&address) || found.contains_key(&address) {
                continue;
            }
            let path = format!("{dir}/{name}");
            let known = Known {
                dir: path.clone(),
                parent,
                forwards: None,
            };
            let read = read_device_at(root, address, fields, Some(known));
            if let Ok(device) = &read
                && device.class.is_some_and(|c| c.forwards_buses())
            {
                stack.push((path, Parent::Bridge(address)));
            }
            found.insert(address, read);
        }
    }
    found
}

/// Reads the bus entry's link: the canonical directory (returned, to read attributes from)
/// and the parent. `Err(Vanished)` when the entry is gone.
fn locate(
    root: &Root,
    entry: &str,
    address: PciAddress,
    device: &mut Device,
) -> Result<String, Vanished> {
    // The link's text gives the canonical path (and so the parent) without resolving each
    // component; reading attributes through it skips the link on every open.
    let dir = match root.read_link(entry) {
        Ok(text) => match canonical(Path::new(DEVICES_DIR), &text) {
            Some(path)
                if path.file_name().and_then(|n| n.to_str()) == Some(&address.to_string()) =>
            {
                device.parent = parent_of(&path);
                if device.parent == Parent::Unknown {
                    device.fail(
                        Attribute::Link,
                        Problem::BadLink {
                            target: text.to_string_lossy().into_owned(),
                            reason: "does not end in a PCI bus directory, parent unknown",
                        },
                    );
                }
                let s = path.to_string_lossy().into_owned();
                device.sysfs_path = Some(s.clone());
                s
            }
            _ => {
                device.fail(
                    Attribute::Link,
                    Problem::BadLink {
                        target: text.to_string_lossy().into_owned(),
                        reason: "does not name this device's directory, parent unknown",
                    },
                );
                entry.to_owned()
            }
        },
        Err(e) if e.is_not_found() => return Err(Vanished),
        Err(e) => {
            // A copied tree may hold the device as a plain directory: read it there.
            if root.kind(entry).ok() != Some(EntryKind::Dir) {
                device.fail(Attribute::Link, Problem::from_fs(&e));
            } else {
                device.fail(
                    Attribute::Link,
                    Problem::BadLink {
                        target: String::new(),
                        reason: "is a directory, not a link: parent unknown",
                    },
                );
            }
            entry.to_owned()
        }
    };
    Ok(dir)
}

/// The value of an attribute with a configuration-space fallback: the file's value, else the
/// fallback when the file is missing, else the file's error.
fn settle<T>(
    errors: &mut Vec<AttrError>,
    attribute: Attribute,
    from_file: Result<Option<T>, Problem>,
    fallback: Option<T>,
) -> Option<T> {
    match from_file {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            if fallback.is_none() {
                errors.push(AttrError {
                    attribute,
                    problem: Problem::Missing,
                });
            }
            fallback
        }
        Err(problem) => {
            errors.push(AttrError { attribute, problem });
            None
        }
    }
}

/// Reads the attributes of one device directory.
struct Reader<'a> {
    root: &'a Root,
    dir: &'a str,
}

impl Reader<'_> {
    fn path(&self, attribute: Attribute) -> String {
        format!("{}/{}", self.dir, attribute.name())
    }

    /// A mandatory attribute: missing or malformed is an error.
    fn value<T>(
        &self,
        errors: &mut Vec<AttrError>,
        attribute: Attribute,
        parse: fn(&[u8]) -> Result<T, ValueError>,
    ) -> Option<T> {
        let result = match self.root.read_attr(self.path(attribute)) {
            Ok(bytes) => parse(&bytes).map_err(Problem::Malformed),
            Err(e) => Err(Problem::from_fs(&e)),
        };
        match result {
            Ok(v) => Some(v),
            Err(problem) => {
                errors.push(AttrError { attribute, problem });
                None
            }
        }
    }

    /// An attribute with a fallback: `Ok(None)` when missing.
    fn optional<T>(
        &self,
        attribute: Attribute,
        parse: fn(&[u8]) -> Result<T, ValueError>,
    ) -> Result<Option<T>, Problem> {
        match self.root.read_attr(self.path(attribute)) {
            Ok(bytes) => parse(&bytes).map(Some).map_err(Problem::Malformed),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Problem::from_fs(&e)),
        }
    }

    /// The first 64 bytes of `config`.
    fn config(&self, errors: &mut Vec<AttrError>) -> Option<ConfigHeader> {
        match self.config_bytes() {
            Ok(bytes) => {
                let header = ConfigHeader::parse(&bytes);
                if header.is_none() {
                    errors.push(AttrError {
                        attribute: Attribute::Config,
                        problem: Problem::Short { len: bytes.len() },
                    });
                }
                header
            }
            Err(problem) => {
                errors.push(AttrError {
                    attribute: Attribute::Config,
                    problem,
                });
                None
            }
        }
    }

    /// The first 64 bytes of `config` (fewer if the file is shorter). On the live system every
    /// byte read from `config` is a configuration-space access, so only the header is read.
    fn config_bytes(&self) -> Result<Vec<u8>, Problem> {
        self.root
            .read_prefix(self.path(Attribute::Config), HEADER_LEN)
            .map(|b| b.into_owned())
            .map_err(|e| Problem::from_fs(&e))
    }

    /// The basename of a link's text; `None` without an error when the link does not exist.
    fn link_name(&self, errors: &mut Vec<AttrError>, attribute: Attribute) -> Option<String> {
        match self.root.read_link(self.path(attribute)) {
            Ok(text) => match link_basename(&text) {
                Ok(name) => Some(name),
                Err(problem) => {
                    errors.push(AttrError { attribute, problem });
                    None
                }
            },
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                errors.push(AttrError {
                    attribute,
                    problem: Problem::from_fs(&e),
                });
                None
            }
        }
    }

    /// The `of_node` link as a device-tree path.
    fn of_node(&self, errors: &mut Vec<AttrError>) -> Option<String> {
        let text = match self.root.read_link(self.path(Attribute::OfNode)) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => return None,
            Err(e) => {
                errors.push(AttrError {
                    attribute: Attribute::OfNode,
                    problem: Problem::from_fs(&e),
                });
                return None;
            }
        };
        let target = canonical(Path::new(self.dir), &text);
        let dt_path = target.as_deref().and_then(|t| {
            let rest = t.strip_prefix(DEVICE_TREE_BASE).ok()?;
            let rest = rest.to_str()?;
            Some(format!("/{rest}"))
        });
        if dt_path.is_none() {
            errors.push(AttrError {
                attribute: Attribute::OfNode,
                problem: Problem::BadLink {
                    target: text.to_string_lossy().into_owned(),
                    reason: "does not point into /sys/firmware/devicetree/base",
                },
            });
        }
        dt_path
    }
}

/// What a device's `uevent` says about its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Uevent {
    vendor: u16,
    device: u16,
    class: Class,
}

impl Uevent {
    /// `PCI_ID=VVVV:DDDD` and `PCI_CLASS=CCCCCC` (upper-case hex); `None` unless both are
    /// there and well formed.
    fn parse(bytes: &[u8]) -> Option<Uevent> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut id = None;
        let mut class = None;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("PCI_ID=") {
                let (vendor, device) = v.split_once(':')?;
                id = Some((
                    value::parse_id(vendor.as_bytes()).ok()?,
                    value::parse_id(device.as_bytes()).ok()?,
                ));
            } else if let Some(c) = line.strip_prefix("PCI_CLASS=") {
                class = Class::new(value::parse_class(c.as_bytes()).ok()?);
            }
        }
        let (vendor, device) = id?;
        Some(Uevent {
            vendor,
            device,
            class: class?,
        })
    }
}

/// `link` (a link's text) taken from directory `dir` and normalised lexically: `..` removes a
/// component, never above `/`. `None` when the result is not valid UTF-8.
fn canonical(dir: &Path, link: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    let start: &Path = if link.is_absolute() {
        Path::new("/")
    } else {
        dir
    };
    for component in start.components().chain(link.components()) {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out.to_str().is_some().then_some(out)
}

/// The parent of a canonical device directory.
fn parent_of(path: &Path) -> Parent {
    let Some(parent) = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
    else {
        return Parent::Unknown;
    };
    if let Ok(bridge) = parent.parse::<PciAddress>() {
        Parent::Bridge(bridge)
    } else if let Ok(bus) = BusAddress::from_root_dir_name(parent) {
        Parent::RootBus(bus)
    } else {
        Parent::Unknown
    }
}

/// Slot names by `(domain, bus, device)`, from `/sys/bus/pci/slots/*/address`.
fn read_slots(root: &Root, notes: &mut Vec<Note>) -> HashMap<(u32, u8, u8), String> {
    let mut slots = HashMap::new();
    let names = match root.read_dir(SLOTS_DIR) {
        Ok(names) => names,
        Err(e) if e.is_not_found() => return slots,
        Err(e) => {
            notes.push(Note::Slots {
                path: SLOTS_DIR.to_owned(),
                reason: e.to_string(),
            });
            return slots;
        }
    };
    for name in names {
        let path = format!("{SLOTS_DIR}/{name}/address");
        match root.read_attr_text(&path) {
            // `DDDD:BB:DD`; a slot without a device number (`DDDD:BB`) names no function.
            Ok(text) => {
                if let Some(key) = slot_key(&text) {
                    slots.entry(key).or_insert(name);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => notes.push(Note::Slots {
                path,
                reason: e.to_string(),
            }),
        }
    }
    slots
}

fn slot_key(text: &str) -> Option<(u32, u8, u8)> {
    let address: PciAddress = format!("{text}.0").parse().ok()?;
    Some((address.domain(), address.bus(), address.device()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        let dir = Path::new(DEVICES_DIR);
        assert_eq!(
            canonical(dir, Path::new("../../../devices/pci0006:00/0006:00:00.0")).unwrap(),
            Path::new("/sys/devices/pci0006:00/0006:00:00.0")
        );
        assert_eq!(
            canonical(dir, Path::new("../../../../../../../x")).unwrap(),
            Path::new("/x")
        );
        assert_eq!(
            canonical(dir, Path::new("/sys/devices/./pci0000:00/0000:00:00.0/")).unwrap(),
            Path::new("/sys/devices/pci0000:00/0000:00:00.0")
        );
    }

    #[test]
    fn parents() {
        assert_eq!(
            parent_of(Path::new(
                "/sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0"
            )),
            Parent::Bridge("0004:00:00.0".parse().unwrap())
        );
        assert_eq!(
            parent_of(Path::new("/sys/devices/pci10000:00/10000:00:00.0")),
            Parent::RootBus(BusAddress {
                domain: 0x10000,
                bus: 0
            })
        );
        assert_eq!(
            parent_of(Path::new("/sys/devices/virtual/x")),
            Parent::Unknown
        );
        assert_eq!(parent_of(Path::new("/")), Parent::Unknown);
    }

    #[test]
    fn uevents() {
        let text = b"DRIVER=nvidia\nPCI_CLASS=30200\nPCI_ID=10DE:1DB1\nPCI_SUBSYS_ID=10DE:1212\n";
        let u = Uevent::parse(text).unwrap();
        assert_eq!(
            (u.vendor, u.device, u.class.code()),
            (0x10de, 0x1db1, 0x030200)
        );
        assert_eq!(Uevent::parse(b"PCI_ID=10DE:1DB1\n"), None);
        assert_eq!(Uevent::parse(b"PCI_CLASS=30200\nPCI_ID=10DE\n"), None);
        assert_eq!(
            Uevent::parse(b"PCI_CLASS=1000000\nPCI_ID=10DE:1DB1\n"),
            None
        );
        assert_eq!(Uevent::parse(b"\xff"), None);
    }

    #[test]
    fn slot_addresses() {
        assert_eq!(slot_key("0004:01:00"), Some((4, 1, 0)));
        assert_eq!(slot_key("0000:05"), None);
        assert_eq!(slot_key("garbage"), None);
    }
}
