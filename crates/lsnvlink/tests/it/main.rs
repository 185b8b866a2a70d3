//! The lsnvlink library's integration tests, as one binary (one link instead of one per file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

mod common;
// Taking captures is the `capture` feature's.
#[cfg(feature = "capture")]
mod replay;
mod report_findings;
