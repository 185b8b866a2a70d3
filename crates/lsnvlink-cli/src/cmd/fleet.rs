//! `lsnvlink fleet DIR|FILE…`: many captures (or copied roots) read in parallel, one line per
//! host and the hosts that differ from the majority; JSON lines with `--format json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use lsnvlink::fleet::{self, Fleet};

/// Output formats of the fleet view.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FleetFormat {
    /// One aligned line per host, then the summary.
    #[default]
    Text,
    /// One JSON object per line: each host, then the summary.
    Json,
}

/// Options of `lsnvlink fleet`.
#[derive(clap::Args, Debug, Clone)]
pub struct FleetArgs {
    /// Capture archives, copied roots, or directories holding them (one level deep).
    #[arg(required = true, value_name = "DIR|FILE")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,
    /// Threads reading captures (default: one per CPU; at most 256).
    #[arg(long, short = 'j', value_name = "N", value_parser = jobs)]
    pub jobs: Option<usize>,
    /// Write to FILE instead of standard output, atomically (`-`: standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Most reader threads: each holds one capture (up to the replay limits) in memory.
pub const MAX_JOBS: usize = 256;

fn jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!("a number of threads from 1 to {MAX_JOBS}")),
    }
}

/// What `lsnvlink fleet --help` says about exit codes.
pub const FLEET_EXIT_CODES: &str = "\
Exit codes:
  0  every input was read and no host has an error finding
  1  every input was read and at least one host has an error finding
  2  bad usage, or at least one input could not be read (it is listed)

Examples:
  lsnvlink fleet /srv/captures/                 one line per host, then the odd ones out
  lsnvlink fleet --format json rack1/*.tar.gz   JSON lines for jq or a log pipeline";

/// Reads the fleet and writes it.
pub fn run(args: &FleetArgs) -> anyhow::Result<ExitCode> {
    let mut inputs = Vec::new();
    for p in &args.inputs {
        let found = fleet::expand(p).with_context(|| format!("cannot read {}", p.display()))?;
        if found.is_empty() {
            bail!(
                "{}: no capture archives ({}) or copied roots in it",
                p.display(),
                fleet::ARCHIVE_SUFFIXES.join(", ")
            );
        }
        inputs.extend(found);
    }
    inputs.sort();
    inputs.dedup();
    let fleet = match args.jobs {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .context("cannot start the reader threads")?
            .install(|| Fleet::read(&inputs)),
        None => Fleet::read(&inputs),
    };
    super::report::write_output(args.output.as_deref(), |out| match args.format {
        FleetFormat::Text => fleet::render::write_text(out, &fleet),
        FleetFormat::Json => fleet::render::write_json_lines(out, &fleet),
    })?;
    Ok(if fleet.unreadable().next().is_some() {
        ExitCode::from(2)
    } else if fleet.with_errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
