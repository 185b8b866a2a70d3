//! lsnvlink-memlock's integration tests, as one binary (the same layout as the other crates').
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

mod budget;
