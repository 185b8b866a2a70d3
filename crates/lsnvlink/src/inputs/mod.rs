//! Inputs admins already have, besides lsnvlink's own captures: a sosreport tarball
//! ([`sosreport`]: its device tree alone gives the NVLink2 topology) and an
//! `hwloc-gather-topology` tarball ([`hwloc`]: NUMA facts).
//!
//! Both kinds of archive hold their files under one top-level directory
//! (`sosreport-wsp1-2026-11-26-abcdef/proc/…`, `nvidiagpunumanodes/sys/…`);
//! [`top_directory`] finds it.

pub mod hwloc;
pub mod nvidia_smi;
pub mod sosreport;

use std::path::PathBuf;

/// What went wrong reading an input archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The archive cannot be opened or is not a readable archive.
    #[error(transparent)]
    Open(#[from] fsroot::OpenError),
    /// The archive holds none of what this input needs.
    #[error("{archive}: {what}")]
    Missing {
        /// The archive.
        archive: String,
        /// What it lacks.
        what: String,
    },
    /// The device tree in the archive cannot be read.
    #[error("{archive}: device tree: {source}")]
    DeviceTree {
        /// The archive.
        archive: String,
        /// The reader's error.
        source: devtree::DirError,
    },
    /// Building the in-memory view of the device tree failed.
    #[error("{archive}: {message}")]
    View {
        /// The archive.
        archive: String,
        /// What failed.
        message: String,
    },
}

/// The directory inside `root` that holds `marker` (a relative path such as `proc`): the
/// root itself (`""`) when it holds it, else its only top-level directory when that one holds
/// it (`"sosreport-host-…"`). The result has no leading or trailing slash.
pub fn top_directory(root: &fsroot::Root, markers: &[&str]) -> Option<String> {
    if markers.iter().any(|m| root.exists(format!("/{m}"))) {
        return Some(String::new());
    }
    let entries = root.read_dir("/").ok()?;
    let dirs: Vec<&String> = entries
        .iter()
        .filter(|e| matches!(root.kind(format!("/{e}")), Ok(fsroot::EntryKind::Dir)))
        .collect();
    match dirs.as_slice() {
        [only] if markers.iter().any(|m| root.exists(format!("/{only}/{m}"))) => {
            Some((*only).clone())
        }
        _ => None,
    }
}

/// `prefix/path` as an absolute path inside the root.
pub(crate) fn join(prefix: &str, path: &str) -> PathBuf {
    if prefix.is_empty() {
        PathBuf::from(format!("/{path}"))
    } else {
        PathBuf::from(format!("/{prefix}/{path}"))
    }
}
