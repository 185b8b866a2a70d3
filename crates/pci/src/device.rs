//! One PCI function as sysfs shows it, and what went wrong reading it.

use std::fmt;
use std::io;

use crate::address::{BusAddress, PciAddress};
use crate::config::ConfigHeader;
use crate::value::ValueError;

/// A class code: base class, subclass and programming interface (the 24-bit `class` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Class(u32);

impl Class {
    /// The class `0xBBSSPP`; `None` above 24 bits.
    pub fn new(code: u32) -> Option<Class> {
        (code <= 0xff_ffff).then_some(Class(code))
    }

    /// The whole 24-bit code.
    pub fn code(&self) -> u32 {
        self.0
    }

    /// Base class (`0x03` display, `0x06` bridge).
    pub fn base(&self) -> u8 {
        self.0.to_be_bytes()[1]
    }

    /// Subclass.
    pub fn sub(&self) -> u8 {
        self.0.to_be_bytes()[2]
    }

    /// Programming interface.
    pub fn prog_if(&self) -> u8 {
        self.0.to_be_bytes()[3]
    }

    /// Base class and subclass together, as lspci prints them (`0680`).
    pub fn base_sub(&self) -> u16 {
        u16::from_be_bytes([self.base(), self.sub()])
    }

    /// Whether this is a bridge class (`0x06`): host bridges, NVLink bridges (`0x0680`), PCI
    /// bridges.
    pub fn is_bridge(&self) -> bool {
        self.base() == 0x06
    }

    /// Whether this class forwards to buses behind it: PCI-to-PCI (`0x0604`), CardBus
    /// (`0x0607`) or semi-transparent PCI-to-PCI (`0x0609`) bridges, whose configuration
    /// header (type 1 or 2) holds the bus numbers.
    pub fn forwards_buses(&self) -> bool {
        self.base() == 0x06 && matches!(self.sub(), 0x04 | 0x07 | 0x09)
    }
}

/// Where a function hangs in the hierarchy, from its canonical `/sys/devices/…` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Parent {
    /// Directly on a root bus (`/sys/devices/pciDDDD:BB/<address>`).
    RootBus(BusAddress),
    /// Behind a bridge (`…/<bridge address>/<address>`).
    Bridge(PciAddress),
    /// Not known: the `/sys/bus/pci/devices` entry was not a readable link, or its target is
    /// not under a PCI directory. The device's [error list](Device::errors) says why.
    Unknown,
}

/// An attribute of a device that lsnvlink reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Attribute {
    /// The `/sys/bus/pci/devices/<address>` entry itself (a link to `/sys/devices/…`).
    Link,
    /// `vendor`.
    Vendor,
    /// `device`.
    Device,
    /// `subsystem_vendor`.
    SubsystemVendor,
    /// `subsystem_device`.
    SubsystemDevice,
    /// `class`.
    Class,
    /// `revision`.
    Revision,
    /// `numa_node`.
    NumaNode,
    /// The `iommu_group` link.
    IommuGroup,
    /// The `driver` link.
    Driver,
    /// The `of_node` link.
    OfNode,
    /// `devspec`.
    Devspec,
    /// `config` (its first 64 bytes).
    Config,
}

impl Attribute {
    /// The attribute's file name in sysfs (`link` for the bus entry).
    pub fn name(&self) -> &'static str {
        match self {
            Attribute::Link => "link",
            Attribute::Vendor => "vendor",
            Attribute::Device => "device",
            Attribute::SubsystemVendor => "subsystem_vendor",
            Attribute::SubsystemDevice => "subsystem_device",
            Attribute::Class => "class",
            Attribute::Revision => "revision",
            Attribute::NumaNode => "numa_node",
            Attribute::IommuGroup => "iommu_group",
            Attribute::Driver => "driver",
            Attribute::OfNode => "of_node",
            Attribute::Devspec => "devspec",
            Attribute::Config => "config",
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with one attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file or link does not exist.
    #[error("missing")]
    Missing,
    /// It exists but cannot be read.
    #[error("unreadable: {message}")]
    Unreadable {
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// Its content is not a valid value.
    #[error("{0}")]
    Malformed(#[from] ValueError),
    /// A link whose text cannot be used.
    #[error("link {target:?} {reason}")]
    BadLink {
        /// The link's text.
        target: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// `config` holds fewer than the 64 bytes of the standard header.
    #[error("only {len} bytes, the standard header needs 64")]
    Short {
        /// How many bytes there were.
        len: usize,
    },
}

impl Problem {
    pub(crate) fn from_fs(error: &fsroot::Error) -> Problem {
        if error.is_not_found() {
            Problem::Missing
        } else {
            Problem::Unreadable {
                kind: error.kind(),
                message: error.io_error().to_string(),
            }
        }
    }
}

/// The name a link attribute (`driver`, `iommu_group`) gives: the last component of the
/// link's text, as sysfs readers take it (never resolved), or why there is none.
pub fn link_basename(text: &std::path::Path) -> Result<String, Problem> {
    match text.file_name().and_then(|n| n.to_str()) {
        Some(name) if name != ".." => Ok(name.to_owned()),
        _ => Err(Problem::BadLink {
            target: text.to_string_lossy().into_owned(),
            reason: "has no usable last component",
        }),
    }
}

/// One attribute of one device that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {problem}")]
pub struct AttrError {
    /// Which attribute.
    pub attribute: Attribute,
    /// What is wrong.
    pub problem: Problem,
}

/// One PCI function, as read from `/sys/bus/pci/devices/<address>`.
///
/// Every attribute is an `Option`: `None` with an entry in [`errors`](Device::errors) when it
/// was wanted but missing or malformed, `None` without one when the device simply has none (no
/// driver bound, no IOMMU group, no device-tree node) or when it was not asked for (see
/// [`Fields`](crate::Fields)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Device {
    /// Its address (the name of its `/sys/bus/pci/devices` entry).
    pub address: PciAddress,
    /// `vendor`.
    pub vendor_id: Option<u16>,
    /// `device`.
    pub device_id: Option<u16>,
    /// `subsystem_vendor` (from configuration space when the file is missing and the header is
    /// of type 0, as lspci does).
    pub subsystem_vendor_id: Option<u16>,
    /// `subsystem_device` (same fallback).
    pub subsystem_device_id: Option<u16>,
    /// `class`.
    pub class: Option<Class>,
    /// `revision` (from configuration space when the file is missing, as lspci does).
    pub revision: Option<u8>,
    /// `numa_node`; `None` when the kernel says `-1` (no node).
    pub numa_node: Option<u32>,
    /// The IOMMU group: the basename of the `iommu_group` link's text.
    pub iommu_group: Option<u32>,
    /// The bound driver: the basename of the `driver` link's text (so it is known even when a
    /// capture lacks `/sys/bus/pci/drivers`).
    pub driver: Option<String>,
    /// The device-tree node, as a path from the tree's root (`/pciex@6030200000000/…`), from
    /// the `of_node` link's text.
    pub of_node: Option<String>,
    /// `devspec`: the device-tree path the kernel prints (POWER only).
    pub devspec: Option<String>,
    /// The canonical directory, `/sys/devices/pci…/…/<address>`, from the bus link's text.
    pub sysfs_path: Option<String>,
    /// The parent bridge or root bus, from [`sysfs_path`](Device::sysfs_path).
    pub parent: Parent,
    /// The standard configuration header, when it was wanted and readable.
    pub config: Option<ConfigHeader>,
    /// The physical slot, from `/sys/bus/pci/slots/*/address`.
    pub slot: Option<String>,
    /// What could not be read or parsed, attribute by attribute.
    pub errors: Vec<AttrError>,
}

impl Device {
    /// A function at `address` with nothing known yet: for readers that fill a [`Device`]
    /// from something other than sysfs (a sosreport's device tree and `lspci` output).
    pub fn new(address: PciAddress) -> Device {
        Device {
            address,
            vendor_id: None,
            device_id: None,
            subsystem_vendor_id: None,
            subsystem_device_id: None,
            class: None,
            revision: None,
            numa_node: None,
            iommu_group: None,
            driver: None,
            of_node: None,
            devspec: None,
            sysfs_path: None,
            parent: Parent::Unknown,
            config: None,
            slot: None,
            errors: Vec::new(),
        }
    }

    /// Secondary and subordinate bus when this is a bridge whose header was read.
    pub fn bridge_buses(&self) -> Option<crate::config::BridgeBuses> {
        self.config.and_then(|c| c.bridge)
    }

    /// The error recorded for `attribute`, if any.
    pub fn error(&self, attribute: Attribute) -> Option<&AttrError> {
        self.errors.iter().find(|e| e.attribute == attribute)
    }

    pub(crate) fn fail(&mut self, attribute: Attribute, problem: Problem) {
        self.errors.push(AttrError { attribute, problem });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn link_basename_is_the_last_component_never_dot_dot() {
        let name = link_basename(Path::new("../../../bus/pci/drivers/vfio-pci"));
        assert_eq!(name, Ok("vfio-pci".to_owned()));
        for text in ["../..", "/"] {
            assert_eq!(
                link_basename(Path::new(text)),
                Err(Problem::BadLink {
                    target: text.to_owned(),
                    reason: "has no usable last component",
                })
            );
        }
    }
}
