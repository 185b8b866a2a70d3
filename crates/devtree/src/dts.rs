//! Device-tree source (dts) text of a tree, in the layout `dtc -O dts` prints, so that
//! `dtc -I dts` compiles it back to the same blob contents.

use std::fmt::{self, Write};

use crate::prop::{Property, ValueKind};
use crate::tree::{Node, Tree};

/// Writes `tree` as dts: `/dts-v1/;`, the reservation map as `/memreserve/` lines, then the
/// nodes with their properties in tree order. Entries of the directory form that could not be
/// read become comments on their node.
pub fn write_dts(tree: &Tree<'_>, out: &mut impl Write) -> fmt::Result {
    out.write_str("/dts-v1/;\n\n")?;
    for r in tree.reservations() {
        writeln!(out, "/memreserve/\t{:#018x} {:#018x};", r.address, r.size)?;
    }
    write_node(tree.root(), 0, out)
}

/// The dts text of a tree as a `String`.
pub fn to_dts(tree: &Tree<'_>) -> String {
    let mut s = String::with_capacity(tree.len() * 256);
    // Writing into a String cannot fail.
    let _ = write_dts(tree, &mut s);
    s
}

fn indent(out: &mut impl Write, depth: usize) -> fmt::Result {
    for _ in 0..depth {
        out.write_char('\t')?;
    }
    Ok(())
}

fn write_node(node: Node<'_, '_>, depth: usize, out: &mut impl Write) -> fmt::Result {
    indent(out, depth)?;
    if depth == 0 {
        out.write_str("/ {\n")?;
    } else {
        writeln!(out, "{} {{", node.name())?;
    }
    for prop in node.properties() {
        indent(out, depth + 1)?;
        write_property(prop, out)?;
        out.write_char('\n')?;
    }
    for e in node.errors() {
        indent(out, depth + 1)?;
        writeln!(
            out,
            "/* {}: unreadable: {} */",
            e.name.replace("*/", "* /"),
            e.message.replace("*/", "* /")
        )?;
    }
    for child in node.children() {
        out.write_char('\n')?;
        write_node(child, depth + 1, out)?;
    }
    indent(out, depth)?;
    out.write_str("};\n")
}

/// Writes `name = value;` (or `name;` for an empty value), the value shaped as `dtc` guesses.
pub fn write_property(prop: &Property<'_>, out: &mut impl Write) -> fmt::Result {
    out.write_str(prop.name())?;
    if prop.value().is_empty() {
        return out.write_char(';');
    }
    out.write_str(" = ")?;
    write_value(prop.value(), out)?;
    out.write_char(';')
}

/// Writes a value in dts syntax: `"a", "b"`, `<0x1 0x2>` or `[01 02]`.
pub fn write_value(value: &[u8], out: &mut impl Write) -> fmt::Result {
    match ValueKind::guess(value) {
        ValueKind::Empty => Ok(()),
        ValueKind::Strings => {
            let body = value.strip_suffix(&[0]).unwrap_or(value);
            for (i, s) in body.split(|&b| b == 0).enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_string(s, out)?;
            }
            Ok(())
        }
        ValueKind::Cells => {
            out.write_char('<')?;
            for (i, c) in value.chunks_exact(4).enumerate() {
                if i > 0 {
                    out.write_char(' ')?;
                }
                let mut word = [0u8; 4];
                word.copy_from_slice(c);
                write!(out, "{:#x}", u32::from_be_bytes(word))?;
            }
            out.write_char('>')
        }
        ValueKind::Bytes => {
            out.write_char('[')?;
            for (i, b) in value.iter().enumerate() {
                if i > 0 {
                    out.write_char(' ')?;
                }
                write!(out, "{b:02x}")?;
            }
            out.write_char(']')
        }
    }
}

/// A quoted dts string with dtc's escapes.
fn write_string(s: &[u8], out: &mut impl Write) -> fmt::Result {
    out.write_char('"')?;
    for &b in s {
        match b {
            7 => out.write_str("\\a")?,
            8 => out.write_str("\\b")?,
            b'\t' => out.write_str("\\t")?,
            b'\n' => out.write_str("\\n")?,
            11 => out.write_str("\\v")?,
            12 => out.write_str("\\f")?,
            b'\r' => out.write_str("\\r")?,
            b'\\' => out.write_str("\\\\")?,
            b'"' => out.write_str("\\\"")?,
            b if b.is_ascii_graphic() || b == b' ' => out.write_char(char::from(b))?,
            b => write!(out, "\\x{b:02x}")?,
        }
    }
    out.write_char('"')
}
