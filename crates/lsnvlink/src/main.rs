//! The `lsnvlink` command: inspect IBM POWER9 hosts with NVIDIA V100 GPUs over NVLink2.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only declares them and maps
//! their results to exit codes.
//!
//! Without a subcommand, `lsnvlink` writes the report of the host's NVLink2 topology
//! (`cmd/report.rs`). Exit codes (a contract for scripts): 0 success (the report: no error
//! finding); 1 the report has error findings; 2 bad usage or unreadable input.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect IBM POWER9 hosts with NVIDIA V100 GPUs attached over NVLink2.
#[derive(Parser)]
#[command(name = "lsnvlink", version = lsnvlink::VERSION)]
#[command(args_conflicts_with_subcommands = true, after_help = cmd::report::EXIT_CODES)]
struct Cli {
    /// Without a subcommand: the report of the NVLink2 topology and its audit findings.
    #[command(flatten)]
    report: cmd::report::ReportArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a capture of this host (or of --root DIR) as a .tar.gz for replay elsewhere.
    Capture(cmd::capture::CaptureArgs),
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    let result: anyhow::Result<ExitCode> = match cli.command {
        None => cmd::report::run(&cli.report),
        Some(Command::Capture(args)) => cmd::capture::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Dt(args)) => cmd::dt::run(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Fleet(args)) => cmd::fleet::run(&args),
        Some(Command::Memlock(args)) => cmd::memlock::run(&args),
        Some(Command::Pci(args)) => cmd::pci::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lsnvlink: {e:#}");
            ExitCode::from(2)
        }
    }
}
