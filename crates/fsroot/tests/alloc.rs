//! Archives over the limits fail before their declared content is allocated.
//!
//! A counting global allocator measures the peak of live heap bytes while each archive is
//! opened. This file holds one test so that no other test allocates at the same time: it is
//! a binary of its own, apart from the crate's other tests (`tests/it`), since the allocator
//! counts every thread of the process and `cargo test` runs a binary's tests in threads.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// The allocator wrapper is the one place the project needs `unsafe`: `GlobalAlloc` is an
// unsafe trait. It only counts and forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fsroot::{ArchiveProblem, Limits, OpenError, Root};
use lsnvlink_test_support::archive::{Tar, gzip};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Opens `bytes` as an archive and returns the problem and the peak heap growth meanwhile.
fn open_measured(bytes: &[u8], limits: Limits) -> (ArchiveProblem, usize) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = Root::archive_from_bytes("over.tar", bytes, limits);
    let peak = PEAK.load(Ordering::SeqCst) - before;
    match result {
        Err(OpenError::Archive { problem, .. }) => (problem, peak),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("archive over the limit was accepted"),
    }
}

const KIB: usize = 1024;
const MIB: u64 = 1 << 20;

#[test]
fn over_limit_archives_fail_without_allocating_what_they_declare() {
    // 1. One entry declaring 1 GiB, with only a few bytes behind the header.
    let declared = Tar::default()
        .raw("sys/huge", b'0', 1 << 30, "")
        .bytes(b"a few bytes")
        .0;
    let (problem, peak) = open_measured(&declared, Limits::default());
    assert_eq!(
        problem,
        ArchiveProblem::FileTooLarge {
            size: 1 << 30,
            limit: 16 * MIB
        }
    );
    assert!(peak < 256 * KIB, "peak heap {peak} bytes");

    // 2. The same, compressed: the header is decoded, the declared size refused.
    let (problem, peak) = open_measured(&gzip(&declared).unwrap(), Limits::default());
    assert!(
        matches!(problem, ArchiveProblem::FileTooLarge { .. }),
        "{problem}"
    );
    assert!(peak < 512 * KIB, "peak heap {peak} bytes");

    // 3. Content really present, over a total limit of 4 MiB: 3 files of 1.5 MiB of zeros
    //    (a small gzip, a large archive). The third is refused at its header.
    let chunk = vec![0u8; 3 * MIB as usize / 2];
    let tar = Tar::default()
        .file("a", &chunk)
        .file("b", &chunk)
        .file("c", &chunk)
        .finish();
    let bomb = gzip(&tar).unwrap();
    assert!(bomb.len() < 64 * KIB);
    let mut limits = Limits::default();
    limits.max_total_bytes = 4 * MIB;
    let (problem, peak) = open_measured(&bomb, limits);
    assert_eq!(
        problem,
        ArchiveProblem::TotalTooLarge {
            total: 9 * MIB / 2,
            limit: 4 * MIB
        }
    );
    // What was accepted (3 MiB) is held; the refused 1.5 MiB never was.
    assert!(
        peak < 3 * MIB as usize + 512 * KIB,
        "peak heap {peak} bytes"
    );
}
