//! The `lsnvlink` command line, on top of the `lsnvlink` library: its definition
//! ([`cli::command`], what `cargo xtask dist` turns into the man pages and shell completions)
//! and one module per subcommand under `cmd/`. The binary (`src/main.rs`) only runs
//! [`cli::main`].
#![forbid(unsafe_code)]

pub mod cli;
#[doc(hidden)]
pub mod cmd;
