//! Helpers of the lsnvlink-cli tests: the report of a bundled capture and the `lsnvlink`
//! binary; the bundled captures and the peer tools come from lsnvlink-test-support.

use std::process::{Command, Output};

use lsnvlink::audit::Report;
use lsnvlink_test_support::Bin;
pub use lsnvlink_test_support::{CAPTURES, capture, graphviz};

/// The `lsnvlink` binary of this package. When the tests run under emulation (`cargo xtask
/// test-ppc64le` sets `LSNVLINK_TEST_RUNNER` to its `qemu-ppc64le …` runner), it is started
/// through that runner, since a foreign binary cannot be executed directly.
const LSNVLINK: Bin = Bin::new(env!("CARGO_BIN_EXE_lsnvlink"));

/// The report of the bundled capture `name`, with the built-in PCI names.
pub fn report(name: &str) -> Report {
    let root = fsroot::Root::archive(capture(name)).unwrap();
    Report::read(&root, &pci::Names::builtin()).unwrap()
}

/// The `lsnvlink` binary as a command.
pub fn lsnvlink_command() -> Command {
    LSNVLINK.command()
}

/// Runs the `lsnvlink` binary with `args`.
#[track_caller]
pub fn lsnvlink(args: &[&str]) -> Output {
    LSNVLINK.run(args)
}

/// Runs the `lsnvlink` binary with `args`, which must succeed, and returns its output.
#[track_caller]
pub fn stdout(args: &[&str]) -> String {
    LSNVLINK.stdout(args)
}
