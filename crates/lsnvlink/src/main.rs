//! The `lsnvlink` command.

use std::process::ExitCode;

use clap::Command;

fn cli() -> Command {
    Command::new("lsnvlink")
        .version(lsnvlink::VERSION)
        .about("Inspect IBM POWER9 hosts with NVIDIA V100 GPUs attached over NVLink2")
}

fn main() -> ExitCode {
    match cli().try_get_matches() {
        Ok(_) => {
            let _ = cli().print_help();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
