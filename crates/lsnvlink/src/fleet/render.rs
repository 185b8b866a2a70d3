//! The fleet as aligned text ([`write_text`]: one line per host, then the summary) or JSON
//! lines (`write_json_lines`, feature `json`: one object per host, `"kind": "host"`, then one
//! `"kind": "summary"` object), written to any [`std::io::Write`]. JSON keys are a contract
//! ([`JSON_SCHEMA_VERSION`]): keys may be added, never renamed.

use std::fmt::{self, Write as _};
use std::io;

use super::{Fleet, Host, Shape};

/// The version of the JSON lines' layout.
pub const JSON_SCHEMA_VERSION: u32 = 1;

fn findings_text(h: &Host) -> String {
    if h.error.is_some() {
        return "unreadable (see below)".to_owned();
    }
    if h.shape.findings.is_empty() {
        return "ok".to_owned();
    }
    h.shape
        .findings
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

fn gpus_text(s: &Shape) -> String {
    if s.gpus == s.nvlink2_gpus {
        s.gpus.to_string()
    } else {
        format!(
            "{}+{} PCIe",
            s.nvlink2_gpus,
            s.gpus - s.nvlink2_gpus.min(s.gpus)
        )
    }
}

/// Writes one line per host (`HOST MODEL GPUS CPU-LINKS GPU-LINKS FINDINGS SOURCE`, columns
/// padded), then a summary: how many hosts, the majority, each host that differs and why,
/// unreadable inputs.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn write_text<W: io::Write + ?Sized>(out: &mut W, fleet: &Fleet) -> io::Result<()> {
    crate::render::escape::write_terminal_safe(out, |out| text_raw(out, fleet))
}

fn text_raw<W: fmt::Write + ?Sized>(out: &mut W, fleet: &Fleet) -> fmt::Result {
    let header = [
        "HOST",
        "MODEL",
        "GPUS",
        "CPU-LINKS",
        "GPU-LINKS",
        "FINDINGS",
    ];
    let rows: Vec<[String; 7]> = fleet
        .hosts
        .iter()
        .map(|h| {
            let s = &h.shape;
            let readable = h.error.is_none();
            let num = |v: String| if readable { v } else { "-".to_owned() };
            // Cells from the host (its name, model, source path) are escaped before their
            // width is measured: a newline in a host name cannot start a line of its own.
            let esc = |v: String| crate::render::escape::esc(&v).into_owned();
            [
                esc(h.name()),
                esc(s.model.clone().unwrap_or_else(|| "-".to_owned())),
                num(gpus_text(s)),
                num(s.cpu_links.to_string()),
                num(s.gpu_links.to_string()),
                esc(findings_text(h)),
                esc(h.source.display().to_string()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Each line is padded in a buffer, then trimmed of the padding after its last cell.
    let mut line = String::new();
    let mut pad = |out: &mut W, cells: &[&str]| -> fmt::Result {
        line.clear();
        for (i, cell) in cells.iter().enumerate() {
            match widths.get(i) {
                Some(w) => write!(line, "{cell:<w$}  ")?,
                None => line.push_str(cell),
            }
        }
        out.write_str(line.trim_end())?;
        out.write_char('\n')
    };
    pad(
        out,
        &[
            header[0], header[1], header[2], header[3], header[4], header[5], "SOURCE",
        ],
    )?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        pad(out, &cells)?;
    }
    out.write_char('\n')?;
    let readable = fleet.hosts.len() - fleet.unreadable().count();
    wln!(
        out,
        "{} host{} ({readable} read), {} with error findings.",
        fleet.hosts.len(),
        if fleet.hosts.len() == 1 { "" } else { "s" },
        fleet.with_errors()
    )?;
    if let Some((shape, n)) = &fleet.majority {
        wln!(
            out,
            "Majority ({n} of {readable}): {}, {} GPUs, {} CPU links, {} GPU links, {}.",
            shape.model.as_deref().unwrap_or("no model"),
            gpus_text(shape),
            shape.cpu_links,
            shape.gpu_links,
            if shape.findings.is_empty() {
                "no findings".to_owned()
            } else {
                format!(
                    "findings {}",
                    shape
                        .findings
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )?;
    }
    let differing = fleet.differing();
    if fleet.majority.is_none() {
        if readable > 1 {
            out.write_str(
                "No majority: no shape (model, GPUs, links, findings) is shared by more hosts \
                 than any other.\n",
            )?;
        }
    } else if differing.is_empty() {
        out.write_str("Every readable host matches the majority.\n")?;
    } else {
        wln!(out, "Differ from the majority ({}):", differing.len())?;
        for (h, d) in &differing {
            wln!(
                out,
                "  {} ({}): {}",
                h.name(),
                h.source.display(),
                d.join("; ")
            )?;
        }
    }
    let unreadable: Vec<&Host> = fleet.unreadable().collect();
    if !unreadable.is_empty() {
        wln!(out, "Unreadable ({}):", unreadable.len())?;
        for h in unreadable {
            let source = h.source.display().to_string();
            let e = h.error.as_deref().unwrap_or("");
            if e.contains(&source) {
                wln!(out, "  {e}")?;
            } else {
                wln!(out, "  {source}: {e}")?;
            }
        }
    }
    Ok(())
}

#[cfg(feature = "json")]
#[derive(serde::Serialize)]
struct HostJ<'a> {
    kind: &'static str,
    schema_version: u32,
    host: String,
    source: String,
    hostname: Option<&'a str>,
    model: Option<&'a str>,
    gpus: usize,
    nvlink2_gpus: usize,
    cpu_links: usize,
    gpu_links: u64,
    wiring: Option<&'static str>,
    errors: usize,
    warnings: usize,
    infos: usize,
    findings: Vec<&'a str>,
    /// Null when the fleet has no majority (no shape shared by two hosts and more than any
    /// other).
    matches_majority: Option<bool>,
    differences: Vec<String>,
    error: Option<&'a str>,
}

#[cfg(feature = "json")]
#[derive(serde::Serialize)]
struct MajorityJ<'a> {
    hosts: usize,
    model: Option<&'a str>,
    gpus: usize,
    nvlink2_gpus: usize,
    cpu_links: usize,
    gpu_links: u64,
    wiring: Option<&'static str>,
    findings: Vec<&'a str>,
}

#[cfg(feature = "json")]
#[derive(serde::Serialize)]
struct SummaryJ<'a> {
    kind: &'static str,
    schema_version: u32,
    hosts: usize,
    unreadable: usize,
    with_errors: usize,
    majority: Option<MajorityJ<'a>>,
    differing: Vec<String>,
}

/// Writes one JSON object per line: every host (`"kind": "host"`), then the summary
/// (`"kind": "summary"`). Feature `json`.
#[cfg(feature = "json")]
pub fn write_json_lines<W: io::Write + ?Sized>(out: &mut W, fleet: &Fleet) -> io::Result<()> {
    let differing = fleet.differing();
    for h in &fleet.hosts {
        let diff = differing
            .iter()
            .find(|(d, _)| std::ptr::eq(*d, h))
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        let s = &h.shape;
        let j = HostJ {
            kind: "host",
            schema_version: JSON_SCHEMA_VERSION,
            host: h.name(),
            source: h.source.display().to_string(),
            hostname: h.hostname.as_deref(),
            model: s.model.as_deref(),
            gpus: s.gpus,
            nvlink2_gpus: s.nvlink2_gpus,
            cpu_links: s.cpu_links,
            gpu_links: s.gpu_links,
            wiring: s.wiring,
            errors: h.errors,
            warnings: h.warnings,
            infos: h.infos,
            findings: s.findings.iter().map(String::as_str).collect(),
            matches_majority: fleet
                .majority
                .is_some()
                .then(|| h.error.is_none() && diff.is_empty()),
            differences: diff,
            error: h.error.as_deref(),
        };
        serde_json::to_writer(&mut *out, &j)?;
        out.write_all(b"\n")?;
    }
    let summary = SummaryJ {
        kind: "summary",
        schema_version: JSON_SCHEMA_VERSION,
        hosts: fleet.hosts.len(),
        unreadable: fleet.unreadable().count(),
        with_errors: fleet.with_errors(),
        majority: fleet.majority.as_ref().map(|(s, n)| MajorityJ {
            hosts: *n,
            model: s.model.as_deref(),
            gpus: s.gpus,
            nvlink2_gpus: s.nvlink2_gpus,
            cpu_links: s.cpu_links,
            gpu_links: s.gpu_links,
            wiring: s.wiring,
            findings: s.findings.iter().map(String::as_str).collect(),
        }),
        differing: differing
            .iter()
            .map(|(h, _)| h.source.display().to_string())
            .collect(),
    };
    serde_json::to_writer(&mut *out, &summary)?;
    out.write_all(b"\n")
}
