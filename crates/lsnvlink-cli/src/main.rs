//! The `lsnvlink` command: inspect IBM POWER9 hosts with NVIDIA V100 GPUs over NVLink2.
//!
//! The command line is defined in this package's library (`lsnvlink_cli::cli`, so that
//! `cargo xtask dist` can generate the man pages and completions from it); each subcommand
//! lives in its own module under `cmd/`. This file only runs it.
//!
//! Without a subcommand, `lsnvlink` writes the report of the host's NVLink2 topology
//! (`cmd/report.rs`). Exit codes (a contract for scripts): 0 success (the report: no error
//! finding); 1 the report has error findings; 2 bad usage or unreadable input.

use std::process::ExitCode;

fn main() -> ExitCode {
    lsnvlink_cli::cli::main()
}
