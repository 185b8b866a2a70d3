//! fsroot's integration tests, as one binary (one link instead of one per file). The
//! allocation test is a binary of its own (`tests/alloc.rs`): its counting allocator must see
//! no other test's allocations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

mod archive;
