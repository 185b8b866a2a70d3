//! The pci crate's integration tests, as one binary (one link instead of one per file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

mod props;
mod sysfs;
