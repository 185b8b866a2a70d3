//! One module per subcommand, and the options they share.

pub mod capture;
pub mod diff;
pub mod dt;
pub mod fleet;
pub mod memlock;
pub mod pci;
pub mod report;
pub mod source;

use std::path::Path;

use anyhow::Context;

/// The whole content of a file named on the command line: opened once, a regular file (a
/// device node, FIFO or socket is refused without a read, a FIFO without blocking), read from
/// that handle, at most `limit` bytes.
pub fn read_input(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    fsroot::read_input(path, limit).with_context(|| format!("cannot read {}", path.display()))
}
