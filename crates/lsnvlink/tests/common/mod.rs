//! Helpers shared by the lsnvlink library's integration tests: the bundled captures and the
//! report of one. (The tests that run the `lsnvlink` binary are in `crates/lsnvlink-cli`.)
#![allow(
    dead_code, // each test binary uses its own subset
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use lsnvlink::audit::Report;

/// Every capture in `testdata/captures`, in the order snapshots are taken.
pub const CAPTURES: [&str; 10] = [
    "ac922-4gpu-16gb-nvidia",
    "ac922-6gpu-32gb-vfio",
    "ac922-4gpu-eeh-removed",
    "ac922-4gpu-no-gpu-memory",
    "ac922-4gpu-kernel-5.14",
    "ac922-2gpu-16gb-nvidia",
    "ac922-6gpu-16gb-kernel-4.14",
    "ac922-4gpu-5.10-one-atsd",
    "power9-no-gpu",
    "x86-v100-pcie",
];

/// The path of the bundled capture `name` (without `.tar.gz`).
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/captures")
        .join(format!("{name}.tar.gz"))
}

/// The report of the bundled capture `name`, with the built-in PCI names.
pub fn report(name: &str) -> Report {
    let root = fsroot::Root::archive(capture(name)).unwrap();
    Report::read(&root, &pci::Names::builtin()).unwrap()
}
