//! Renderers for `lsnvlink pci`: a list like `lspci -nnD`, a tree like `lspci -t`, records
//! like `lspci -vmmnnDk`, and JSON. They never read files: they take what [`pci::Pci`] read.

use std::fmt::Write as _;

use pci::{Device, Names, Pci, Tree};

/// Version of the JSON layout; bumped when a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Deepest bridge nesting the tree renderer follows (a real host has fewer than 10 levels; a
/// crafted capture could nest thousands).
const MAX_DEPTH: usize = 256;

/// How ids are shown.
#[derive(Debug, Clone, Copy)]
pub enum Ids<'a> {
    /// Numbers only, like `lspci -n`.
    Numeric,
    /// Names and numbers, like `lspci -nn`.
    Named(&'a Names),
}

fn hex4(v: Option<u16>) -> String {
    v.map_or_else(|| "????".to_owned(), |v| format!("{v:04x}"))
}

/// One line per device, as `lspci -nnD` (or `lspci -nD` with [`Ids::Numeric`]) prints it.
/// A value that could not be read shows as `????`.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn list(pci: &Pci, ids: Ids<'_>) -> String {
    crate::render::escape::terminal_safe(list_raw(pci, ids))
}

fn list_raw(pci: &Pci, ids: Ids<'_>) -> String {
    let mut all = String::with_capacity(pci.devices.len() * 80);
    for d in &pci.devices {
        // One line per device, built apart so that a control character in a pci.ids name
        // is escaped on its own line.
        let mut line = String::with_capacity(80);
        let out = &mut line;
        let _ = write!(out, "{} ", d.address);
        match (ids, d.class) {
            (Ids::Named(names), Some(class)) => out.push_str(&names.class_nn(class.code())),
            (Ids::Numeric, Some(class)) => {
                let _ = write!(out, "{:04x}", class.base_sub());
            }
            (Ids::Named(_), None) => out.push_str("Class [????]"),
            (Ids::Numeric, None) => out.push_str("????"),
        }
        out.push_str(": ");
        match (ids, d.vendor_id, d.device_id) {
            (Ids::Named(names), Some(v), Some(dev)) => {
                out.push_str(&names.vendor_device_nn(v, dev));
            }
            (Ids::Named(_), v, dev) => {
                let _ = write!(out, "Device [{}:{}]", hex4(v), hex4(dev));
            }
            (Ids::Numeric, v, dev) => {
                let _ = write!(out, "{}:{}", hex4(v), hex4(dev));
            }
        }
        if let Some(rev) = d.revision.filter(|&r| r != 0) {
            let _ = write!(out, " (rev {rev:02x})");
        }
        all.push_str(&crate::render::escape::esc(&line));
        all.push('\n');
    }
    all
}

/// Records of `Tag:\tvalue` lines, as `lspci -vmmnnDk` prints them, for the tags lsnvlink
/// knows: Slot, Class, Vendor, Device, SVendor, SDevice, PhySlot, Rev, ProgIf, Driver,
/// NUMANode, DTNode, IOMMUGroup (not Module, which needs the kernel's module tables). A value
/// that could not be read leaves its tag out.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn vmm(pci: &Pci, ids: Ids<'_>) -> String {
    crate::render::escape::terminal_safe(vmm_raw(pci, ids))
}

fn vmm_raw(pci: &Pci, ids: Ids<'_>) -> String {
    let mut out = String::with_capacity(pci.devices.len() * 200);
    for d in &pci.devices {
        vmm_record(&mut out, d, ids);
        out.push('\n');
    }
    out
}

fn vmm_record(out: &mut String, d: &Device, ids: Ids<'_>) {
    let _ = wln!(out, "Slot:\t{}", d.address);
    let names = match ids {
        Ids::Named(names) => Some(names),
        Ids::Numeric => None,
    };
    if let Some(class) = d.class {
        match names {
            Some(n) => {
                let _ = wln!(out, "Class:\t{}", n.class_nn(class.code()));
            }
            None => {
                let _ = wln!(out, "Class:\t{:04x}", class.base_sub());
            }
        }
    }
    if let Some(v) = d.vendor_id {
        let shown = names.map_or_else(|| format!("{v:04x}"), |n| n.vendor_nn(v));
        let _ = wln!(out, "Vendor:\t{shown}");
        if let Some(dev) = d.device_id {
            let shown = names.map_or_else(|| format!("{dev:04x}"), |n| n.device_nn(v, dev));
            let _ = wln!(out, "Device:\t{shown}");
        }
    } else if let Some(dev) = d.device_id {
        let _ = wln!(out, "Device:\tDevice [{dev:04x}]");
    }
    // lspci shows subsystem ids only when the vendor is neither 0 nor ffff (lspci.c
    // show_machine).
    if let (Some(sv), Some(sd)) = (d.subsystem_vendor_id, d.subsystem_device_id)
        && sv != 0
        && sv != 0xffff
    {
        match (names, d.vendor_id, d.device_id) {
            (Some(n), Some(v), Some(dev)) => {
                let _ = wln!(out, "SVendor:\t{}", n.subsystem_vendor_nn(sv));
                let _ = wln!(out, "SDevice:\t{}", n.subsystem_device_nn(v, dev, sv, sd));
            }
            _ => {
                let _ = wln!(out, "SVendor:\t{sv:04x}");
                let _ = wln!(out, "SDevice:\t{sd:04x}");
            }
        }
    }
    if let Some(slot) = &d.slot {
        let _ = wln!(out, "PhySlot:\t{slot}");
    }
    if let Some(rev) = d.revision.filter(|&r| r != 0) {
        let _ = wln!(out, "Rev:\t{rev:02x}");
    }
    if let Some(class) = d.class {
        let _ = wln!(out, "ProgIf:\t{:02x}", class.prog_if());
    }
    if let Some(driver) = &d.driver {
        let _ = wln!(out, "Driver:\t{driver}");
    }
    if let Some(node) = d.numa_node {
        let _ = wln!(out, "NUMANode:\t{node}");
    }
    if let Some(of_node) = &d.of_node {
        // lspci prints the resolved link, which on a live host is under this directory.
        let _ = wln!(out, "DTNode:\t{}{of_node}", pci::DEVICE_TREE_BASE);
    }
    if let Some(group) = d.iommu_group {
        let _ = wln!(out, "IOMMUGroup:\t{group}");
    }
}

/// The bus tree, drawn as `lspci -t` draws it: root buses as `[DDDD:BB]`, bridges with the
/// buses behind them (`-[01-05]-`, from configuration space), functions as `DD.F`.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn tree(pci: &Pci, tree: &Tree) -> String {
    crate::render::escape::terminal_safe(tree_raw(pci, tree))
}

fn tree_raw(pci: &Pci, tree: &Tree) -> String {
    let mut out = String::new();
    let mut line = String::from("-");
    let roots = tree.roots();
    if let [only] = roots {
        let _ = write!(line, "[{}]-", only.bus);
        bus(&mut out, &mut line, pci, tree, &only.devices, 0);
    } else {
        let at = line.len();
        for (i, root) in roots.iter().enumerate() {
            line.truncate(at);
            let branch = if i + 1 == roots.len() { "\\-" } else { "+-" };
            let _ = write!(line, "{branch}[{}]-", root.bus);
            bus(&mut out, &mut line, pci, tree, &root.devices, 0);
        }
    }
    out
}

/// Prints `line` and turns it into the prefix of the lines below it (`|` where a branch goes
/// on, spaces elsewhere), as lspci's `print_it` does.
fn emit(out: &mut String, line: &mut String) {
    out.push_str(line);
    out.push('\n');
    let prefix: String = line
        .chars()
        .map(|c| if c == '+' || c == '|' { '|' } else { ' ' })
        .collect();
    *line = prefix;
}

fn bus(
    out: &mut String,
    line: &mut String,
    pci: &Pci,
    tree: &Tree,
    devices: &[usize],
    depth: usize,
) {
    let at = line.len();
    match devices {
        [] => emit(out, line),
        [only] => {
            line.push_str("--");
            function(out, line, pci, tree, *only, depth);
        }
        [rest @ .., last] => {
            for &d in rest {
                line.truncate(at);
                line.push_str("+-");
                function(out, line, pci, tree, d, depth);
            }
            line.truncate(at);
            line.push_str("\\-");
            function(out, line, pci, tree, *last, depth);
        }
    }
}

fn function(
    out: &mut String,
    line: &mut String,
    pci: &Pci,
    tree: &Tree,
    index: usize,
    depth: usize,
) {
    let Some(d) = pci.devices.get(index) else {
        return;
    };
    let _ = write!(
        line,
        "{:02x}.{:x}",
        d.address.device(),
        d.address.function()
    );
    let children = tree.children(index);
    let buses = d
        .bridge_buses()
        .map(|b| (b.secondary, b.subordinate))
        .or_else(|| {
            // A bridge whose header could not be read: name the bus its children are on.
            children
                .first()
                .and_then(|&c| pci.devices.get(c))
                .map(|c| (c.address.bus(), c.address.bus()))
        });
    match buses {
        Some((secondary, subordinate)) => {
            if secondary == subordinate {
                let _ = write!(line, "-[{secondary:02x}]-");
            } else {
                let _ = write!(line, "-[{secondary:02x}-{subordinate:02x}]-");
            }
            line.push('-');
            if depth >= MAX_DEPTH {
                line.push_str("[deeper levels not shown]");
                emit(out, line);
            } else {
                bus(out, line, pci, tree, children, depth + 1);
            }
        }
        None => emit(out, line),
    }
}

/// The JSON report: `schema_version`, `source`, `pci_ids`, `devices` (by address, each with
/// `address`, `vendor_id`, `device_id`, `subsystem_vendor_id`, `subsystem_device_id`,
/// `class_id`, `revision`, `driver`, `numa_node`, `iommu_group`, `of_node`, `devspec`,
/// `parent`, `slot`, `secondary_bus`, `subordinate_bus`, `errors`, and with names the
/// `vendor_name`, `device_name`, `class_name`), and `notes`. Ids are lower-case hex strings as
/// sysfs and lspci show them (`class_id` has six digits: base, subclass, programming
/// interface); a value that is absent or unreadable is `null`, with the reason in `errors`.
pub fn json(pci: &Pci, ids: Ids<'_>, source: &str) -> String {
    use serde_json::{Map, Value, json};
    let hex = |v: Option<u16>| v.map(|v| format!("{v:04x}"));
    let devices: Vec<Value> = pci
        .devices
        .iter()
        .map(|d| {
            let parent = match d.parent {
                pci::Parent::Bridge(a) => Some(a.to_string()),
                pci::Parent::RootBus(b) => Some(format!("pci{b}")),
                pci::Parent::Unknown => None,
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
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}
