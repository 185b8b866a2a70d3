//! devtree's integration tests, as one binary (one link instead of one per file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

mod blob;
mod common;
// The directory form (`/proc/device-tree` through fsroot) is the `dir` feature's.
#[cfg(feature = "dir")]
mod dir;
mod dtc;
mod nvlink;
mod props;
