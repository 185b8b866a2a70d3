//! Text and JSON of a [`Budget`]. Renderers never read files. The JSON renderer is behind the
//! `json` feature (on by default).

use std::fmt::Write as _;

#[cfg(feature = "json")]
use serde_json::{Value, json};

use super::formula::{Limit, Passthrough, Terms};
use super::size::gib;
use super::{Budget, PhbOrigin};

/// Version of the JSON layout; the keys named in issue 7 (`limit_bytes`, `unlimited`,
/// `branch`, `phbs`, `nv2_bridges`, `terms_kib`) are kept in every version.
pub const SCHEMA_VERSION: u32 = 1;

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn origin(o: PhbOrigin) -> &'static str {
    match o {
        PhbOrigin::Default => "default",
        PhbOrigin::Declared => "declared",
        PhbOrigin::Isolation => "isolation",
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The budget as text: the guest, its PHBs and devices, each term, the limit, the layout.
///
/// Control characters from the guest or the host (in names, paths, messages) are shown as
/// escapes (`\x1b`, `\n`): each line is written escaped, and the whole text keeps only its
/// own line feeds and tabs.
pub fn text(b: &Budget) -> String {
    crate::escape::terminal_safe(text_raw(b))
}

fn text_raw(b: &Budget) -> String {
    let mut out = String::new();
    let g = &b.guest;
    let _ = wln!(
        out,
        "memlock budget, libvirt {}: {} {} guest{}{}",
        b.release,
        g.arch,
        g.virt_type,
        g.machine
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default(),
        g.name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default(),
    );
    let _ = write!(out, "memory {} KiB", g.memory_kib);
    if let Some(m) = g.max_memory_kib {
        let _ = write!(out, ", maxMemory {m} KiB");
    }
    if let Some(c) = g.current_memory_kib {
        let _ = write!(out, ", currentMemory {c} KiB (never used)");
    }
    out.push('\n');
    let path = if b.ppc64_path {
        "ppc64 formula"
    } else {
        "generic path"
    };
    let _ = wln!(out, "path: {path}");

    if !b.phbs.is_empty() {
        if b.ppc64_path {
            out.push('\n');
            let _ = wln!(out, "PHBs counted: {}", b.phb_count);
        } else {
            out.push('\n');
            let _ = wln!(out, "PHBs (the generic path does not count them):");
        }
        for p in &b.phbs {
            let devices: Vec<String> = p.hostdevs.iter().map(ToString::to_string).collect();
            let _ = wln!(
                out,
                "  PHB {} ({}, vPHB {}{}){}{}",
                p.index,
                origin(p.origin),
                p.vphb,
                if p.counted { "" } else { ", not counted" },
                if devices.is_empty() { "" } else { ": " },
                devices.join(" ")
            );
        }
    } else if b.ppc64_path {
        out.push('\n');
        let _ = wln!(out, "PHBs counted: {}", b.phb_count);
    }

    if !b.hostdevs.is_empty() {
        out.push('\n');
        let _ = wln!(out, "assigned PCI devices:");
        for h in &b.hostdevs {
            let group = h.iommu_group.map_or_else(
                || "IOMMU group ?".to_owned(),
                |g| format!("IOMMU group {g}"),
            );
            let mut tags = Vec::new();
            tags.push(if h.counted { "VFIO" } else { "not VFIO" });
            if h.nv2_bridge {
                tags.push("NV2 bridge");
            }
            let _ = wln!(out, "  {}  {group}  {}", h.address, tags.join(", "));
        }
    }
    out.push('\n');
    let _ = wln!(
        out,
        "NVLink2 branch: {}",
        if b.nv2_bridges.is_empty() {
            "no (no assigned device passes libvirt's NV2-bridge test)".to_owned()
        } else {
            let list: Vec<String> = b.nv2_bridges.iter().map(ToString::to_string).collect();
            format!("yes ({})", list.join(" "))
        }
    );

    out.push('\n');
    let _ = wln!(out, "terms (KiB):");
    let row = |out: &mut String, name: &str, what: &str, v: u64| {
        let _ = wln!(out, "  {name:<13} {what:<44} {v:>15}");
    };
    match b.computation.terms {
        Terms::Ppc64 {
            phbs,
            hash_table,
            phb_windows,
            base_fixed,
            base,
            passthrough,
            total,
            ..
        } => {
            row(&mut out, "hash table", "maxMemory / 128", hash_table);
            row(
                &mut out,
                "PHB windows",
                &format!("4 MiB x {}", plural(phbs, "PHB")),
                phb_windows,
            );
            row(&mut out, "fixed", "8 MiB", base_fixed);
            row(&mut out, "base", "", base);
            match passthrough {
                Passthrough::None => row(&mut out, "passthrough", "none (no VFIO device)", 0),
                Passthrough::Nvlink2 { total, .. } => row(
                    &mut out,
                    "passthrough",
                    &format!(
                        "NVLink2: maxMemory + 256 GiB x {} + 8 MiB",
                        plural(phbs, "PHB")
                    ),
                    total,
                ),
                Passthrough::Vfio {
                    dma_floor,
                    ddw,
                    total,
                    ..
                } => {
                    row(
                        &mut out,
                        "passthrough",
                        &format!("VFIO: max({dma_floor}, {ddw})"),
                        total,
                    );
                    row(
                        &mut out,
                        "",
                        &format!("memory + memory/512 x {} + 8 MiB", plural(phbs, "PHB")),
                        ddw,
                    );
                }
            }
            row(&mut out, "total", "", total);
        }
        Terms::Generic {
            factor,
            guest_ram,
            fixed,
            total,
        } => {
            row(
                &mut out,
                "guest RAM",
                &format!("{factor} x memory (device factor)"),
                guest_ram,
            );
            row(&mut out, "fixed", "1 GiB (when the factor is not 0)", fixed);
            row(&mut out, "total", "", total);
        }
    }

    let c = &b.computation;
    out.push('\n');
    match c.limit {
        Limit::Bytes(bytes) => {
            let _ = wln!(
                out,
                "limit: {bytes} bytes ({} GiB), branch {}",
                gib(bytes),
                c.branch.as_str()
            );
        }
        Limit::Unlimited => {
            let _ = wln!(out, "limit: unlimited, branch {}", c.branch.as_str());
        }
    }
    if let (Some(covers), Some(hard)) = (c.hard_limit_covers(), c.limit_bytes()) {
        let verdict = if covers { "covers" } else { "is BELOW" };
        let _ = wln!(
            out,
            "hard_limit {hard} bytes {verdict} the formula's {} bytes ({} GiB)",
            c.formula_bytes,
            gib(c.formula_bytes)
        );
    }

    if let Some(xml) = hard_limit_xml(b) {
        let _ = wln!(
            out,
            "to pin it in the domain (virsh edit; it also caps the guest's whole memory use): {xml}"
        );
    }

    if let Some(layout) = &b.layout
        && !layout.vphbs.is_empty()
    {
        out.push('\n');
        let _ = wln!(out, "guest layout (QEMU 4.1 to 8.1):");
        for v in &layout.vphbs {
            let _ = wln!(
                out,
                "  vPHB {}: GPU RAM window {}, ATSD window {}",
                v.vphb,
                hex(v.ram_window),
                hex(v.atsd_window)
            );
            for gpu in &v.gpus {
                let links: Vec<String> = gpu.links.iter().map(ToString::to_string).collect();
                let _ = wln!(
                    out,
                    "    GPU {} RAM {}-{} ({} GiB), guest NUMA node {}, links {}",
                    gpu.address,
                    hex(gpu.gpa),
                    hex(gpu.gpa.saturating_add(gpu.size).saturating_sub(1)),
                    gib(gpu.size),
                    gpu.numa_node,
                    if links.is_empty() {
                        "none".to_owned()
                    } else {
                        links.join(" ")
                    }
                );
            }
            for a in &v.atsd {
                let _ = wln!(
                    out,
                    "    ATSD {} at {} (host register {}{})",
                    a.bridge,
                    hex(a.gpa),
                    hex(a.host_register),
                    if a.fallback {
                        ", ibm,mmio-atsd[0]: the kernel's 5.7+ fallback"
                    } else {
                        ""
                    }
                );
            }
        }
    }

    if !b.warnings.is_empty() {
        out.push('\n');
        let _ = wln!(out, "warnings:");
        for w in &b.warnings {
            let _ = wln!(out, "  - {w}");
        }
    }
    out
}

/// A `<memtune>` element that sets the formula's limit as `hard_limit` (KiB, rounded up as
/// libvirt stores sizes), ready to paste; `None` when the formula gives no limit (`<locked/>`).
pub fn hard_limit_xml(b: &Budget) -> Option<String> {
    let c = &b.computation;
    // No limit (`<locked/>`), or 0 (the generic path without passthrough: libvirt leaves the
    // limit alone): nothing to pin.
    if (c.limit_bytes().is_none() && c.hard_limit_covers().is_none()) || c.formula_bytes == 0 {
        return None;
    }
    let kib = c.formula_bytes.div_ceil(1024);
    Some(format!(
        "<memtune><hard_limit unit='KiB'>{kib}</hard_limit></memtune>"
    ))
}

/// The budget as JSON (sorted keys, a trailing newline).
#[cfg(feature = "json")]
pub fn json(b: &Budget) -> String {
    let c = &b.computation;
    let g = &b.guest;
    let mut terms: serde_json::Map<String, Value> = c
        .terms
        .by_name()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    if let Some(h) = c.hard_limit_covers().and(g.hard_limit_kib) {
        terms.insert("hard_limit".to_owned(), json!(h));
    }
    let layout = b.layout.as_ref().map(|l| {
        l.vphbs
            .iter()
            .map(|v| {
                json!({
                    "atsd": v.atsd.iter().map(|a| json!({
                        "bridge": a.bridge.to_string(),
                        "fallback": a.fallback,
                        "gpa": hex(a.gpa),
                        "host_register": hex(a.host_register),
                    })).collect::<Vec<_>>(),
                    "atsd_window": hex(v.atsd_window),
                    "gpus": v.gpus.iter().map(|gpu| json!({
                        "address": gpu.address.to_string(),
                        "gpa": hex(gpu.gpa),
                        "links": gpu.links.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "numa_node": gpu.numa_node,
                        "size_bytes": gpu.size,
                    })).collect::<Vec<_>>(),
                    "ram_window": hex(v.ram_window),
                    "vphb": v.vphb,
                })
            })
            .collect::<Vec<_>>()
    });
    let value = json!({
        "branch": c.branch.as_str(),
        "formula_bytes": c.formula_bytes,
        "generic_factor": b.generic_factor,
        "guest": {
            "arch": g.arch,
            "current_memory_kib": g.current_memory_kib,
            "domain_type": g.virt_type,
            "hard_limit_kib": g.hard_limit_kib,
            "locked": g.locked,
            "machine": g.machine,
            "max_memory_kib": g.max_memory_kib,
            "mdevs": g.mdevs,
            "memory_kib": g.memory_kib,
            "name": g.name,
            "nvme_disks": g.nvme_disks,
            "vdpa_nets": g.vdpa_nets,
            "viommu": g.viommu,
        },
        "hard_limit_covers": c.hard_limit_covers(),
        "hard_limit_xml": hard_limit_xml(b),
        "hostdevs": b.hostdevs.iter().map(|h| json!({
            "address": h.address.to_string(),
            "guest_bus": h.guest_bus,
            "iommu_group": h.iommu_group,
            "nv2_bridge": h.nv2_bridge,
            "vfio": h.counted,
        })).collect::<Vec<_>>(),
        "layout": layout,
        "libvirt": b.release.to_string(),
        "limit_bytes": c.limit_bytes(),
        "limit_gib": c.limit_bytes().map(gib),
        "nv2_bridges": b.nv2_bridges.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "path": if b.ppc64_path { "ppc64" } else { "generic" },
        "phb_list": b.phbs.iter().map(|p| json!({
            "counted": p.counted,
            "hostdevs": p.hostdevs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "index": p.index,
            "origin": origin(p.origin),
            "vphb": p.vphb,
        })).collect::<Vec<_>>(),
        "phbs": b.phb_count,
        "schema_version": SCHEMA_VERSION,
        "terms_kib": terms,
        "unlimited": c.limit == Limit::Unlimited,
        "warnings": b.warnings,
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}
