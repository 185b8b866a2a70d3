//! The fixtures the lsnvlink workspace's tests share, in one crate instead of files included
//! with `#[path]` or copied from one `tests/` directory to another.
//!
//! - [`synth`]: synthetic sysfs PCI trees (the pci and lsnvlink-cli tests, and
//!   `cargo xtask bench pci`, which is why it never panics);
//! - `archive` (feature `archive`): tar streams built byte by byte, with the entries no
//!   well-behaved tar writer makes, and their four compressions (fsroot's tests);
//! - the bundled test data: [`CAPTURES`], [`capture`], [`dt`], [`testdata`];
//! - the programs the tests run: a test binary through the emulator of a cross-built run
//!   ([`Bin`]), and the peer tools used as oracles ([`graphviz`], [`dtc`],
//!   [`promtool_check_metrics`]), all through [`pipe_through`].
//!
//! It depends on no crate of the workspace, so that every crate can take it as a
//! dev-dependency without a second copy of itself in its tests.
#![forbid(unsafe_code)]

#[cfg(feature = "archive")]
pub mod archive;
mod data;
mod run;
pub mod synth;

pub use data::{CAPTURES, capture, dt, testdata, workspace};
pub use run::{Bin, RUNNER_VAR, dtc, graphviz, pipe_through, promtool_check_metrics};
