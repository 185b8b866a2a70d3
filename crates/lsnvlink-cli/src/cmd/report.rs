//! `lsnvlink` with no subcommand: the report of a host's NVLink2 topology and its audit
//! findings, as text, an nvidia-smi-style matrix, or JSON.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum as _;
use lsnvlink::audit::Report;
use lsnvlink::facts::HostFacts;
use lsnvlink::inputs::{hwloc, sosreport};
use lsnvlink::memlock::domain::{MAX_DOMAIN_XML_BYTES, parse_domain_bytes};
use lsnvlink::memlock::version::Release;
use lsnvlink::memlock::{FactsHost, budget};
use lsnvlink::render::prom::{self, MemlockNeed};
use lsnvlink::render::{dot, report as render};
use lsnvlink::topology::{Diagnostic, Topology, VENDOR_NVIDIA};
use pci::Names;

use super::source::SourceArgs;

/// Output formats of the report.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Host summary, each GPU with its memory and links, findings.
    #[default]
    Text,
    /// GPUs x GPUs as `nvidia-smi topo -m` draws it, with CPU-link and NUMA columns.
    Matrix,
    /// JSON with stable keys and a `schema_version`.
    Json,
    /// Prometheus text exposition for node_exporter's textfile collector.
    Prom,
    /// A Graphviz graph of chips, NPUs, bridges, GPUs, GPU memory and links (`dot -Tsvg`).
    Dot,
}

/// Options of the report (the top-level options of `lsnvlink`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to FILE instead of standard output, atomically (a temporary file in the same
    /// directory, then a rename: a collector never reads half a file). With --format prom, a
    /// run that cannot read the host still writes lsnvlink_last_run_success 0 there. `-` is
    /// standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read a sosreport (tarball or unpacked directory): the topology from its device tree
    /// alone; the notes say what is unknown without sysfs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "capture"])]
    pub sosreport: Option<PathBuf>,
    /// NUMA facts from an hwloc-gather-topology tarball: alone, its NUMA nodes and GPU memory
    /// nodes (text or json); with a host, checked against the host's GPU memory nodes.
    #[arg(long, value_name = "FILE")]
    pub hwloc: Option<PathBuf>,
    /// With --format prom: the memlock need of the guest this libvirt domain XML describes,
    /// as libvirt's newest rules compute it on this host (repeat for more guests).
    #[arg(long, value_name = "FILE.xml", conflicts_with = "sosreport")]
    pub memlock_domain: Vec<PathBuf>,
}

/// What `--help` says about exit codes (a contract for scripts).
pub const EXIT_CODES: &str = "\
Without a command, lsnvlink reports the NVLink2 topology of the host (the live system, or
--root DIR / --capture FILE): each GPU's links to its CPU and to other GPUs, its memory and
NUMA node, and the audit findings (docs/findings.md explains each and how to check it).

What it cannot see: whether an NVLink trained. A link that fails training keeps its bridge
function on the bus and its device-tree nodes; only the NVIDIA driver knows (`nvidia-smi nvlink
-s`). When a sosreport (--sosreport) holds that output, inactive links become link-inactive
findings.

Exit codes:
  0  the report was written and no finding is an error
  1  the report was written and at least one finding is an error
  2  bad usage, or the input (live system, --root, --capture) could not be read";

/// Names GPUs from the system's pci.ids when the built-in table does not know them (reading
/// pci.ids costs milliseconds; the V100 parts are built in).
fn rename_unknown_gpus(topology: &mut Topology) {
    let unknown = topology
        .gpus
        .iter()
        .any(|g| match (g.vendor_id, g.device_id) {
            (Some(v), Some(d)) => Names::builtin().device(v, d).is_none(),
            _ => false,
        });
    if !unknown {
        return;
    }
    let vendors: HashSet<u16> = [VENDOR_NVIDIA].into_iter().collect();
    if let Ok(names) = Names::load(None, &vendors) {
        topology.rename_gpus(&names);
    }
}

/// The memlock need of each guest (`<name>`, else the file's stem) on the host of `facts`.
fn memlock_needs(
    domains: &[PathBuf],
    facts: &HostFacts,
    topology: &Topology,
) -> anyhow::Result<Vec<MemlockNeed>> {
    let host = FactsHost::new(facts, Some(topology));
    let mut needs = Vec::new();
    for path in domains {
        let bytes = super::read_input(path, MAX_DOMAIN_XML_BYTES as u64)?;
        let guest = parse_domain_bytes(&bytes).with_context(|| path.display().to_string())?;
        let name = guest.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let hard_limit_bytes = guest.hard_limit_kib.and_then(|k| k.checked_mul(1024));
        let b = budget(guest, Release::Newest, &host)
            .with_context(|| format!("memlock of {}", path.display()))?;
        needs.push(MemlockNeed {
            guest: name,
            bytes: b.computation.formula_bytes,
            hard_limit_bytes,
        });
    }
    Ok(needs)
}

/// The end of a run as `lsnvlink_last_run_timestamp_seconds` gives it: `SOURCE_DATE_EPOCH`
/// when it holds whole seconds (reproducible output, as the reproducible-builds convention
/// uses it; the tests set it), else the system clock.
pub fn run_timestamp() -> u64 {
    let fixed = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    fixed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Runs the report; the exit code says whether any finding is an error. With `--format prom
/// -o FILE`, a run that fails (exit 2) still writes FILE: `lsnvlink_last_run_success 0` and
/// the timestamp, so that the collector does not keep the last good run's findings.
pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let result = report(args);
    if let (Err(_), Format::Prom, Some(path)) = (&result, args.format, &args.output) {
        let timestamp = run_timestamp();
        // The run's own error is what is reported; a file that cannot be written either (a
        // missing directory) changes nothing in it.
        let _ = write_output(Some(path), |out| prom::write_failed_run(out, timestamp));
    }
    result
}

/// The report itself (see [`run`]).
fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let numa = match &args.hwloc {
        Some(path) => Some(
            hwloc::read(path)
                .with_context(|| format!("reading hwloc capture {}", path.display()))?,
        ),
        None => None,
    };
    let alone =
        args.sosreport.is_none() && args.source.root.is_none() && args.source.capture.is_none();
    if let (Some(facts), true) = (&numa, alone) {
        let json = match args.format {
            Format::Text => false,
            Format::Json => true,
            other => anyhow::bail!(
                "--hwloc without a host gives text or json, not {}",
                other
                    .to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            ),
        };
        write_output(args.output.as_deref(), |out| {
            if json {
                hwloc::write_json(out, facts)
            } else {
                hwloc::write_text(out, facts)
            }
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.memlock_domain.is_empty() && args.format != Format::Prom {
        anyhow::bail!("--memlock-domain goes with --format prom (else use lsnvlink memlock)");
    }
    let (mut topology, facts) = match &args.sosreport {
        Some(path) => (
            sosreport::read(path, &Names::builtin())
                .with_context(|| format!("reading sosreport {}", path.display()))?,
            None,
        ),
        None => {
            let root = args.source.open()?;
            let facts =
                HostFacts::read(&root).with_context(|| format!("reading {}", root.origin()))?;
            (Topology::from_facts(&facts, &Names::builtin()), Some(facts))
        }
    };
    rename_unknown_gpus(&mut topology);
    if let Some(facts) = &numa {
        let checks = hwloc::cross_check(facts, &topology);
        topology.add_notes(checks.into_iter().map(Diagnostic::Input));
    }
    let report = Report::new(topology);
    let needs = match (&facts, args.format) {
        (Some(facts), Format::Prom) => {
            memlock_needs(&args.memlock_domain, facts, &report.topology)?
        }
        _ => Vec::new(),
    };
    write_output(args.output.as_deref(), |out| {
        match args.format {
            Format::Text => render::write_text(out, &report)?,
            Format::Matrix => render::write_matrix(out, &report)?,
            Format::Json => render::write_json(out, &report)?,
            Format::Prom => prom::write_prom(out, &report, &needs, run_timestamp())?,
            Format::Dot => dot::write_dot(out, &report)?,
        }
        if let (Some(facts), Format::Text) = (&numa, args.format) {
            out.write_all(b"\n")?;
            hwloc::write_text(out, facts)?;
        }
        Ok(())
    })?;
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `write` on standard output ([`super::with_stdout`]), or on a file that replaces
/// `path` atomically: a temporary file created in the same directory (so the rename stays
/// within one file system), written through a buffer, synced, then renamed over `path`. On any
/// error, the renderer's included, the temporary file is removed and `path` is left as it was.
/// `-` names standard output, as `-o -` does for other tools.
pub fn write_output<F>(path: Option<&Path>, write: F) -> anyhow::Result<()>
where
    F: FnOnce(&mut super::Out<'_>) -> std::io::Result<()>,
{
    let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
        return super::with_stdout(write).context("cannot write to standard output");
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    path.file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    // A short random name (O_EXCL), whatever the length of `path`'s own name: a name of up
    // to 255 bytes, the file system's limit, can be written.
    let mut tmp = tempfile::Builder::new()
        .prefix(".lsnvlink-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let written = {
        let mut buffered = super::Out::new(tmp.as_file_mut());
        write(&mut buffered).and_then(|()| buffered.flush())
    };
    written
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    // Textfile collectors and facts readers run as other users: 0644 like a plain file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("chmod {}", tmp.path().display()))?;
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(())
}
