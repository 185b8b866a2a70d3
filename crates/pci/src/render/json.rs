//! The JSON form of `lsnvlink pci --format json`.

use std::io;

use crate::{Parent, Pci};

use super::Ids;

/// Version of the JSON layout; bumped when a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Writes the JSON report, pretty-printed, ending in a newline: `schema_version`, `source`,
/// `pci_ids`, `devices` (by address, each with `address`, `vendor_id`, `device_id`,
/// `subsystem_vendor_id`, `subsystem_device_id`, `class_id`, `revision`, `driver`,
/// `numa_node`, `iommu_group`, `of_node`, `devspec`, `parent`, `slot`, `secondary_bus`,
/// `subordinate_bus`, `errors`, and with names the `vendor_name`, `device_name`,
/// `class_name`), and `notes`. Ids are lower-case hex strings as sysfs and lspci show them
/// (`class_id` has six digits: base, subclass, programming interface); a value that is absent
/// or unreadable is `null`, with the reason in `errors`. `source` says what was read (`capture
/// FILE`, `directory DIR`).
pub fn write_json<W: io::Write + ?Sized>(
    out: &mut W,
    pci: &Pci,
    ids: Ids<'_>,
    source: &str,
) -> io::Result<()> {
    use serde_json::{Map, Value, json};
    let hex = |v: Option<u16>| v.map(|v| format!("{v:04x}"));
    let devices: Vec<Value> = pci
        .devices
        .iter()
        .map(|d| {
            let parent = match d.parent {
                Parent::Bridge(a) => Some(a.to_string()),
                Parent::RootBus(b) => Some(format!("pci{b}")),
                Parent::Unknown => None,
            };
            let buses = d.bridge_buses();
            let errors: Vec<Value> = d
                .errors
                .iter()
                .map(|e| json!({"attribute": e.attribute.name(), "problem": e.problem.to_string()}))
                .collect();
            let mut obj = match json!({
                "address": d.address.to_string(),
                "vendor_id": hex(d.vendor_id),
                "device_id": hex(d.device_id),
                "subsystem_vendor_id": hex(d.subsystem_vendor_id),
                "subsystem_device_id": hex(d.subsystem_device_id),
                "class_id": d.class.map(|c| format!("{:06x}", c.code())),
                "revision": d.revision.map(|r| format!("{r:02x}")),
                "driver": d.driver,
                "numa_node": d.numa_node,
                "iommu_group": d.iommu_group,
                "of_node": d.of_node,
                "devspec": d.devspec,
                "parent": parent,
                "slot": d.slot,
                "secondary_bus": buses.map(|b| format!("{:02x}", b.secondary)),
                "subordinate_bus": buses.map(|b| format!("{:02x}", b.subordinate)),
                "errors": errors,
            }) {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            if let Ids::Named(names) = ids {
                let vendor = d.vendor_id.and_then(|v| names.vendor(v));
                let device = d
                    .vendor_id
                    .zip(d.device_id)
                    .and_then(|(v, dev)| names.device(v, dev));
                let class = d.class.and_then(|c| {
                    names
                        .subclass(c.base(), c.sub())
                        .or_else(|| names.class(c.base()))
                });
                obj.insert("vendor_name".into(), json!(vendor));
                obj.insert("device_name".into(), json!(device));
                obj.insert("class_name".into(), json!(class));
            }
            Value::Object(obj)
        })
        .collect();
    let pci_ids = match ids {
        Ids::Named(names) => names.source().map(|p| p.display().to_string()),
        Ids::Numeric => None,
    };
    let report = json!({
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "pci_ids": pci_ids,
        "devices": devices,
        "notes": pci.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}

/// [`write_json`] as a `String`.
pub fn json(pci: &Pci, ids: Ids<'_>, source: &str) -> String {
    super::to_string(|out| write_json(out, pci, ids, source))
}
