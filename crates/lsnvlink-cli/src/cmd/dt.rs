//! `lsnvlink dt`: the device tree, from a blob, a copied root, a capture or the live system.
//!
//! - `dt dump [BLOB]` prints the whole tree as dts that `dtc -I dts` compiles (or JSON).
//! - `dt get PATH [PROP]` prints one property, or every property of a node (as `fdtget`).
//! - `dt ls PATH` lists a node's properties and child nodes (as `fdtget -p` and `-l`).
//!
//! Without a blob, the tree is the directory form at `/proc/device-tree` inside the root
//! (`--root`, `--capture`, or the live system).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use devtree::{Node, Property, Tree, ValueKind};

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

/// Runs `lsnvlink dt`. What could fail (a missing node, the JSON output bound) is known
/// before anything is written.
pub fn run(args: DtArgs) -> Result<()> {
    match args.command {
        DtCommand::Dump { file, from, format } => {
            let from = TreeSource {
                blob: file.or(from.blob),
                source: from.source,
            };
            with_tree(&from, |tree, origin, input| {
                warn_problems(tree);
                match format {
                    DumpFormat::Dts => {
                        write_out(|out| super::write_fmt(out, |w| devtree::dts::write_dts(tree, w)))
                    }
                    DumpFormat::Json => {
                        let json = bounded_json(&dump_json(tree, origin), input)?;
                        write_out(|out| out.write_all(&json))
                    }
                }
            })
        }
        DtCommand::Get {
            path,
            prop,
            from,
            format,
        } => with_tree(&from, |tree, _, input| {
            get(find(tree, &path)?, prop.as_deref(), format, input)
        }),
        DtCommand::Ls { path, from, format } => with_tree(&from, |tree, _, input| {
            ls(find(tree, &path)?, format, input)
        }),
    }
}

/// Writes to standard output ([`super::with_stdout`]). A closed pipe (`| head`) is handled
/// once, in `cli::main`.
fn write_out(write: impl FnOnce(&mut super::Out<'_>) -> std::io::Result<()>) -> Result<()> {
    super::with_stdout(write).context("cannot write to standard output")
}

/// Reads the tree the options name and hands it to `f` with a description of its origin and
/// the size of its input in bytes (what bounds the JSON output).
fn with_tree(
    from: &TreeSource,
    f: impl FnOnce(&Tree<'_>, String, u64) -> Result<()>,
) -> Result<()> {
    if let Some(path) = &from.blob {
        let bytes = super::read_input(path, lsnvlink::limits::input().max_input_bytes)?;
        let tree = Tree::from_blob(&bytes).with_context(|| format!("{}", path.display()))?;
        let input = bytes.len() as u64;
        return f(&tree, format!("blob {}", path.display()), input);
    }
    let root = from.source.open()?;
    let tree = Tree::from_proc(&root)
        .with_context(|| format!("cannot read the device tree of {}", root.origin()))?;
    let input = tree_bytes(&tree);
    f(
        &tree,
        format!("{} {}", root.origin(), devtree::PROC_DEVICE_TREE),
        input,
    )
}

/// The size of a tree as read: every node's name, every property's name and value.
fn tree_bytes(tree: &Tree<'_>) -> u64 {
    tree.nodes()
        .map(|n| {
            n.name().len() as u64
                + n.properties()
                    .iter()
                    .map(|p| (p.name().len() + p.value().len()) as u64)
                    .sum::<u64>()
        })
        .sum()
}

/// A writer that refuses to grow past `cap` bytes.
struct Capped {
    buf: Vec<u8>,
    cap: u64,
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if (self.buf.len() + data.len()) as u64 > self.cap {
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as pretty JSON with a final newline, serialized straight from the tree (no
/// intermediate document) into a buffer that is written only when whole (a refused dump
/// writes nothing), and refused once it passes
/// [`fsroot::Limits::max_output_bytes`] for `input` bytes: a deep tree's indentation and
/// repeated paths cannot turn a 68 KB capture into 780 MB.
fn bounded_json(value: &impl serde::Serialize, input: u64) -> Result<Vec<u8>> {
    let limits = lsnvlink::limits::input();
    let cap = limits.max_output_bytes(input);
    let mut out = Capped {
        buf: Vec::new(),
        cap,
    };
    if serde_json::to_writer_pretty(&mut out, value).is_err() {
        bail!(
            "the JSON output would pass {cap} bytes ({} times the {input} bytes of the tree; \
             --limits-scale N raises it)",
            limits.max_output_factor
        );
    }
    out.buf.push(b'\n');
    Ok(out.buf)
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

fn get(node: Node<'_, '_>, prop: Option<&str>, format: Format, input: u64) -> Result<()> {
    let path = node.path();
    let Some(name) = prop else {
        return match format {
            Format::Text => write_out(|out| {
                super::write_fmt(out, |w| {
                    for p in node.properties() {
                        devtree::dts::write_property(p, w)?;
                        w.write_char('\n')?;
                    }
                    Ok(())
                })
            }),
            Format::Json => {
                let json = bounded_json(
                    &GetNode {
                        errors: errors_json(node),
                        path,
                        properties: Props(node.properties()),
                        schema_version: SCHEMA_VERSION,
                    },
                    input,
                )?;
                write_out(|out| out.write_all(&json))
            }
        };
    };
    let p = node.property(name).ok_or_else(|| {
        let unreadable = node.errors().iter().find(|e| e.name == name);
        match unreadable {
            Some(e) => anyhow!("{path}: property {name:?} is unreadable: {}", e.message),
            None => anyhow!("{path}: no property {name:?}"),
        }
    })?;
    match format {
        Format::Text => write_out(|out| {
            super::write_fmt(out, |w| {
                devtree::dts::write_value(p.value(), w)?;
                w.write_char('\n')
            })
        }),
        // Keys in sorted order, as serde_json's maps print them.
        Format::Json => {
            let json = bounded_json(
                &GetProperty {
                    path,
                    property: PropJson(p),
                    schema_version: SCHEMA_VERSION,
                },
                input,
            )?;
            write_out(|out| out.write_all(&json))
        }
    }
}

#[derive(serde::Serialize)]
struct GetProperty<'p, 'a> {
    path: String,
    property: PropJson<'p, 'a>,
    schema_version: u32,
}

#[derive(serde::Serialize)]
struct GetNode<'p, 'a> {
    errors: Vec<ErrorJson<'p>>,
    path: String,
    properties: Props<'p, 'a>,
    schema_version: u32,
}

/// `dt ls --format json`. Keys in sorted order.
#[derive(serde::Serialize)]
struct LsJson<'t> {
    children: Vec<&'t str>,
    errors: Vec<ErrorJson<'t>>,
    path: String,
    properties: Vec<&'t str>,
    schema_version: u32,
}

fn ls(node: Node<'_, '_>, format: Format, input: u64) -> Result<()> {
    match format {
        Format::Text => write_out(|out| {
            for p in node.properties() {
                out.write_all(p.name().as_bytes())?;
                out.write_all(b"\n")?;
            }
            for c in node.children() {
                out.write_all(c.name().as_bytes())?;
                out.write_all(b"/\n")?;
            }
            Ok(())
        }),
        Format::Json => {
            let json = bounded_json(
                &LsJson {
                    children: node.children().map(|c| c.name()).collect(),
                    errors: errors_json(node),
                    path: node.path(),
                    properties: node.properties().iter().map(Property::name).collect(),
                    schema_version: SCHEMA_VERSION,
                },
                input,
            )?;
            write_out(|out| out.write_all(&json))
        }
    }
}

/// A property as JSON, serialized as it is written: its name, the shape dtc would print it in,
/// and the value in that shape (strings as a list, cells as numbers, bytes as a hex string,
/// `null` when empty). Keys in sorted order: `length`, `name`, `type`, `value`.
struct PropJson<'p, 'a>(&'p Property<'a>);

impl serde::Serialize for PropJson<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let p = self.0;
        let v = p.value();
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("length", &v.len())?;
        map.serialize_entry("name", p.name())?;
        match p.kind() {
            ValueKind::Empty => {
                map.serialize_entry("type", "empty")?;
                map.serialize_entry("value", &())?;
            }
            ValueKind::Strings => {
                map.serialize_entry("type", "strings")?;
                let strings: Vec<String> = v
                    .strip_suffix(&[0])
                    .unwrap_or(v)
                    .split(|&b| b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                map.serialize_entry("value", &strings)?;
            }
            ValueKind::Cells => {
                map.serialize_entry("type", "cells")?;
                map.serialize_entry("value", &devtree::decode::cells(v).unwrap_or_default())?;
            }
            ValueKind::Bytes => {
                map.serialize_entry("type", "bytes")?;
                let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
                map.serialize_entry("value", &hex)?;
            }
        }
        map.end()
    }
}

/// A node's properties as a JSON list, serialized one by one.
struct Props<'p, 'a>(&'p [Property<'a>]);

impl serde::Serialize for Props<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(PropJson))
    }
}

/// An entry of a node that could not be read. Keys in sorted order.
#[derive(serde::Serialize)]
struct ErrorJson<'t> {
    error: &'t str,
    name: &'t str,
}

fn errors_json<'t>(node: Node<'t, '_>) -> Vec<ErrorJson<'t>> {
    node.errors()
        .iter()
        .map(|e| ErrorJson {
            error: &e.message,
            name: &e.name,
        })
        .collect()
}

/// A node and everything under it, serialized as it is written (nothing is built in memory
/// first). Keys in sorted order: `children`, `errors`, `name`, `path`, `properties`.
struct NodeJson<'t, 'a>(Node<'t, 'a>);

impl serde::Serialize for NodeJson<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let node = self.0;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("children", &Children(node))?;
        map.serialize_entry("errors", &errors_json(node))?;
        map.serialize_entry("name", node.name())?;
        map.serialize_entry("path", &node.path())?;
        map.serialize_entry("properties", &Props(node.properties()))?;
        map.end()
    }
}

struct Children<'t, 'a>(Node<'t, 'a>);

impl serde::Serialize for Children<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.children().map(NodeJson))
    }
}

/// The whole of `dt dump --format json`. Keys in sorted order: `header`, `problems`,
/// `reservations`, `root`, `schema_version`, `source`.
#[derive(serde::Serialize)]
struct Dump<'t, 'a> {
    header: Option<HeaderJson>,
    problems: Vec<String>,
    reservations: Vec<ReservationJson>,
    root: NodeJson<'t, 'a>,
    schema_version: u32,
    source: String,
}

/// The blob's header. Keys in sorted order.
#[derive(serde::Serialize)]
struct HeaderJson {
    boot_cpuid_phys: u32,
    last_comp_version: u32,
    size_dt_strings: u32,
    size_dt_struct: u32,
    totalsize: u32,
    version: u32,
}

/// A memory reservation, address and size in hex.
#[derive(serde::Serialize)]
struct ReservationJson {
    address: String,
    size: String,
}

fn dump_json<'t, 'a>(tree: &'t Tree<'a>, origin: String) -> Dump<'t, 'a> {
    Dump {
        header: tree.header().map(|h| HeaderJson {
            boot_cpuid_phys: h.boot_cpuid_phys,
            last_comp_version: h.last_comp_version,
            size_dt_strings: h.size_dt_strings,
            size_dt_struct: h.size_dt_struct,
            totalsize: h.totalsize,
            version: h.version,
        }),
        problems: tree.problems().iter().map(ToString::to_string).collect(),
        reservations: tree
            .reservations()
            .iter()
            .map(|r| ReservationJson {
                address: format!("{:#x}", r.address),
                size: format!("{:#x}", r.size),
            })
            .collect(),
        root: NodeJson(tree.root()),
        schema_version: SCHEMA_VERSION,
        source: origin,
    }
}
