//! The `nvidia-smi topo -m`-style matrix, built from sysfs and the device tree alone, with
//! what nvidia-smi leaves out: the GPU ↔ CPU NVLink count and the GPU memory's NUMA node.

use std::fmt::{self, Write as _};
use std::io;

use pci::Parent;

use crate::audit::Report;
use crate::render::escape;
use crate::topology::Gpu;

use super::{gpu_label, no_nvlink2_sentence};

/// The connection between two GPUs, in nvidia-smi's legend.
fn cell(a: &Gpu, b: &Gpu) -> String {
    if a.address == b.address {
        return "X".to_owned();
    }
    if let Some(l) = a.gpu_links.iter().find(|l| l.peer == b.address) {
        return format!("NV{}", l.count);
    }
    if let (Parent::Bridge(pa), Parent::Bridge(pb)) = (a.pci_parent, b.pci_parent)
        && pa == pb
    {
        return "PIX".to_owned();
    }
    if a.address.domain() == b.address.domain() {
        return "PXB".to_owned();
    }
    match (a.numa_node, b.numa_node) {
        (Some(x), Some(y)) if x == y => "NODE".to_owned(),
        (Some(_), Some(_)) => "SYS".to_owned(),
        _ => "?".to_owned(),
    }
}

/// Writes the matrix: GPUs × GPUs (`X`, `NV#`, `PIX`, `PXB`, `NODE`, `SYS`), then the
/// CPU-link count, the GPU's NUMA affinity and its memory's NUMA node, then the legend.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn write_matrix<W: io::Write + ?Sized>(out: &mut W, r: &Report) -> io::Result<()> {
    escape::write_terminal_safe(out, |out| matrix_raw(out, r))
}

/// [`write_matrix`] as a `String`.
pub fn matrix(r: &Report) -> String {
    ::pci::render::to_string(|out| write_matrix(out, r))
}

fn matrix_raw<W: fmt::Write + ?Sized>(out: &mut W, r: &Report) -> fmt::Result {
    let t = &r.topology;
    if !t.has_nvlink2() {
        return wln!(out, "{}", no_nvlink2_sentence(t));
    }
    let labels: Vec<String> = t.gpus.iter().map(|g| gpu_label(t, g.address)).collect();
    let width = labels.iter().map(String::len).max().unwrap_or(4).max(4) + 2;
    let mut header = format!("{:width$}", "");
    for l in &labels {
        let _ = write!(header, "{l:width$}");
    }
    let _ = write!(
        header,
        "{:<11}{:<15}GPU NUMA ID",
        "CPU Links", "NUMA Affinity"
    );
    wln!(out, "{}", header.trim_end())?;
    for (g, label) in t.gpus.iter().zip(&labels) {
        let mut row = format!("{label:width$}");
        for other in &t.gpus {
            let _ = write!(row, "{:width$}", cell(g, other));
        }
        // Links whose bridge function is on the bus; on a kernel that shows no bridge at
        // all, the device tree's (the legend says so).
        let links = if t.kernel_exposes_bridges() {
            g.links_on_bus().count()
        } else {
            g.cpu_links.len()
        };
        let cpu = if links == 0 {
            "-".to_owned()
        } else {
            format!("NV{links}")
        };
        let numa = g
            .numa_node
            .map_or_else(|| "N/A".to_owned(), |n| n.to_string());
        let mem = match &g.memory {
            Some(Ok(m)) => m
                .numa_node
                .map_or_else(|| "N/A".to_owned(), |n| n.to_string()),
            _ => "N/A".to_owned(),
        };
        let _ = write!(row, "{cpu:<11}{numa:<15}{mem}");
        wln!(out, "{}", row.trim_end())?;
    }
    out.write_char('\n')?;
    for (g, label) in t.gpus.iter().zip(&labels) {
        wln!(
            out,
            "{label} = {} {}{}",
            g.address,
            g.slot.as_deref().unwrap_or("-"),
            g.chip_id
                .map_or_else(String::new, |c| format!(" (chip {c})"))
        )?;
    }
    if t.gpus
        .iter()
        .any(|g| g.gpu_links.iter().any(|l| l.inferred))
    {
        out.write_char('\n')?;
        wln!(
            out,
            "GPU-to-GPU NV# inferred from the Witherspoon wiring ({}): the firmware has no \
             ibm,nvlink-peers.",
            t.wiring.map_or("unknown", |w| w.label())
        )?;
    }
    if !t.kernel_exposes_bridges() {
        out.write_str(
            "\nCPU Links from the device tree: this kernel does not expose NVLink2 (no bridge \
             functions on the bus).\n",
        )?;
    }
    out.write_str(
        "\nLegend:\n\n  \
         X    = Self\n  \
         SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes\n  \
         NODE = Connection traversing PCIe as well as the interconnect between PCIe Host \
         Bridges within a NUMA node\n  \
         PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host \
         Bridge)\n  \
         PIX  = Connection traversing at most a single PCIe bridge\n  \
         NV#  = Connection traversing a bonded set of # NVLinks\n  \
         ?    = Not known (a NUMA node could not be read)\n\n\
         CPU Links: NVLinks between the GPU and its CPU (its NVLink bridge functions on the \
         bus).\n\
         NUMA Affinity: the GPU's PCI NUMA node. GPU NUMA ID: the NUMA node of the GPU's \
         memory.\n",
    )?;
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == crate::audit::Severity::Error)
        .count();
    if !r.findings.is_empty() {
        out.write_char('\n')?;
        wln!(
            out,
            "{} finding{} ({errors} error{}): see the text report.",
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}
