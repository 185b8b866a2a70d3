//! The text report.

use std::fmt::{self, Write as _};
use std::io;

use crate::audit::{Report, Severity, gbps};
use crate::render::escape;
use crate::topology::{Bridge, Gpu, IommuGrouping, Nvlink2Kernel, Topology};

use super::{gpu_label, memory_size_text, no_nvlink2_sentence};

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn speed(s: Option<devtree::power9::NvlinkSpeed>) -> String {
    match s {
        Some(s) => match s.bits_per_second() {
            Some(bps) => gbps(bps),
            None => format!("unknown speed code {:#x}", s.code()),
        },
        None => "speed ?".to_owned(),
    }
}

fn host_line(t: &Topology) -> String {
    let p = &t.platform;
    let mut line = format!("Host: {}", p.model.as_deref().unwrap_or("unknown model"));
    if let Some(last) = p.compatible.last() {
        let _ = write!(line, " ({last})");
    }
    if let Some(h) = &p.hostname {
        let _ = write!(line, ", hostname {h}");
    }
    if let Some(k) = &p.kernel {
        let _ = write!(line, ", kernel {k}");
    }
    line
}

/// `Firmware: skiboot v6.5.4; PNOR version IBM-witherspoon-OP9-v2.4, hostboot …`.
fn firmware_line(t: &Topology) -> Option<String> {
    let f = &t.platform.firmware;
    if !f.is_known() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(s) = &f.skiboot {
        parts.push(format!("running skiboot {s}"));
    }
    if !f.versions.is_empty() {
        // The VERSION partition's first line (`version`), then its components.
        let head = f
            .versions
            .get("version")
            .map_or_else(String::new, |v| format!(" {v}"));
        let pnor: Vec<String> = f
            .versions
            .iter()
            .filter(|(k, _)| k.as_str() != "version")
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        parts.push(format!("PNOR{head} ({})", pnor.join(", ")));
    }
    Some(format!("Firmware: {}", parts.join("; ")))
}

/// What the kernel does with NVLink2 and how it groups the IOMMU.
fn kernel_line(t: &Topology) -> Option<String> {
    let p = &t.platform;
    let what = match p.nvlink2_kernel? {
        Nvlink2Kernel::NoVfio => {
            "NPU probed; no vfio NVLink2 passthrough (Linux before 5.0)".to_owned()
        }
        Nvlink2Kernel::Vfio {
            atsd_fallback,
            backport,
        } => format!(
            "NVLink2 passthrough with vfio{}; ATSD {}",
            if backport {
                " (a backport: the version says before 5.0, the groups are per NPU)"
            } else {
                ""
            },
            if atsd_fallback {
                "falls back to ibm,mmio-atsd[0] (5.7+)"
            } else {
                "without fallback (before 5.7)"
            }
        ),
        Nvlink2Kernel::Unsupported { .. } => {
            "does not expose NVLink2 (no bridge functions); the topology below comes from the \
             device tree"
                .to_owned()
        }
    };
    let groups = match p.iommu_grouping {
        Some(IommuGrouping::PerNpu) => "; IOMMU groups per NPU",
        Some(IommuGrouping::PerGpu) => "; IOMMU groups per GPU",
        None => "",
    };
    Some(format!("Kernel: {what}{groups}"))
}

/// Writes the text report: host summary, NPUs, each GPU with its memory and links,
/// unattached bridges, findings and notes.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn write_text<W: io::Write + ?Sized>(out: &mut W, r: &Report) -> io::Result<()> {
    escape::write_terminal_safe(out, |out| text_raw(out, r))
}

/// [`write_text`] as a `String`.
pub fn text(r: &Report) -> String {
    ::pci::render::to_string(|out| write_text(out, r))
}

fn text_raw<W: fmt::Write + ?Sized>(out: &mut W, r: &Report) -> fmt::Result {
    let t = &r.topology;
    if !t.has_nvlink2() {
        wln!(out, "{}", no_nvlink2_sentence(t))?;
        return findings_and_notes(r, out);
    }
    wln!(out, "{}", host_line(t))?;
    for line in [firmware_line(t), kernel_line(t)].into_iter().flatten() {
        wln!(out, "{line}")?;
    }
    let nv = t.nvlink2_gpus().count();
    let on_bus = t.bridges_on_bus().count();
    let mut summary = format!(
        "NVLink2: {nv} GPU{}, {} NVLink bridge{}{} on {} NPU{}",
        plural(nv),
        t.bridges.len(),
        plural(t.bridges.len()),
        if on_bus == t.bridges.len() {
            String::new()
        } else {
            format!(" ({on_bus} on the PCI bus)")
        },
        t.npus.len(),
        plural(t.npus.len())
    );
    if let Some(w) = t.wiring {
        let _ = write!(summary, "; wiring {} (highest ibm,npu-group-id)", w.label());
    }
    wln!(out, "{summary}")?;
    for n in &t.npus {
        wln!(
            out,
            "NPU {:04x} {}: chip {}, {} links, {} ATSD register{}",
            n.domain,
            n.dt_path,
            opt(n.chip_id),
            opt(n.links),
            n.atsd.len(),
            plural(n.atsd.len())
        )?;
    }
    for g in &t.gpus {
        out.write_char('\n')?;
        gpu(t, g, out)?;
    }
    let (empty, loose): (Vec<&Bridge>, Vec<&Bridge>) = t
        .bridges
        .iter()
        .filter(|b| {
            !t.gpus
                .iter()
                .any(|g| g.cpu_links.iter().any(|l| l.bridge == b.address))
        })
        .partition(|b| !b.has_gpu_property);
    for (title, list) in [
        ("NVLink bridges of empty GPU slots (no ibm,gpu):", empty),
        ("NVLink bridges joined to no GPU:", loose),
    ] {
        if list.is_empty() {
            continue;
        }
        out.write_char('\n')?;
        wln!(out, "{title}")?;
        for b in list {
            let slot = b
                .slot
                .as_deref()
                .map_or_else(String::new, |s| format!("slot {s}  "));
            wln!(out, "  {slot}{}", bridge_line(t, b))?;
            for p in &b.problems {
                wln!(out, "    problem: {p}")?;
            }
        }
    }
    out.write_char('\n')?;
    findings_and_notes(r, out)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn bridge_line(t: &Topology, b: &Bridge) -> String {
    if !b.on_bus {
        return format!(
            "link {:>2}  bridge {}  {}  not on the PCI bus (device tree {})",
            opt(b.link_index),
            b.address,
            speed(b.speed),
            b.dt_path.as_deref().unwrap_or("?")
        );
    }
    format!(
        "link {:>2}  bridge {}  {}  driver {}  IOMMU group {}  ATSD {}  libvirt NV2 bridge: {}",
        opt(b.link_index),
        b.address,
        speed(b.speed),
        b.driver.as_deref().unwrap_or("none"),
        opt(b.iommu_group),
        match t.effective_atsd(b) {
            Some((a, false)) => format!("{a:#x}"),
            Some((a, true)) => format!("{a:#x} (fallback to [0])"),
            None => "none".to_owned(),
        },
        if b.libvirt.is_nv2_bridge() {
            "yes".to_owned()
        } else {
            format!("no (lacks {})", b.libvirt.missing().join(", "))
        }
    )
}

fn gpu<W: fmt::Write + ?Sized>(t: &Topology, g: &Gpu, out: &mut W) -> fmt::Result {
    let ids = match (g.vendor_id, g.device_id) {
        (Some(v), Some(d)) => format!(" [{v:04x}:{d:04x}]"),
        _ => String::new(),
    };
    wln!(
        out,
        "{} {} {}{ids}",
        gpu_label(t, g.address),
        g.address,
        g.name
    )?;
    wln!(
        out,
        "  slot {}, chip {}, NUMA node {}, driver {}, IOMMU group {}",
        g.slot.as_deref().unwrap_or("?"),
        opt(g.chip_id),
        opt(g.numa_node),
        g.driver.as_deref().unwrap_or("none"),
        opt(g.iommu_group)
    )?;
    match &g.memory {
        Some(Ok(m)) => {
            wln!(
                out,
                "  memory: {} at {:#x}, tgt {}, NUMA node {} ({}){}",
                memory_size_text(m),
                m.base,
                m.tgt_addr
                    .map_or_else(|| "?".to_owned(), |a| format!("{a:#x}")),
                opt(m.numa_node),
                m.dt_path,
                g.numa_status
                    .as_ref()
                    .and_then(|s| s.status.as_deref())
                    .map_or_else(String::new, |s| format!(", nvidia numa_status {s}"))
            )?;
        }
        Some(Err(why)) => {
            wln!(out, "  memory: MISSING: {why}")?;
        }
        None => {
            wln!(out, "  memory: none (no NVLink bridges)")?;
        }
    }
    let listed = g.npu.as_ref().map_or(0, Vec::len).max(g.cpu_links.len());
    let on_bus = g.links_on_bus().count();
    let links = if !t.kernel_exposes_bridges() {
        format!(
            "{} (in the device tree; the kernel shows no bridge function)",
            g.cpu_links.len()
        )
    } else if on_bus != listed {
        format!("{on_bus} of {listed} on the PCI bus")
    } else {
        on_bus.to_string()
    };
    wln!(out, "  CPU links: {links}")?;
    for l in &g.cpu_links {
        if let Some(b) = t.bridge(l.bridge) {
            wln!(out, "    {}", bridge_line(t, b))?;
        }
    }
    let known = |e: &&crate::topology::NpuEntry| {
        e.bridge.is_some()
            || t.bridges
                .iter()
                .any(|b| b.dt_path.is_some() && b.dt_path == e.dt_path)
    };
    for e in g.npu.iter().flatten().filter(|e| !known(e)) {
        wln!(
            out,
            "    missing: {} (listed in ibm,npu, no NVLink bridge)",
            e.dt_path.as_deref().unwrap_or("a phandle naming no node")
        )?;
    }
    if g.gpu_links.is_empty() {
        wln!(out, "  GPU links: none")?;
    } else {
        wln!(out, "  GPU links:")?;
        for l in &g.gpu_links {
            wln!(
                out,
                "    {} {}  NV{}{}",
                gpu_label(t, l.peer),
                l.peer,
                l.count,
                if l.inferred {
                    "  (inferred from the Witherspoon wiring: no ibm,nvlink-peers)"
                } else {
                    ""
                }
            )?;
        }
    }
    for p in &g.problems {
        wln!(out, "  problem: {p}")?;
    }
    Ok(())
}

fn findings_and_notes<W: fmt::Write + ?Sized>(r: &Report, out: &mut W) -> fmt::Result {
    let count = |s| r.findings.iter().filter(|f| f.severity == s).count();
    if r.findings.is_empty() {
        // A host without NVLink2 gets its one sentence only.
        if r.topology.has_nvlink2() {
            wln!(out, "Findings: none")?;
        }
    } else {
        let (e, w, i) = (
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
        );
        wln!(
            out,
            "Findings: {e} error{}, {w} warning{}, {i} info",
            plural(e),
            plural(w)
        )?;
        for f in &r.findings {
            wln!(
                out,
                "  {:<7} {} {}: {}",
                f.severity.as_str(),
                f.code,
                f.subject,
                f.message
            )?;
        }
    }
    if !r.topology.notes.is_empty() {
        wln!(out, "Notes:")?;
        for n in &r.topology.notes {
            wln!(out, "  {n}")?;
        }
    }
    Ok(())
}
