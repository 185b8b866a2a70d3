//! The JSON form of `lsnvlink pci --format json`: typed structs, serialized as the devices are
//! walked, so that the document is never held whole.

use std::io;

use serde::Serialize;

use crate::{Device, Parent, Pci};

use super::Ids;

/// Version of the JSON layout; bumped when a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

// Keys are in alphabetical order, as schema version 1 has always written them.

#[derive(Serialize)]
struct Doc<'a> {
    devices: Devices<'a>,
    notes: Vec<String>,
    pci_ids: Option<String>,
    schema_version: u32,
    source: &'a str,
}

/// The devices, each turned into a [`DeviceJ`] only when it is written.
struct Devices<'a> {
    devices: &'a [Device],
    ids: Ids<'a>,
}

impl Serialize for Devices<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.devices.iter().map(|d| device(d, self.ids)))
    }
}

#[derive(Serialize)]
struct DeviceJ<'a> {
    address: Text<crate::PciAddress>,
    class_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class_name: Option<Option<&'a str>>,
    device_id: Option<Hex<4>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_name: Option<Option<&'a str>>,
    devspec: Option<&'a str>,
    driver: Option<&'a str>,
    errors: Vec<ErrorJ<'a>>,
    iommu_group: Option<u32>,
    numa_node: Option<u32>,
    of_node: Option<&'a str>,
    parent: Option<String>,
    revision: Option<Hex<2>>,
    secondary_bus: Option<Hex<2>>,
    slot: Option<&'a str>,
    subordinate_bus: Option<Hex<2>>,
    subsystem_device_id: Option<Hex<4>>,
    subsystem_vendor_id: Option<Hex<4>>,
    vendor_id: Option<Hex<4>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_name: Option<Option<&'a str>>,
}

#[derive(Serialize)]
struct ErrorJ<'a> {
    attribute: &'static str,
    problem: Text<&'a crate::Problem>,
}

/// A value serialized as the string its `Display` writes, without a `String` in between.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A number as a string of `N` lower-case hex digits (`"10de"`, `"0a"`).
struct Hex<const N: usize>(u32);

impl<const N: usize> Serialize for Hex<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:0width$x}", self.0, width = N))
    }
}

fn device<'a>(d: &'a Device, ids: Ids<'a>) -> DeviceJ<'a> {
    let hex4 = |v: Option<u16>| v.map(|v| Hex::<4>(v.into()));
    let hex2 = |v: Option<u8>| v.map(|v| Hex::<2>(v.into()));
    let parent = match d.parent {
        Parent::Bridge(a) => Some(a.to_string()),
        Parent::RootBus(b) => Some(format!("pci{b}")),
        Parent::Unknown => None,
    };
    let buses = d.bridge_buses();
    let names = match ids {
        Ids::Named(names) => Some(names),
        Ids::Numeric => None,
    };
    DeviceJ {
        address: Text(d.address),
        class_id: d.class.map(|c| format!("{:06x}", c.code())),
        class_name: names.map(|names| {
            d.class.and_then(|c| {
                names
                    .subclass(c.base(), c.sub())
                    .or_else(|| names.class(c.base()))
            })
        }),
        device_id: hex4(d.device_id),
        device_name: names.map(|names| {
            d.vendor_id
                .zip(d.device_id)
                .and_then(|(v, dev)| names.device(v, dev))
        }),
        devspec: d.devspec.as_deref(),
        driver: d.driver.as_deref(),
        errors: d
            .errors
            .iter()
            .map(|e| ErrorJ {
                attribute: e.attribute.name(),
                problem: Text(&e.problem),
            })
            .collect(),
        iommu_group: d.iommu_group,
        numa_node: d.numa_node,
        of_node: d.of_node.as_deref(),
        parent,
        revision: hex2(d.revision),
        secondary_bus: hex2(buses.map(|b| b.secondary)),
        slot: d.slot.as_deref(),
        subordinate_bus: hex2(buses.map(|b| b.subordinate)),
        subsystem_device_id: hex4(d.subsystem_device_id),
        subsystem_vendor_id: hex4(d.subsystem_vendor_id),
        vendor_id: hex4(d.vendor_id),
        vendor_name: names.map(|names| d.vendor_id.and_then(|v| names.vendor(v))),
    }
}

/// Writes the JSON report, pretty-printed, ending in a newline: `schema_version`, `source`,
/// `pci_ids`, `devices` (by address, each with `address`, `vendor_id`, `device_id`,
/// `subsystem_vendor_id`, `subsystem_device_id`, `class_id`, `revision`, `driver`,
/// `numa_node`, `iommu_group`, `of_node`, `devspec`, `parent`, `slot`, `secondary_bus`,
/// `subordinate_bus`, `errors`, and with names the `vendor_name`, `device_name`,
/// `class_name`), and `notes`; keys in alphabetical order. Ids are lower-case hex strings as
/// sysfs and lspci show them (`class_id` has six digits: base, subclass, programming
/// interface); a value that is absent or unreadable is `null`, with the reason in `errors`.
/// `source` says what was read (`capture FILE`, `directory DIR`). Each device is serialized
/// as it is written: memory does not grow with the output.
pub fn write_json<W: io::Write + ?Sized>(
    out: &mut W,
    pci: &Pci,
    ids: Ids<'_>,
    source: &str,
) -> io::Result<()> {
    let doc = Doc {
        devices: Devices {
            devices: &pci.devices,
            ids,
        },
        notes: pci.notes.iter().map(ToString::to_string).collect(),
        pci_ids: match ids {
            Ids::Named(names) => names.source().map(|p| p.display().to_string()),
            Ids::Numeric => None,
        },
        schema_version: SCHEMA_VERSION,
        source,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// [`write_json`] as a `String`.
pub fn json(pci: &Pci, ids: Ids<'_>, source: &str) -> String {
    super::to_string(|out| write_json(out, pci, ids, source))
}
