//! Arbitrary bytes as a capture archive, and arbitrary paths resolved in it.
//!
//! Input layout: the first byte `n`, then `n` bytes of newline-separated paths, then the
//! archive (any compression, or none).
#![no_main]

use fsroot::{Limits, Root};
use libfuzzer_sys::fuzz_target;

/// Paths every input is asked for, on top of the ones it carries.
const FIXED: &[&str] = &[
    "/",
    "/proc/device-tree",
    "/sys/bus/pci/devices",
    "a/../../b",
    "/x/y",
];

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (paths, archive) = rest.split_at(usize::from(n).min(rest.len()));
    let mut limits = Limits::default();
    limits.max_total_bytes = 8 << 20;
    limits.max_file_bytes = 2 << 20;
    limits.max_entries = 20_000;
    let Ok(root) = Root::archive_from_bytes("fuzz", archive, limits) else {
        return;
    };
    let carried = String::from_utf8_lossy(paths);
    for path in carried.split('\n').chain(FIXED.iter().copied()) {
        let _ = root.read(path);
        let _ = root.read_attr_text(path);
        let _ = root.read_link(path);
        let _ = root.kind(path);
        let _ = root.resolve(path);
        if let Ok(names) = root.read_dir(path) {
            for name in names.iter().take(16) {
                let _ = root.kind(format!("{path}/{name}"));
            }
        }
    }
    let _ = root.skipped();
});
