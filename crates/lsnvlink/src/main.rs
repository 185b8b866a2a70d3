//! The `lsnvlink` command: inspect IBM POWER9 hosts with NVIDIA V100 GPUs over NVLink2.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only declares them and maps
//! their results to exit codes.
//!
//! Exit codes (a contract for scripts): 0 success; 2 bad usage or unreadable input.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect IBM POWER9 hosts with NVIDIA V100 GPUs attached over NVLink2.
#[derive(Parser)]
#[command(name = "lsnvlink", version = lsnvlink::VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a capture of this host (or of --root DIR) as a .tar.gz for replay elsewhere.
    Capture(cmd::capture::CaptureArgs),
    /// The device tree: dump it as dts or JSON, get a property, list a node.
    Dt(cmd::dt::DtArgs),
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
        None => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Capture(args)) => cmd::capture::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Dt(args)) => cmd::dt::run(args).map(|()| ExitCode::SUCCESS),
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
