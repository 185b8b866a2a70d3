//! Renderers in `lspci`'s formats: a list like `lspci -nnD` ([`write_list`]), a tree like
//! `lspci -t` ([`write_tree`]), records like `lspci -vmmnnDk` ([`write_vmm`]), and (feature
//! `json`, on by default) JSON (`write_json`). They never read files: they take what
//! [`Pci::read`] read, and write to any [`std::io::Write`] as they go, so that the output is
//! never held whole. Each has a `String` form for the callers that want one ([`list`],
//! [`tree`], [`vmm`], `json`).
//!
//! The text formats show control characters from the host (in names, paths, links) as escapes
//! ([`escape`]).
//!
//! ```
//! use lsnvlink_pci::render::{self, Ids};
//! use lsnvlink_pci::{Names, Pci};
//!
//! let pci = Pci::default(); // what Pci::read found: no device here
//! let mut out = Vec::new();
//! render::write_list(&mut out, &pci, Ids::Named(&Names::builtin()))?;
//! assert!(out.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod escape;
#[cfg(feature = "json")]
mod json;

use std::fmt::{self, Write as _};
use std::io;

#[cfg(feature = "json")]
pub use json::{SCHEMA_VERSION, json, write_json};

use crate::{Device, Names, Pci, Tree};

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

/// What a renderer writes, as a `String`, for the callers that want one (tests, a caller that
/// adds to the text): `render` writes to a `Vec<u8>`, which cannot fail. Every renderer of
/// lsnvlink writes UTF-8; a byte that is not would show as U+FFFD.
pub fn to_string<F>(render: F) -> String
where
    F: FnOnce(&mut Vec<u8>) -> io::Result<()>,
{
    let mut out = Vec::new();
    // A Vec<u8> takes every write; what was written before a formatting error is kept.
    let _ = render(&mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A 16-bit id as four hex digits, or `????` when it could not be read.
struct Hex4(Option<u16>);

impl fmt::Display for Hex4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v:04x}"),
            None => f.write_str("????"),
        }
    }
}

/// Writes one line per device, as `lspci -nnD` (or `lspci -nD` with [`Ids::Numeric`]) prints
/// it. A value that could not be read shows as `????`. Control characters from the host are
/// shown as escapes ([`escape`]).
pub fn write_list<W: io::Write + ?Sized>(out: &mut W, pci: &Pci, ids: Ids<'_>) -> io::Result<()> {
    escape::write_terminal_safe(out, |out| list_raw(out, pci, ids))
}

/// [`write_list`] as a `String`.
pub fn list(pci: &Pci, ids: Ids<'_>) -> String {
    to_string(|out| write_list(out, pci, ids))
}

fn list_raw<W: fmt::Write + ?Sized>(all: &mut W, pci: &Pci, ids: Ids<'_>) -> fmt::Result {
    let mut line = String::with_capacity(80);
    for d in &pci.devices {
        // One line per device, built apart so that a control character in a pci.ids name
        // is escaped on its own line.
        line.clear();
        let out = &mut line;
        write!(out, "{} ", d.address)?;
        match (ids, d.class) {
            (Ids::Named(names), Some(class)) => out.push_str(&names.class_nn(class.code())),
            (Ids::Numeric, Some(class)) => write!(out, "{:04x}", class.base_sub())?,
            (Ids::Named(_), None) => out.push_str("Class [????]"),
            (Ids::Numeric, None) => out.push_str("????"),
        }
        out.push_str(": ");
        match (ids, d.vendor_id, d.device_id) {
            (Ids::Named(names), Some(v), Some(dev)) => {
                out.push_str(&names.vendor_device_nn(v, dev));
            }
            (Ids::Named(_), v, dev) => write!(out, "Device [{}:{}]", Hex4(v), Hex4(dev))?,
            (Ids::Numeric, v, dev) => write!(out, "{}:{}", Hex4(v), Hex4(dev))?,
        }
        if let Some(rev) = d.revision.filter(|&r| r != 0) {
            write!(out, " (rev {rev:02x})")?;
        }
        all.write_str(&escape::esc(&line))?;
        all.write_char('\n')?;
    }
    Ok(())
}

/// Writes records of `Tag:\tvalue` lines, as `lspci -vmmnnDk` prints them, for the tags
/// lsnvlink knows: Slot, Class, Vendor, Device, SVendor, SDevice, PhySlot, Rev, ProgIf, Driver,
/// NUMANode, DTNode, IOMMUGroup (not Module, which needs the kernel's module tables). A value
/// that could not be read leaves its tag out. Control characters from the host are shown as
/// escapes ([`escape`]).
pub fn write_vmm<W: io::Write + ?Sized>(out: &mut W, pci: &Pci, ids: Ids<'_>) -> io::Result<()> {
    escape::write_terminal_safe(out, |out| {
        for d in &pci.devices {
            vmm_record(out, d, ids)?;
            out.write_char('\n')?;
        }
        Ok(())
    })
}

/// [`write_vmm`] as a `String`.
pub fn vmm(pci: &Pci, ids: Ids<'_>) -> String {
    to_string(|out| write_vmm(out, pci, ids))
}

fn vmm_record<W: fmt::Write + ?Sized>(out: &mut W, d: &Device, ids: Ids<'_>) -> fmt::Result {
    wln!(out, "Slot:\t{}", d.address)?;
    let names = match ids {
        Ids::Named(names) => Some(names),
        Ids::Numeric => None,
    };
    if let Some(class) = d.class {
        match names {
            Some(n) => wln!(out, "Class:\t{}", n.class_nn(class.code()))?,
            None => wln!(out, "Class:\t{:04x}", class.base_sub())?,
        }
    }
    if let Some(v) = d.vendor_id {
        match names {
            Some(n) => wln!(out, "Vendor:\t{}", n.vendor_nn(v))?,
            None => wln!(out, "Vendor:\t{v:04x}")?,
        }
        if let Some(dev) = d.device_id {
            match names {
                Some(n) => wln!(out, "Device:\t{}", n.device_nn(v, dev))?,
                None => wln!(out, "Device:\t{dev:04x}")?,
            }
        }
    } else if let Some(dev) = d.device_id {
        wln!(out, "Device:\tDevice [{dev:04x}]")?;
    }
    // lspci shows subsystem ids only when the vendor is neither 0 nor ffff (lspci.c
    // show_machine).
    if let (Some(sv), Some(sd)) = (d.subsystem_vendor_id, d.subsystem_device_id)
        && sv != 0
        && sv != 0xffff
    {
        match (names, d.vendor_id, d.device_id) {
            (Some(n), Some(v), Some(dev)) => {
                wln!(out, "SVendor:\t{}", n.subsystem_vendor_nn(sv))?;
                wln!(out, "SDevice:\t{}", n.subsystem_device_nn(v, dev, sv, sd))?;
            }
            _ => {
                wln!(out, "SVendor:\t{sv:04x}")?;
                wln!(out, "SDevice:\t{sd:04x}")?;
            }
        }
    }
    if let Some(slot) = &d.slot {
        wln!(out, "PhySlot:\t{slot}")?;
    }
    if let Some(rev) = d.revision.filter(|&r| r != 0) {
        wln!(out, "Rev:\t{rev:02x}")?;
    }
    if let Some(class) = d.class {
        wln!(out, "ProgIf:\t{:02x}", class.prog_if())?;
    }
    if let Some(driver) = &d.driver {
        wln!(out, "Driver:\t{driver}")?;
    }
    if let Some(node) = d.numa_node {
        wln!(out, "NUMANode:\t{node}")?;
    }
    if let Some(of_node) = &d.of_node {
        // lspci prints the resolved link, which on a live host is under this directory.
        wln!(out, "DTNode:\t{}{of_node}", crate::DEVICE_TREE_BASE)?;
    }
    if let Some(group) = d.iommu_group {
        wln!(out, "IOMMUGroup:\t{group}")?;
    }
    Ok(())
}

/// Writes the bus tree, drawn as `lspci -t` draws it: root buses as `[DDDD:BB]`, bridges with
/// the buses behind them (`-[01-05]-`, from configuration space), functions as `DD.F`. Control
/// characters from the host are shown as escapes ([`escape`]).
pub fn write_tree<W: io::Write + ?Sized>(out: &mut W, pci: &Pci, tree: &Tree) -> io::Result<()> {
    escape::write_terminal_safe(out, |out| tree_raw(out, pci, tree))
}

/// [`write_tree`] as a `String`.
pub fn tree(pci: &Pci, tree: &Tree) -> String {
    to_string(|out| write_tree(out, pci, tree))
}

fn tree_raw<W: fmt::Write + ?Sized>(out: &mut W, pci: &Pci, tree: &Tree) -> fmt::Result {
    let mut line = String::from("-");
    let roots = tree.roots();
    if let [only] = roots {
        write!(line, "[{}]-", only.bus)?;
        bus(out, &mut line, pci, tree, &only.devices, 0)?;
    } else {
        let at = line.len();
        for (i, root) in roots.iter().enumerate() {
            line.truncate(at);
            let branch = if i + 1 == roots.len() { "\\-" } else { "+-" };
            write!(line, "{branch}[{}]-", root.bus)?;
            bus(out, &mut line, pci, tree, &root.devices, 0)?;
        }
    }
    Ok(())
}

/// Prints `line` and turns it into the prefix of the lines below it (`|` where a branch goes
/// on, spaces elsewhere), as lspci's `print_it` does.
fn emit<W: fmt::Write + ?Sized>(out: &mut W, line: &mut String) -> fmt::Result {
    out.write_str(line)?;
    out.write_char('\n')?;
    let prefix: String = line
        .chars()
        .map(|c| if c == '+' || c == '|' { '|' } else { ' ' })
        .collect();
    *line = prefix;
    Ok(())
}

fn bus<W: fmt::Write + ?Sized>(
    out: &mut W,
    line: &mut String,
    pci: &Pci,
    tree: &Tree,
    devices: &[usize],
    depth: usize,
) -> fmt::Result {
    let at = line.len();
    match devices {
        [] => emit(out, line),
        [only] => {
            line.push_str("--");
            function(out, line, pci, tree, *only, depth)
        }
        [rest @ .., last] => {
            for &d in rest {
                line.truncate(at);
                line.push_str("+-");
                function(out, line, pci, tree, d, depth)?;
            }
            line.truncate(at);
            line.push_str("\\-");
            function(out, line, pci, tree, *last, depth)
        }
    }
}

fn function<W: fmt::Write + ?Sized>(
    out: &mut W,
    line: &mut String,
    pci: &Pci,
    tree: &Tree,
    index: usize,
    depth: usize,
) -> fmt::Result {
    let Some(d) = pci.devices.get(index) else {
        return Ok(());
    };
    write!(
        line,
        "{:02x}.{:x}",
        d.address.device(),
        d.address.function()
    )?;
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
                write!(line, "-[{secondary:02x}]-")?;
            } else {
                write!(line, "-[{secondary:02x}-{subordinate:02x}]-")?;
            }
            line.push('-');
            if depth >= MAX_DEPTH {
                line.push_str("[deeper levels not shown]");
                emit(out, line)
            } else {
                bus(out, line, pci, tree, children, depth + 1)
            }
        }
        None => emit(out, line),
    }
}
