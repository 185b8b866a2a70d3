//! PCI devices from sysfs, read through [`fsroot`]: the same on a live host, a copied root
//! directory or a capture archive.
//!
//! [`Pci::read`] lists `/sys/bus/pci/devices` and reads each device's ids, class, revision,
//! NUMA node, IOMMU group, driver, device-tree node, parent bridge, slot and (for bridges) the
//! first 64 bytes of configuration space. A missing or malformed attribute is recorded on its
//! device ([`Device::errors`]) and the walk goes on; a device that disappears during a live
//! walk is left out with a [`Note`]. Links are read as text (`readlink`, never `realpath`), so
//! a capture without `/sys/bus/pci/drivers` still tells each device's driver.
//!
//! [`Tree`] arranges the devices as domain → root bus → root port → switch → endpoint, in
//! linear time; [`Names`] turns ids into names the way `lspci -nn` prints them, from the
//! system's `pci.ids` and a small built-in table for POWER9 NVLink2 parts; [`render`] writes
//! them as `lspci -nnD`, `-t` and `-vmmnnDk` do, or as JSON (feature `json`, on by default).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let dev = dir.path().join("sys/devices/pci0006:00/0006:00:00.0");
//! # std::fs::create_dir_all(&dev)?;
//! # for (file, text) in [("vendor", "0x1014"), ("device", "0x04ea"), ("class", "0x068001"), ("revision", "0x01")] {
//! #     std::fs::write(dev.join(file), format!("{text}\n"))?;
//! # }
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! # std::os::unix::fs::symlink("../../../devices/pci0006:00/0006:00:00.0",
//! #     dir.path().join("sys/bus/pci/devices/0006:00:00.0"))?;
//! use lsnvlink_pci::{Attribute, Fields, Names, Pci};
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let pci = Pci::read(&root, &Fields::all())?;
//! let bridge = &pci.devices[0];
//! assert_eq!(bridge.address.to_string(), "0006:00:00.0");
//! assert_eq!((bridge.vendor_id, bridge.device_id), (Some(0x1014), Some(0x04ea)));
//! // No numa_node file in this tree: recorded on the device, not fatal.
//! let missing = bridge.error(Attribute::NumaNode).map(ToString::to_string);
//! assert_eq!(missing.as_deref(), Some("numa_node: missing"));
//! assert_eq!(Names::builtin().vendor_device_nn(0x1014, 0x04ea),
//!            "IBM POWER9 NPU2 NVLink2 bridge [1014:04ea]");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// `writeln!` for text bound for a terminal: the formatted line is written through
/// [`render::escape::line`], so control characters in it (a newline or an escape sequence
/// inside a pci.ids name) are shown as escapes.
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {
        {
            use $crate::render::escape::LineWrite as _;
            $out.write_line(format_args!($($arg)*))
        }
    };
}

mod address;
mod config;
mod device;
pub mod names;
pub mod render;
mod sysfs;
mod tree;
pub mod value;

pub use address::{AddressError, BusAddress, PciAddress};
pub use config::{BridgeBuses, ConfigHeader};
pub use device::{AttrError, Attribute, Class, Device, Parent, Problem, link_basename};
pub use names::{Names, PciIds};
pub use sysfs::{
    ConfigRead, DEVICE_TREE_BASE, DEVICES_DIR, Error, Fields, Note, PCI_BUS_CLASS, Pci, SLOTS_DIR,
    Vanished, list, read_device,
};
pub use tree::{RootBus, Tree};
