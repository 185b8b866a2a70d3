//! The `lsnvlink` command line: its definition ([`command`], what `cargo xtask dist` turns
//! into the man pages and shell completions) and [`main`], which parses it, runs the command
//! (one module per command under `cmd/`) and maps the result to the exit code.
//!
//! Exit codes (a contract for scripts): 0 success (the report: no error finding); 1 the report
//! (or `fleet`, `memlock`) found an error; 2 bad usage or unreadable input.
//!
//! Colour: clap colours help and usage errors only when standard error/output is a terminal,
//! never when `NO_COLOR` is set (and always with `CLICOLOR_FORCE`); nothing else is coloured.
//!
//! ```
//! let cmd = lsnvlink_cli::cli::command();
//! assert_eq!(cmd.get_name(), "lsnvlink");
//! assert!(cmd.get_subcommands().any(|s| s.get_name() == "fleet"));
//! ```

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::cmd;

/// Examples shown by `lsnvlink --help` (and in the man page).
pub const EXAMPLES: &str = "\
Examples:
  lsnvlink                                     report on this host
  lsnvlink --format matrix                     GPUs x GPUs, like nvidia-smi topo -m
  lsnvlink --capture host.tar.gz --format json replay a capture (lsnvlink capture -o host.tar.gz)
  lsnvlink --format prom -o /var/lib/node_exporter/textfile_collector/lsnvlink.prom
                                               metrics for node_exporter, written atomically
  lsnvlink --format dot | dot -Tsvg > host.svg a picture of the topology
  lsnvlink --sosreport sosreport-host.tar.xz   the topology from a sosreport's device tree
  lsnvlink --hwloc host.tar.bz2                NUMA facts from hwloc-gather-topology
  lsnvlink fleet /srv/captures/                one line per host, the odd ones out
  lsnvlink diff node01.tar.gz node02.tar.gz    what differs between two hosts
  lsnvlink memlock --memory 64GiB --hostdev 0004:04:00.0
                                               what a KVM guest must be allowed to lock";

/// Inspect IBM POWER9 hosts with NVIDIA V100 GPUs attached over NVLink2.
#[derive(Parser)]
#[command(name = "lsnvlink", version = lsnvlink::VERSION)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Raise every input limit (capture size, entries, bytes read, symlink-walk work, input
    /// files, JSON output per input byte; see docs/limits.md) by this factor, for a
    /// genuinely large host. Before or after the subcommand's name.
    #[arg(long, global = true, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub limits_scale: u64,
    /// Without a subcommand: the report of the NVLink2 topology and its audit findings.
    #[command(flatten)]
    pub report: cmd::report::ReportArgs,
    /// The command, if any.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Write a capture of this host (or of --root DIR) as a .tar.gz for replay elsewhere.
    Capture(cmd::capture::CaptureArgs),
    /// What differs between two hosts (captures, copied roots, `/` for this host): topology,
    /// drivers, IOMMU groups, memory, firmware, kernel and findings.
    #[command(after_help = cmd::diff::DIFF_HELP)]
    Diff(cmd::diff::DiffArgs),
    /// The device tree: dump it as dts or JSON, get a property, list a node.
    Dt(cmd::dt::DtArgs),
    /// Many hosts at once: one line per capture, and the hosts that differ from the majority.
    #[command(after_help = cmd::fleet::FLEET_EXIT_CODES)]
    Fleet(cmd::fleet::FleetArgs),
    /// The RLIMIT_MEMLOCK libvirt gives a KVM guest (NVLink2 branch included), from flags or a
    /// domain XML; the guest layout of assigned V100s.
    #[command(after_help = cmd::memlock::MEMLOCK_HELP)]
    Memlock(cmd::memlock::MemlockArgs),
    /// PCI devices: a list like `lspci -nnD`, a tree like `lspci -t`, vmm records, or JSON.
    Pci(cmd::pci::PciArgs),
}

/// The whole command line, as `--help`, the man pages and the completions show it.
pub fn command() -> clap::Command {
    Cli::command().after_help(format!("{}\n\n{EXAMPLES}", cmd::report::EXIT_CODES))
}

/// Parses the process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    let mut cmd = command();
    let args = hoist_global_options(std::env::args_os().collect());
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// Options that may stand before the subcommand's name as well as after it, and whether each
/// takes a value: where to read the host from, and the limits.
const GLOBAL_OPTIONS: [(&str, bool); 3] = [
    ("--root", true),
    ("--capture", true),
    ("--limits-scale", true),
];

/// `lsnvlink --root DIR pci -t` is read as `lsnvlink pci --root DIR -t`: the options of
/// [`GLOBAL_OPTIONS`] given before a subcommand's name move after it. Without a subcommand
/// (the report) nothing moves; a value that happens to be a command's name (`--capture pci`)
/// stays a value; `--` ends the scan.
pub fn hoist_global_options(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let names: Vec<String> = command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        kept.push(program);
    }
    let mut position = None;
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" {
            kept.push(arg);
            break;
        }
        if names.contains(&text) {
            position = Some(kept.len());
            kept.push(arg);
            break;
        }
        let global = GLOBAL_OPTIONS
            .iter()
            .find(|(name, _)| text == *name || text.starts_with(&format!("{name}=")));
        match global {
            Some((name, true)) if text == *name => {
                moved.push(arg);
                if let Some(value) = iter.next() {
                    moved.push(value);
                }
            }
            Some(_) => moved.push(arg),
            None => kept.push(arg),
        }
    }
    let mut rest: Vec<std::ffi::OsString> = iter.collect();
    // A command with commands of its own (`dt dump|get|ls`): the options go after the inner
    // name, where that command's options are.
    if let Some(at) = position {
        let outer = kept.get(at).map(|a| a.to_string_lossy().into_owned());
        let inner: Vec<String> = outer
            .and_then(|o| command().find_subcommand(&o).cloned())
            .map(|c| {
                c.get_subcommands()
                    .map(|s| s.get_name().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(first) = rest.first()
            && inner.iter().any(|n| *n == first.to_string_lossy())
        {
            kept.push(rest.remove(0));
            position = Some(at + 1);
        }
    }
    match position {
        // A subcommand: the global options go right after its name.
        Some(at) => {
            let mut out: Vec<std::ffi::OsString> = kept.drain(..=at).collect();
            out.extend(moved);
            out.extend(kept);
            out.extend(rest);
            out
        }
        // The report: everything stays where it was.
        None => {
            let mut out = Vec::new();
            let mut kept = kept.into_iter();
            out.extend(kept.next());
            out.extend(moved);
            out.extend(kept);
            out.extend(rest);
            out
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    lsnvlink::limits::set_scale(cli.limits_scale);
    match cli.command {
        None => cmd::report::run(&cli.report),
        Some(Command::Capture(args)) => cmd::capture::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Diff(args)) => cmd::diff::run(&args),
        Some(Command::Dt(args)) => cmd::dt::run(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Fleet(args)) => cmd::fleet::run(&args),
        Some(Command::Memlock(args)) => cmd::memlock::run(&args),
        Some(Command::Pci(args)) => cmd::pci::run(args).map(|()| ExitCode::SUCCESS),
    }
}

/// The `lsnvlink` binary: parse, run, print an error, give the exit code.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`lsnvlink | head -1`): every command ends quietly with 0, as
        // other filters do; this is the one place that decides it.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages quote file names and values from the input: no control character
            // reaches the terminal raw.
            let message = lsnvlink::render::escape::esc(&format!("{e:#}")).into_owned();
            eprintln!("lsnvlink: {message}");
            ExitCode::from(2)
        }
    }
}

/// Whether an error was caused by writing to a pipe whose reader is gone (`EPIPE`: Rust
/// ignores `SIGPIPE`, so the write fails instead of killing the process).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    fn hoisted(args: &[&str]) -> Vec<String> {
        hoist_global_options(args.iter().map(Into::into).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn global_options_move_after_the_subcommand() {
        assert_eq!(
            hoisted(&["lsnvlink", "--root", "/r", "pci", "-t"]),
            ["lsnvlink", "pci", "--root", "/r", "-t"]
        );
        assert_eq!(
            hoisted(&[
                "lsnvlink",
                "--capture=c.tgz",
                "--limits-scale",
                "4",
                "dt",
                "ls",
                "/"
            ]),
            [
                "lsnvlink",
                "dt",
                "ls",
                "--capture=c.tgz",
                "--limits-scale",
                "4",
                "/"
            ]
        );
        // No subcommand: unchanged in effect.
        assert_eq!(
            hoisted(&["lsnvlink", "--capture", "c.tgz", "--format", "json"]),
            ["lsnvlink", "--capture", "c.tgz", "--format", "json"]
        );
        // A value that is a command's name stays a value.
        assert_eq!(
            hoisted(&["lsnvlink", "--capture", "pci", "--format", "json"]),
            ["lsnvlink", "--capture", "pci", "--format", "json"]
        );
        assert_eq!(hoisted(&["lsnvlink"]), ["lsnvlink"]);
        assert_eq!(
            hoisted(&["lsnvlink", "--", "--root", "pci"]),
            ["lsnvlink", "--", "--root", "pci"]
        );
    }

    #[test]
    fn help_has_examples_and_exit_codes() {
        let help = command().render_long_help().to_string();
        assert!(help.contains("Examples:"));
        assert!(help.contains("Exit codes:"));
        assert!(help.contains("lsnvlink fleet /srv/captures/"));
    }
}
