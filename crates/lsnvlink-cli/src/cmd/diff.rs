//! `lsnvlink diff A B`: what differs between two hosts (captures, copied roots, or `/` for the
//! live system): topology, drivers, IOMMU groups, memory, firmware, kernel and findings.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use lsnvlink::audit::Report;
use lsnvlink::diff::{self, Side};

/// Output formats of `lsnvlink diff`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiffFormat {
    /// A header, then one line per difference.
    #[default]
    Text,
    /// One JSON document (`schema_version` 1).
    Json,
}

/// Options of `lsnvlink diff`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiffArgs {
    /// The first host: a capture archive, a copied root, or `/` for this host.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The second host, as A.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

/// What `lsnvlink diff --help` says after the options.
pub const DIFF_HELP: &str = "\
The host name is not compared (nodes that should be identical differ in it by design).

Exit codes:
  0  the hosts are alike
  1  they differ
  2  bad usage, or a host could not be read

Examples:
  lsnvlink diff node01.tar.gz node02.tar.gz   two nodes that should be identical
  lsnvlink diff last-month.tar.gz /           this host against its capture of last month";

fn read(path: &Path) -> anyhow::Result<Report> {
    let root = if path == Path::new("/") {
        fsroot::Root::live().with_limits(super::source::live_limits())
    } else {
        lsnvlink::capture::open_replay(path)
            .with_context(|| format!("cannot read {}", path.display()))?
    };
    Report::read(&root, &pci::Names::builtin())
        .with_context(|| format!("cannot read the PCI bus of {}", path.display()))
}

/// Reads both hosts and writes what differs.
pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (ra, rb) = (read(&args.a)?, read(&args.b)?);
    let changes = diff::diff(&ra, &rb);
    let (sa, sb) = (args.a.display().to_string(), args.b.display().to_string());
    let a = Side {
        source: &sa,
        hostname: ra.topology.platform.hostname.as_deref(),
    };
    let b = Side {
        source: &sb,
        hostname: rb.topology.platform.hostname.as_deref(),
    };
    super::with_stdout(|out| match args.format {
        DiffFormat::Text => diff::render::write_text(out, &a, &b, &changes),
        DiffFormat::Json => diff::render::write_json(out, &a, &b, &changes),
    })
    .context("cannot write to standard output")?;
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
