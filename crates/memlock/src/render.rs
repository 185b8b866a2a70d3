//! Text ([`write_text`]) and JSON (`write_json`) of a [`Budget`], written to any
//! [`std::io::Write`]; [`text`] and `json` give them as a `String`. Renderers never read
//! files. The JSON renderer is behind the `json` feature (on by default).

use std::fmt;
use std::io;

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

/// Writes the budget as text: the guest, its PHBs and devices, each term, the limit, the
/// layout.
///
/// Control characters from the guest or the host (in names, paths, messages) are shown as
/// escapes (`\x1b`, `\n`): each line is written escaped, and the whole text keeps only its
/// own line feeds and tabs.
pub fn write_text<W: io::Write + ?Sized>(out: &mut W, b: &Budget) -> io::Result<()> {
    crate::escape::write_terminal_safe(out, |out| text_raw(out, b))
}

/// [`write_text`] as a `String`.
pub fn text(b: &Budget) -> String {
    pci::render::to_string(|out| write_text(out, b))
}

fn text_raw<W: fmt::Write + ?Sized>(out: &mut W, b: &Budget) -> fmt::Result {
    let g = &b.guest;
    wln!(
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
    )?;
    write!(out, "memory {} KiB", g.memory_kib)?;
    if let Some(m) = g.max_memory_kib {
        write!(out, ", maxMemory {m} KiB")?;
    }
    if let Some(c) = g.current_memory_kib {
        write!(out, ", currentMemory {c} KiB (never used)")?;
    }
    out.write_char('\n')?;
    let path = if b.ppc64_path {
        "ppc64 formula"
    } else {
        "generic path"
    };
    wln!(out, "path: {path}")?;

    if !b.phbs.is_empty() {
        if b.ppc64_path {
            out.write_char('\n')?;
            wln!(out, "PHBs counted: {}", b.phb_count)?;
        } else {
            out.write_char('\n')?;
            wln!(out, "PHBs (the generic path does not count them):")?;
        }
        for p in &b.phbs {
            let devices: Vec<String> = p.hostdevs.iter().map(ToString::to_string).collect();
            wln!(
                out,
                "  PHB {} ({}, vPHB {}{}){}{}",
                p.index,
                origin(p.origin),
                p.vphb,
                if p.counted { "" } else { ", not counted" },
                if devices.is_empty() { "" } else { ": " },
                devices.join(" ")
            )?;
        }
    } else if b.ppc64_path {
        out.write_char('\n')?;
        wln!(out, "PHBs counted: {}", b.phb_count)?;
    }

    if !b.hostdevs.is_empty() {
        out.write_char('\n')?;
        wln!(out, "assigned PCI devices:")?;
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
            wln!(out, "  {}  {group}  {}", h.address, tags.join(", "))?;
        }
    }
    out.write_char('\n')?;
    wln!(
        out,
        "NVLink2 branch: {}",
        if b.nv2_bridges.is_empty() {
            "no (no assigned device passes libvirt's NV2-bridge test)".to_owned()
        } else {
            let list: Vec<String> = b.nv2_bridges.iter().map(ToString::to_string).collect();
            format!("yes ({})", list.join(" "))
        }
    )?;

    out.write_char('\n')?;
    wln!(out, "terms (KiB):")?;
    let row =
        |out: &mut W, name: &str, what: &str, v: u64| wln!(out, "  {name:<13} {what:<44} {v:>15}");
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
            row(out, "hash table", "maxMemory / 128", hash_table)?;
            row(
                out,
                "PHB windows",
                &format!("4 MiB x {}", plural(phbs, "PHB")),
                phb_windows,
            )?;
            row(out, "fixed", "8 MiB", base_fixed)?;
            row(out, "base", "", base)?;
            match passthrough {
                Passthrough::None => row(out, "passthrough", "none (no VFIO device)", 0)?,
                Passthrough::Nvlink2 { total, .. } => row(
                    out,
                    "passthrough",
                    &format!(
                        "NVLink2: maxMemory + 256 GiB x {} + 8 MiB",
                        plural(phbs, "PHB")
                    ),
                    total,
                )?,
                Passthrough::Vfio {
                    dma_floor,
                    ddw,
                    total,
                    ..
                } => {
                    row(
                        out,
                        "passthrough",
                        &format!("VFIO: max({dma_floor}, {ddw})"),
                        total,
                    )?;
                    row(
                        out,
                        "",
                        &format!("memory + memory/512 x {} + 8 MiB", plural(phbs, "PHB")),
                        ddw,
                    )?;
                }
            }
            row(out, "total", "", total)?;
        }
        Terms::Generic {
            factor,
            guest_ram,
            fixed,
            total,
        } => {
            row(
                out,
                "guest RAM",
                &format!("{factor} x memory (device factor)"),
                guest_ram,
            )?;
            row(out, "fixed", "1 GiB (when the factor is not 0)", fixed)?;
            row(out, "total", "", total)?;
        }
    }

    let c = &b.computation;
    out.write_char('\n')?;
    match c.limit {
        Limit::Bytes(bytes) => {
            wln!(
                out,
                "limit: {bytes} bytes ({} GiB), branch {}",
                gib(bytes),
                c.branch.as_str()
            )?;
        }
        Limit::Unlimited => {
            wln!(out, "limit: unlimited, branch {}", c.branch.as_str())?;
        }
    }
    if let (Some(covers), Some(hard)) = (c.hard_limit_covers(), c.limit_bytes()) {
        let verdict = if covers { "covers" } else { "is BELOW" };
        wln!(
            out,
            "hard_limit {hard} bytes {verdict} the formula's {} bytes ({} GiB)",
            c.formula_bytes,
            gib(c.formula_bytes)
        )?;
    }

    if let Some(xml) = hard_limit_xml(b) {
        wln!(
            out,
            "to pin it in the domain (virsh edit; it also caps the guest's whole memory use): {xml}"
        )?;
    }

    if let Some(layout) = &b.layout
        && !layout.vphbs.is_empty()
    {
        out.write_char('\n')?;
        wln!(out, "guest layout (QEMU 4.1 to 8.1):")?;
        for v in &layout.vphbs {
            wln!(
                out,
                "  vPHB {}: GPU RAM window {}, ATSD window {}",
                v.vphb,
                hex(v.ram_window),
                hex(v.atsd_window)
            )?;
            for gpu in &v.gpus {
                let links: Vec<String> = gpu.links.iter().map(ToString::to_string).collect();
                wln!(
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
                )?;
            }
            for a in &v.atsd {
                wln!(
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
                )?;
            }
        }
    }

    if !b.warnings.is_empty() {
        out.write_char('\n')?;
        wln!(out, "warnings:")?;
        for w in &b.warnings {
            wln!(out, "  - {w}")?;
        }
    }
    Ok(())
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

/// Writes the budget as JSON (sorted keys, pretty-printed, a trailing newline).
#[cfg(feature = "json")]
pub fn write_json<W: io::Write + ?Sized>(out: &mut W, b: &Budget) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &json::Doc::new(b))?;
    out.write_all(b"\n")
}

/// [`write_json`] as a `String`.
#[cfg(feature = "json")]
pub fn json(b: &Budget) -> String {
    pci::render::to_string(|out| write_json(out, b))
}

/// The JSON document: typed structs whose keys are in sorted order, as schema version 1 has
/// always written them.
#[cfg(feature = "json")]
mod json {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::super::formula::Limit;
    use super::super::size::gib;
    use super::super::{Budget, Guest, layout};
    use super::{SCHEMA_VERSION, hard_limit_xml, hex, origin};

    #[derive(Serialize)]
    pub(super) struct Doc<'a> {
        branch: &'static str,
        formula_bytes: u64,
        generic_factor: Option<u64>,
        guest: GuestJ<'a>,
        hard_limit_covers: Option<bool>,
        hard_limit_xml: Option<String>,
        hostdevs: Vec<HostdevJ>,
        layout: Option<Vec<VphbJ>>,
        libvirt: String,
        limit_bytes: Option<u64>,
        limit_gib: Option<String>,
        nv2_bridges: Vec<String>,
        path: &'static str,
        phb_list: Vec<PhbJ<'a>>,
        phbs: u64,
        schema_version: u32,
        terms_kib: BTreeMap<&'static str, u64>,
        unlimited: bool,
        warnings: &'a [String],
    }

    #[derive(Serialize)]
    struct GuestJ<'a> {
        arch: &'a str,
        current_memory_kib: Option<u64>,
        domain_type: &'a str,
        hard_limit_kib: Option<u64>,
        locked: bool,
        machine: Option<&'a str>,
        max_memory_kib: Option<u64>,
        mdevs: u64,
        memory_kib: u64,
        name: Option<&'a str>,
        nvme_disks: u64,
        vdpa_nets: u64,
        viommu: bool,
    }

    #[derive(Serialize)]
    struct HostdevJ {
        address: String,
        guest_bus: Option<u32>,
        iommu_group: Option<u32>,
        nv2_bridge: bool,
        vfio: bool,
    }

    #[derive(Serialize)]
    struct VphbJ {
        atsd: Vec<AtsdJ>,
        atsd_window: String,
        gpus: Vec<GpuJ>,
        ram_window: String,
        vphb: u32,
    }

    #[derive(Serialize)]
    struct AtsdJ {
        bridge: String,
        fallback: bool,
        gpa: String,
        host_register: String,
    }

    #[derive(Serialize)]
    struct GpuJ {
        address: String,
        gpa: String,
        links: Vec<String>,
        numa_node: u64,
        size_bytes: u64,
    }

    #[derive(Serialize)]
    struct PhbJ<'a> {
        counted: bool,
        hostdevs: Vec<String>,
        index: u32,
        origin: &'a str,
        vphb: u32,
    }

    fn guest(g: &Guest) -> GuestJ<'_> {
        GuestJ {
            arch: &g.arch,
            current_memory_kib: g.current_memory_kib,
            domain_type: &g.virt_type,
            hard_limit_kib: g.hard_limit_kib,
            locked: g.locked,
            machine: g.machine.as_deref(),
            max_memory_kib: g.max_memory_kib,
            mdevs: g.mdevs,
            memory_kib: g.memory_kib,
            name: g.name.as_deref(),
            nvme_disks: g.nvme_disks,
            vdpa_nets: g.vdpa_nets,
            viommu: g.viommu,
        }
    }

    fn vphb(v: &layout::VphbLayout) -> VphbJ {
        VphbJ {
            atsd: v
                .atsd
                .iter()
                .map(|a| AtsdJ {
                    bridge: a.bridge.to_string(),
                    fallback: a.fallback,
                    gpa: hex(a.gpa),
                    host_register: hex(a.host_register),
                })
                .collect(),
            atsd_window: hex(v.atsd_window),
            gpus: v
                .gpus
                .iter()
                .map(|gpu| GpuJ {
                    address: gpu.address.to_string(),
                    gpa: hex(gpu.gpa),
                    links: gpu.links.iter().map(ToString::to_string).collect(),
                    numa_node: gpu.numa_node,
                    size_bytes: gpu.size,
                })
                .collect(),
            ram_window: hex(v.ram_window),
            vphb: v.vphb,
        }
    }

    impl Doc<'_> {
        pub(super) fn new(b: &Budget) -> Doc<'_> {
            let c = &b.computation;
            let g = &b.guest;
            let mut terms = c.terms.by_name();
            if let Some(h) = c.hard_limit_covers().and(g.hard_limit_kib) {
                terms.insert("hard_limit", h);
            }
            Doc {
                branch: c.branch.as_str(),
                formula_bytes: c.formula_bytes,
                generic_factor: b.generic_factor,
                guest: guest(g),
                hard_limit_covers: c.hard_limit_covers(),
                hard_limit_xml: hard_limit_xml(b),
                hostdevs: b
                    .hostdevs
                    .iter()
                    .map(|h| HostdevJ {
                        address: h.address.to_string(),
                        guest_bus: h.guest_bus,
                        iommu_group: h.iommu_group,
                        nv2_bridge: h.nv2_bridge,
                        vfio: h.counted,
                    })
                    .collect(),
                layout: b
                    .layout
                    .as_ref()
                    .map(|l| l.vphbs.iter().map(vphb).collect()),
                libvirt: b.release.to_string(),
                limit_bytes: c.limit_bytes(),
                limit_gib: c.limit_bytes().map(gib),
                nv2_bridges: b.nv2_bridges.iter().map(ToString::to_string).collect(),
                path: if b.ppc64_path { "ppc64" } else { "generic" },
                phb_list: b
                    .phbs
                    .iter()
                    .map(|p| PhbJ {
                        counted: p.counted,
                        hostdevs: p.hostdevs.iter().map(ToString::to_string).collect(),
                        index: p.index,
                        origin: origin(p.origin),
                        vphb: p.vphb,
                    })
                    .collect(),
                phbs: b.phb_count,
                schema_version: SCHEMA_VERSION,
                terms_kib: terms,
                unlimited: c.limit == Limit::Unlimited,
                warnings: &b.warnings,
            }
        }
    }
}
