//! Where the workspace's test data is.

use std::path::{Path, PathBuf};

/// Every generated capture in `testdata/captures`, in the order snapshots are taken (the
/// capture recorded live under QEMU, `powernv9-qemu-live`, has tests of its own).
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

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `path` under the workspace's `testdata/` directory.
pub fn testdata(path: &str) -> PathBuf {
    workspace().join("testdata").join(path)
}

/// The path of the bundled capture `name` (without `.tar.gz`), in `testdata/captures`.
pub fn capture(name: &str) -> PathBuf {
    testdata("captures").join(format!("{name}.tar.gz"))
}

/// The device-tree input `name` (a blob or dts text) in `testdata/dt`.
pub fn dt(name: &str) -> PathBuf {
    testdata("dt").join(name)
}
