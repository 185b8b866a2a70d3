//! `lsnvlink dt`: the device tree, from a blob, a copied root, a capture or the live system.
//!
//! - `dt dump [BLOB]` prints the whole tree as dts that `dtc -I dts` compiles (or JSON).
//! - `dt get PATH [PROP]` prints one property, or every property of a node (as `fdtget`).
//! - `dt ls PATH` lists a node's properties and child nodes (as `fdtget -p` and `-l`).
//!
//! Without a blob, the tree is the directory form at `/proc/device-tree` inside the root
//! (`--root`, `--capture`, or the live system).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use devtree::{Node, Property, Tree, ValueKind};
use serde_json::{Value, json};

use super::source::SourceArgs;

/// Version of the JSON documents `dt` prints; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the tree comes from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TreeSource {
    /// Read a flattened device-tree blob (.dtb) instead of /proc/device-tree.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "capture"])]
    pub blob: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `lsnvlink dt` arguments.
#[derive(clap::Args, Debug)]
pub struct DtArgs {
    #[command(subcommand)]
    command: DtCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DtCommand {
    /// Print the whole tree as device-tree source (dtc accepts it) or JSON.
    Dump {
        /// A flattened blob to read (same as --blob).
        #[arg(value_name = "BLOB", conflicts_with_all = ["blob", "root", "capture"])]
        file: Option<PathBuf>,
        #[command(flatten)]
        from: TreeSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DumpFormat::Dts)]
        format: DumpFormat,
    },
    /// Print a property's value, or every property of a node.
    Get {
        /// Node path, e.g. /pciex@6030200000000/unknown-bridge@0.
        path: String,
        /// Property name; without it, every property of the node.
        prop: Option<String>,
        #[command(flatten)]
        from: TreeSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List a node's properties and child nodes (children end with '/').
    Ls {
        /// Node path.
        path: String,
        #[command(flatten)]
        from: TreeSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum DumpFormat {
    /// Device-tree source, as `dtc -O dts` prints it.
    Dts,
    /// JSON.
    Json,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// dts-style values, one per line.
    Text,
    /// JSON.
    Json,
}

/// Runs `lsnvlink dt`.
pub fn run(args: DtArgs) -> Result<()> {
    let mut out = String::new();
    match args.command {
        DtCommand::Dump { file, from, format } => {
            let from = TreeSource {
                blob: file.or(from.blob),
                source: from.source,
            };
            with_tree(&from, |tree, origin| {
                warn_problems(tree);
                out = match format {
                    DumpFormat::Dts => devtree::dts::to_dts(tree),
                    DumpFormat::Json => pretty(&dump_json(tree, origin)),
                };
                Ok(())
            })?;
        }
        DtCommand::Get {
            path,
            prop,
            from,
            format,
        } => with_tree(&from, |tree, _| {
            let node = find(tree, &path)?;
            out = get(node, prop.as_deref(), format)?;
            Ok(())
        })?,
        DtCommand::Ls { path, from, format } => with_tree(&from, |tree, _| {
            let node = find(tree, &path)?;
            out = ls(node, format);
            Ok(())
        })?,
    }
    match super::write_stdout(out.as_bytes()) {
        // A closed pipe (`| head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

/// Reads the tree the options name and hands it to `f` with a description of its origin.
fn with_tree(from: &TreeSource, f: impl FnOnce(&Tree<'_>, String) -> Result<()>) -> Result<()> {
    if let Some(path) = &from.blob {
        let bytes = super::read_input(path, lsnvlink::limits::input().max_input_bytes)?;
        let tree = Tree::from_blob(&bytes).with_context(|| format!("{}", path.display()))?;
        return f(&tree, format!("blob {}", path.display()));
    }
    let root = from.source.open()?;
    let tree = Tree::from_proc(&root)
        .with_context(|| format!("cannot read the device tree of {}", root.origin()))?;
    f(
        &tree,
        format!("{} {}", root.origin(), devtree::PROC_DEVICE_TREE),
    )
}

fn warn_problems(tree: &Tree<'_>) {
    for p in tree.problems() {
        eprintln!("lsnvlink: warning: {p}");
    }
}

fn find<'t, 'a>(tree: &'t Tree<'a>, path: &str) -> Result<Node<'t, 'a>> {
    if !path.starts_with('/') {
        bail!("node path {path:?} must start with '/'");
    }
    tree.find(path)
        .ok_or_else(|| anyhow!("no node {path:?} in the device tree"))
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn value_text(value: &[u8]) -> String {
    let mut s = String::new();
    let _ = devtree::dts::write_value(value, &mut s);
    s
}

fn get(node: Node<'_, '_>, prop: Option<&str>, format: Format) -> Result<String> {
    let path = node.path();
    match prop {
        Some(name) => {
            let p = node.property(name).ok_or_else(|| {
                let unreadable = node.errors().iter().find(|e| e.name == name);
                match unreadable {
                    Some(e) => anyhow!("{path}: property {name:?} is unreadable: {}", e.message),
                    None => anyhow!("{path}: no property {name:?}"),
                }
            })?;
            Ok(match format {
                Format::Text => format!("{}\n", value_text(p.value())),
                Format::Json => pretty(&json!({
                    "schema_version": SCHEMA_VERSION,
                    "path": path,
                    "property": property_json(p),
                })),
            })
        }
        None => Ok(match format {
            Format::Text => {
                let mut s = String::new();
                for p in node.properties() {
                    let _ = devtree::dts::write_property(p, &mut s);
                    s.push('\n');
                }
                s
            }
            Format::Json => pretty(&json!({
                "schema_version": SCHEMA_VERSION,
                "path": path,
                "properties": node.properties().iter().map(property_json).collect::<Vec<_>>(),
                "errors": errors_json(node),
            })),
        }),
    }
}

fn ls(node: Node<'_, '_>, format: Format) -> String {
    match format {
        Format::Text => {
            let mut s = String::new();
            for p in node.properties() {
                s.push_str(p.name());
                s.push('\n');
            }
            for c in node.children() {
                s.push_str(c.name());
                s.push_str("/\n");
            }
            s
        }
        Format::Json => pretty(&json!({
            "schema_version": SCHEMA_VERSION,
            "path": node.path(),
            "properties": node.properties().iter().map(Property::name).collect::<Vec<_>>(),
            "children": node.children().map(|c| c.name()).collect::<Vec<_>>(),
            "errors": errors_json(node),
        })),
    }
}

/// A property as JSON: its name, the shape dtc would print it in, and the value in that shape
/// (strings as a list, cells as numbers, bytes as a hex string, `null` when empty).
fn property_json(p: &Property<'_>) -> Value {
    let v = p.value();
    let (kind, value) = match p.kind() {
        ValueKind::Empty => ("empty", Value::Null),
        ValueKind::Strings => (
            "strings",
            Value::from(
                v.strip_suffix(&[0])
                    .unwrap_or(v)
                    .split(|&b| b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>(),
            ),
        ),
        ValueKind::Cells => (
            "cells",
            Value::from(devtree::decode::cells(v).unwrap_or_default()),
        ),
        ValueKind::Bytes => (
            "bytes",
            Value::from(v.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        ),
    };
    json!({ "name": p.name(), "type": kind, "value": value, "length": v.len() })
}

fn errors_json(node: Node<'_, '_>) -> Value {
    node.errors()
        .iter()
        .map(|e| json!({ "name": e.name, "error": e.message }))
        .collect()
}

fn node_json(node: Node<'_, '_>) -> Value {
    json!({
        "name": node.name(),
        "path": node.path(),
        "properties": node.properties().iter().map(property_json).collect::<Vec<_>>(),
        "errors": errors_json(node),
        "children": node.children().map(node_json).collect::<Vec<_>>(),
    })
}

fn dump_json(tree: &Tree<'_>, origin: String) -> Value {
    let header = tree.header().map(|h| {
        json!({
            "version": h.version,
            "last_comp_version": h.last_comp_version,
            "boot_cpuid_phys": h.boot_cpuid_phys,
            "totalsize": h.totalsize,
            "size_dt_struct": h.size_dt_struct,
            "size_dt_strings": h.size_dt_strings,
        })
    });
    json!({
        "schema_version": SCHEMA_VERSION,
        "source": origin,
        "header": header,
        "reservations": tree.reservations().iter().map(|r| json!({
            "address": format!("{:#x}", r.address),
            "size": format!("{:#x}", r.size),
        })).collect::<Vec<_>>(),
        "problems": tree.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "root": node_json(tree.root()),
    })
}
