//! Capture archives: what `lsnvlink capture` collects from a host, and the deterministic
//! tarball both it and the test-capture generator (`cargo xtask testdata`) write.
//!
//! A capture is a [`Tree`] of directories, files and symlinks, with root-relative paths
//! (`sys/bus/pci/devices/0004:04:00.0`), plus a [`Manifest`] stored next to them as
//! `lsnvlink-capture.json`. With the `capture` feature (on by default), `collect` fills a
//! tree from a live root or a copied root directory, taking only what the allowlist names,
//! and `Capture::to_tar_gz` turns it into a `.tar.gz` that [`fsroot::Root::archive`]
//! replays. Reading captures needs no feature ([`open_replay`]).
//!
//! ```
//! use lsnvlink::capture::{Capture, Manifest, Tree};
//!
//! let mut tree = Tree::new();
//! tree.insert_file("proc/sys/kernel/osrelease", b"5.10.0\n".to_vec())?;
//! tree.insert_symlink("proc/device-tree", "/sys/firmware/devicetree/base")?;
//! let capture = Capture { tree, manifest: Manifest::fixed("example") };
//! let bytes = capture.to_tar_gz()?;
//! let root = fsroot::Root::archive_from_bytes("example", &bytes, fsroot::Limits::default())?;
//! assert_eq!(root.read_text("/proc/sys/kernel/osrelease")?, "5.10.0");
//! // Written twice, the archive is the same to the byte.
//! assert_eq!(bytes, capture.to_tar_gz()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "capture")]
pub mod allowlist;
#[cfg(feature = "capture")]
mod archive;
mod manifest;
#[cfg(feature = "capture")]
mod sanitize;
mod tree;
#[cfg(feature = "capture")]
mod walk;

#[cfg(feature = "capture")]
pub use allowlist::{Kind, Rule};
pub use manifest::{EntryCounts, MANIFEST_NAME, Manifest, SCHEMA_VERSION, Unreadable};
#[cfg(feature = "capture")]
pub use sanitize::{
    DROPPED_FILES, DROPPED_NODES, SERIAL_PROPERTIES, sanitize, scrub_config_serial,
};
pub use tree::{Entry, Tree};
#[cfg(feature = "capture")]
pub use walk::{Options, collect};

/// The largest file a capture reads (a longer one is listed as unreadable), and so the
/// largest a replay reads. A POWER9 `/proc/cpuinfo` with 176 threads is about 10 KiB; a PCI
/// `config` at most 4 KiB.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

use std::path::{Path, PathBuf};

/// Content of all entries of a replayed capture together: 12 MiB. A capture of an AC922 with
/// four GPUs holds about 130 KB. The report can hold a property up to three times (the
/// archive's copy, the device tree's, a decoded phandle list), so this bounds a run near
/// 3 × 12 MiB plus the program (`cargo xtask hostile` measures 45–50 MB at the limits).
pub const REPLAY_MAX_TOTAL_BYTES: u64 = 12 << 20;
/// Entries in a replayed capture: 50,000 (the 6-GPU capture has 2,400; the 1,024-vCPU
/// pseries tree of the benchmarks 31,000). Each entry can become a PCI device of the report,
/// some 900 bytes in memory.
pub const REPLAY_MAX_ENTRIES: u64 = 50_000;

/// The bounds within which `lsnvlink` replays a capture (`--capture`, `lsnvlink fleet`,
/// `memlock`, `pci`, `dt`): [`REPLAY_MAX_TOTAL_BYTES`], [`MAX_FILE_BYTES`] per file (the
/// largest file `collect` writes), [`REPLAY_MAX_ENTRIES`] (directories an entry's path
/// creates included), and the cost bounds of [`crate::limits`]. They are tighter than
/// [`fsroot::Limits::default`] so that a hostile archive (a gzip bomb that stays under
/// fsroot's 256 MiB) cannot make one run hold more than about 50 MB (`cargo xtask
/// hostile` checks 64 MB). Raised by `--limits-scale N` ([`crate::limits::set_scale`]).
pub fn replay_limits() -> fsroot::Limits {
    crate::limits::replay()
}

/// Opens a capture archive, or a copied root directory, as [`fsroot::Root::open`] does but
/// within [`replay_limits`] (a directory's files are read up to [`MAX_FILE_BYTES`] each, and
/// its reads and symlink walks are bounded in total). The archive is opened once and must be
/// a regular file ([`fsroot::open_input`]).
pub fn open_replay(path: &Path) -> Result<fsroot::Root, fsroot::OpenError> {
    let io = |source| fsroot::OpenError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        Ok(fsroot::Root::dir(path)?.with_limits(replay_limits()))
    } else {
        fsroot::Root::archive_with_limits(path, replay_limits())
    }
}

/// A capture: the collected tree and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The files, directories and symlinks, by root-relative path.
    pub tree: Tree,
    /// What was captured, when, by which tool, and what could not be read.
    pub manifest: Manifest,
}

/// Why a capture could not be taken or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// A path given to a [`Tree`] is empty, holds `.` or `..`, or is longer than a replay
    /// accepts (4,096 bytes, 1,024 components).
    #[error(
        "invalid capture path {0:?}: it must be a relative path without `.` or `..`, of at most 4,095 bytes and 1,024 components"
    )]
    BadPath(String),
    /// A path runs through an entry that is not a directory.
    #[error("capture path {path:?} runs through {blocker:?}, which is not a directory")]
    NotADirectory {
        /// The path being inserted.
        path: String,
        /// The ancestor that is a file or symlink.
        blocker: String,
    },
    /// The root to capture cannot be read at all.
    #[error("cannot read the root {path}: {source}")]
    Root {
        /// The root directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An allowlist pattern does not compile.
    #[error("allowlist pattern {pattern:?} is invalid: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// Writing the archive failed.
    #[error("cannot write the capture archive: {0}")]
    Write(#[from] std::io::Error),
    /// The manifest could not be encoded.
    #[error("cannot encode the capture manifest: {0}")]
    #[cfg(feature = "json")]
    Manifest(#[from] serde_json::Error),
}
