//! The topology as a Graphviz graph (`dot -Tsvg`): one cluster per chip (socket) holding its
//! CPU, its NPU, the NVLink bridges, the GPUs wired to it and their memory; edges carry link
//! indexes, speeds and, between GPUs, bonded link counts (`NV3`).
//!
//! Node ids are stable (`gpu_0004_04_00_0`), clusters and nodes come in chip, then address
//! order, so the same host always gives the same text.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! let root = fsroot::Root::open(dir.path())?;
//! let r = lsnvlink::audit::Report::read(&root, &pci::Names::builtin())?;
//! let mut text = Vec::new();
//! lsnvlink::render::dot::write_dot(&mut text, &r)?;
//! assert!(text.starts_with(b"graph lsnvlink {"));
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;

use pci::PciAddress;

use crate::audit::{Report, Severity, gbps};
use crate::topology::{Bridge, Gpu, NpuEntry, Topology};

use super::report::gpu_label;

/// Escapes text for a double-quoted DOT string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn id(kind: &str, a: PciAddress) -> String {
    format!(
        "{kind}_{:04x}_{:02x}_{:02x}_{:x}",
        a.domain(),
        a.bus(),
        a.device(),
        a.function()
    )
}

/// The entries of a GPU's `ibm,npu` that name no known bridge (no node, or a node without a
/// PCI address), each with its graph node id: the node and the edges to it are drawn in two
/// passes and must agree on the id.
fn absent_bridges<'g>(
    t: &'g Topology,
    g: &'g Gpu,
) -> impl Iterator<Item = (String, &'g NpuEntry)> + 'g {
    g.npu
        .iter()
        .flatten()
        .filter(move |e| {
            e.bridge.is_none()
                && !t
                    .bridges
                    .iter()
                    .any(|b| b.dt_path.is_some() && b.dt_path == e.dt_path)
        })
        .enumerate()
        .map(move |(i, e)| (format!("{}_absent_{i}", id("gpu", g.address)), e))
}

fn speed_text(b: &Bridge) -> Option<String> {
    let s = b.speed?;
    Some(match s.bits_per_second() {
        Some(bps) => gbps(bps),
        None => format!("speed code {:#x}", s.code()),
    })
}

/// The chip a GPU belongs to in the picture: its own, else its first bridge's.
fn gpu_chip(t: &Topology, g: &Gpu) -> Option<u32> {
    g.chip_id.or_else(|| {
        g.cpu_links
            .iter()
            .find_map(|l| t.bridge(l.bridge).and_then(|b| b.chip_id))
    })
}

/// Writes the topology of `report` as an undirected Graphviz graph.
pub fn write_dot<W: io::Write + ?Sized>(out: &mut W, report: &Report) -> io::Result<()> {
    let t = &report.topology;
    out.write_all(b"graph lsnvlink {\n")?;
    let title = match (&t.platform.model, &t.platform.hostname) {
        (Some(m), Some(h)) => format!("{h} ({m})"),
        (Some(m), None) => m.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => "host".to_owned(),
    };
    writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", rankdir=TB, newrank=true];",
        quote(&format!("{title}: NVLink2 topology"))
    )?;
    out.write_all(b"  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n")?;
    out.write_all(b"  edge [fontname=\"Helvetica\", fontsize=9];\n")?;

    let gpus: Vec<&Gpu> = t.nvlink2_gpus().collect();
    let errors: BTreeSet<PciAddress> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter_map(|f| f.subject.address())
        .collect();

    let mut chips: BTreeSet<Option<u32>> = BTreeSet::new();
    chips.extend(t.npus.iter().map(|n| n.chip_id));
    chips.extend(t.bridges.iter().map(|b| b.chip_id));
    chips.extend(gpus.iter().map(|g| gpu_chip(t, g)));

    for chip in &chips {
        let cname = chip.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        writeln!(out, "  subgraph cluster_chip_{cname} {{")?;
        writeln!(
            out,
            "    label={}; style=rounded; color=gray60;",
            quote(&format!("chip {cname}"))
        )?;
        writeln!(
            out,
            "    cpu_{cname} [label={}, shape=box3d, fillcolor=lightsteelblue];",
            quote(&format!("POWER9\nchip {cname}"))
        )?;
        for n in t.npus.iter().filter(|n| n.chip_id == *chip) {
            let atsd = match n.atsd.len() {
                0 => "no ATSD".to_owned(),
                k => format!("{k} ATSD"),
            };
            writeln!(
                out,
                "    npu_{:04x} [label={}, shape=component, fillcolor=lightgoldenrod];",
                n.domain,
                quote(&format!("NPU {:04x}\n{atsd}", n.domain))
            )?;
            writeln!(out, "    cpu_{cname} -- npu_{:04x};", n.domain)?;
        }
        for b in t.bridges.iter().filter(|b| b.chip_id == *chip) {
            let fill = if errors.contains(&b.address) {
                "salmon"
            } else {
                "white"
            };
            let link = b
                .link_index
                .map_or_else(|| "?".to_owned(), |i| i.to_string());
            // A bridge known from the device tree alone: dashed, red when its function
            // vanished, grey when the kernel shows no bridge at all.
            let (label, style) = if b.on_bus {
                (format!("{}\nlink {link}", b.address), String::new())
            } else if t.kernel_exposes_bridges() {
                (
                    format!("{}\nlink {link}\nnot on the bus", b.address),
                    ", style=dashed, color=red".to_owned(),
                )
            } else {
                (
                    format!("{}\nlink {link}\n(device tree only)", b.address),
                    ", style=dashed, color=gray50".to_owned(),
                )
            };
            writeln!(
                out,
                "    {} [label={}, shape=cds, fillcolor={fill}{style}];",
                id("br", b.address),
                quote(&label)
            )?;
        }
        for g in gpus.iter().filter(|g| gpu_chip(t, g) == *chip) {
            let fill = if errors.contains(&g.address) {
                "salmon"
            } else {
                "palegreen"
            };
            let mut label = format!("{} {}", gpu_label(t, g.address), g.address);
            if let Some(slot) = &g.slot {
                let _ = write!(label, "\nslot {slot}");
            }
            let _ = write!(label, "\n{}", g.name);
            writeln!(
                out,
                "    {} [label={}, shape=box, fillcolor={fill}];",
                id("gpu", g.address),
                quote(&label)
            )?;
            match &g.memory {
                Some(Ok(m)) => {
                    let node = m
                        .numa_node
                        .map_or_else(|| "NUMA ?".to_owned(), |n| format!("NUMA node {n}"));
                    writeln!(
                        out,
                        "    {} [label={}, shape=cylinder, fillcolor=lavender];",
                        id("mem", g.address),
                        quote(&format!(
                            "GPU memory\n{node}\n{:#x}, {}",
                            m.base,
                            super::report::memory_size_text(m)
                        ))
                    )?;
                    writeln!(
                        out,
                        "    {} -- {} [style=dashed];",
                        id("gpu", g.address),
                        id("mem", g.address)
                    )?;
                }
                Some(Err(_)) => {
                    writeln!(
                        out,
                        "    {} [label=\"GPU memory\\nmissing\", shape=cylinder, \
                         fillcolor=salmon];",
                        id("mem", g.address)
                    )?;
                    writeln!(
                        out,
                        "    {} -- {} [style=dotted, color=red];",
                        id("gpu", g.address),
                        id("mem", g.address)
                    )?;
                }
                None => {}
            }
        }
        // Entries of `ibm,npu` naming no known bridge, beside the others.
        let mut absent = Vec::new();
        for g in gpus.iter().filter(|g| gpu_chip(t, g) == *chip) {
            for (node, e) in absent_bridges(t, g) {
                let what = e.dt_path.as_deref().unwrap_or("(no node)");
                writeln!(
                    out,
                    "    {node} [label={}, shape=cds, style=dashed, color=red, fillcolor=white];",
                    quote(&format!("absent bridge\n{what}"))
                )?;
                absent.push(node);
            }
        }
        // One row of bridges and one of GPUs per chip, so the links read top to bottom.
        let mut bridges: Vec<String> = t
            .bridges
            .iter()
            .filter(|b| b.chip_id == *chip)
            .map(|b| id("br", b.address))
            .collect();
        bridges.extend(absent);
        let chip_gpus: Vec<String> = gpus
            .iter()
            .filter(|g| gpu_chip(t, g) == *chip)
            .map(|g| id("gpu", g.address))
            .collect();
        for row in [bridges, chip_gpus] {
            if !row.is_empty() {
                writeln!(out, "    {{ rank=same; {}; }}", row.join("; "))?;
            }
        }
        out.write_all(b"  }\n")?;
    }

    // Bridge edges: NPU -- bridge -- GPU, the link index and speed on the GPU side.
    for b in &t.bridges {
        let npu = t.npus.iter().find(|n| n.domain == b.address.domain());
        if let Some(n) = npu {
            writeln!(out, "  npu_{:04x} -- {};", n.domain, id("br", b.address))?;
        }
        if let Some(g) = b.gpu {
            let mut attrs = Vec::new();
            if !b.on_bus && t.kernel_exposes_bridges() {
                // Its function is gone from the bus.
                attrs.push("label=\"gone\"".to_owned());
                attrs.push("style=dashed".to_owned());
                attrs.push("color=red".to_owned());
            } else {
                if let Some(s) = speed_text(b) {
                    attrs.push(format!("label={}", quote(&s)));
                }
                if b.on_bus {
                    attrs.push("penwidth=2".to_owned());
                    attrs.push("color=darkgreen".to_owned());
                } else {
                    attrs.push("style=dashed".to_owned());
                    attrs.push("color=gray50".to_owned());
                }
            }
            writeln!(
                out,
                "  {} -- {} [{}];",
                id("br", b.address),
                id("gpu", g),
                attrs.join(", ")
            )?;
        }
    }
    // Entries of `ibm,npu` naming no known bridge.
    for g in &gpus {
        for (node, e) in absent_bridges(t, g) {
            // Its NPU: the PHB whose node holds the bridge's node.
            let npu = e.dt_path.as_deref().and_then(|p| {
                t.npus
                    .iter()
                    .find(|n| p.starts_with(&format!("{}/", n.dt_path)))
            });
            if let Some(n) = npu {
                writeln!(
                    out,
                    "  npu_{:04x} -- {node} [style=dashed, color=red];",
                    n.domain
                )?;
            }
            writeln!(
                out,
                "  {node} -- {} [style=dashed, color=red, label=\"absent\"];",
                id("gpu", g.address)
            )?;
        }
    }
    // GPU -- GPU links, each pair once.
    for g in &gpus {
        for l in g.gpu_links.iter().filter(|l| l.peer > g.address) {
            let style = if l.inferred { ", style=dashed" } else { "" };
            writeln!(
                out,
                "  {} -- {} [label={}, penwidth={}, color=steelblue{style}];",
                id("gpu", g.address),
                id("gpu", l.peer),
                quote(&format!(
                    "NV{}{}",
                    l.count,
                    if l.inferred { " (inferred)" } else { "" }
                )),
                l.count.clamp(1, 6)
            )?;
        }
    }
    out.write_all(b"}\n")
}

/// [`write_dot`] as a `String`.
pub fn dot(report: &Report) -> String {
    ::pci::render::to_string(|out| write_dot(out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote("x\u{7}y"), "\"xy\"");
    }

    #[test]
    fn ids_are_stable_identifiers() {
        let a = PciAddress::new(0x0004, 0x04, 0, 0).unwrap();
        assert_eq!(id("gpu", a), "gpu_0004_04_00_0");
    }

    #[test]
    fn an_empty_host_is_an_empty_graph() {
        let r = Report::new(Topology::default());
        let d = dot(&r);
        assert!(d.starts_with("graph lsnvlink {\n"));
        assert!(d.ends_with("}\n"));
        assert!(!d.contains("cluster"));
    }
}
