//! The limits every lsnvlink reader applies, in one place: [`fsroot::Limits`] values for
//! captures and copied roots ([`replay`]), sosreports ([`sosreport`]), hwloc tarballs
//! ([`hwloc`]) and files named on the command line ([`input`]), all raised together by one
//! factor ([`set_scale`], the command line's `--limits-scale N`) for a genuinely large host.
//!
//! | limit | replay (`--capture`, `--root`, `fleet`, `dt`, `pci`, `memlock`) | sosreport | hwloc |
//! |---|---|---|---|
//! | content of all entries | 12 MiB | 12 MiB kept | 12 MiB |
//! | one file | 4 MiB | 4 MiB | 4 MiB |
//! | entries kept (implicit directories included) | 50,000 | 50,000 | 50,000 |
//! | decompressed stream (skipped entries included) | 64 MiB | 1 GiB | 64 MiB |
//! | bytes read from a copied root, in all | 16 MiB | 16 MiB | 16 MiB |
//! | path length / depth | 4,096 bytes / 1,024 | same | same |
//! | symlink-walk steps per lookup / per run | 8,192 / 5,000,000 | same | same |
//! | a file named on the command line (blob, pci.ids, domain XML) | 16 MiB | | |
//! | `dt --format json` output per input byte | 16 (at least 1 MiB) | | |
//!
//! A real AC922 capture holds about 130 KB in 1,200 entries; a report on it takes about
//! 16,000 symlink-walk steps (the 5,000,000 of a run are 300 such reports).

use std::sync::atomic::{AtomicU64, Ordering};

use fsroot::Limits;

static SCALE: AtomicU64 = AtomicU64::new(1);

/// Multiplies every limit of this process by `factor` (at least 1): `--limits-scale N`.
pub fn set_scale(factor: u64) {
    SCALE.store(factor.max(1), Ordering::Relaxed);
}

/// The factor in force (1 unless [`set_scale`] raised it).
pub fn scale() -> u64 {
    SCALE.load(Ordering::Relaxed)
}

/// The bounds shared by every reader, before scaling.
fn base() -> Limits {
    let mut l = Limits::default();
    l.max_total_bytes = crate::capture::REPLAY_MAX_TOTAL_BYTES;
    l.max_file_bytes = crate::capture::MAX_FILE_BYTES;
    l.max_entries = crate::capture::REPLAY_MAX_ENTRIES;
    l.max_decompressed_bytes = 64 << 20;
    l.max_read_bytes = 16 << 20;
    l.max_run_walk_steps = 5_000_000;
    l.max_input_bytes = 16 << 20;
    l.max_output_factor = 16;
    l
}

/// Captures and copied roots, as `--capture`, `--root`, `fleet`, `dt`, `pci` and `memlock`
/// read them ([`crate::capture::replay_limits`] scaled).
pub fn replay() -> Limits {
    base().scaled(scale())
}

/// Sosreports: gigabytes of logs are read past (never held or counted as entries), so the
/// decompressed stream may be long; what is kept is bounded as a capture.
pub fn sosreport() -> Limits {
    let mut l = base();
    // Entries read past are not counted (the decompressed bound covers them); what is kept
    // (device tree, lspci) is bounded as a capture: 50,000 entries.
    l.max_decompressed_bytes = 1 << 30;
    l.scaled(scale())
}

/// hwloc-gather-topology tarballs: a few hundred small files, bounded as a capture.
pub fn hwloc() -> Limits {
    replay()
}

/// Files named on the command line and read whole: device-tree blobs, `pci.ids`, domain XML
/// ([`Limits::max_input_bytes`]), and the output a `dt --format json` may write for them.
pub fn input() -> Limits {
    replay()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_scales_together() {
        let one = replay();
        assert_eq!(one.max_total_bytes, 12 << 20);
        let ten = one.scaled(10);
        assert_eq!(ten.max_total_bytes, 120 << 20);
        assert_eq!(ten.max_run_walk_steps, 50_000_000);
        assert_eq!(ten.max_input_bytes, 160 << 20);
        assert!(sosreport().max_decompressed_bytes > one.max_decompressed_bytes);
    }
}
