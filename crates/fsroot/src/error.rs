//! Error types of `fsroot`.

use std::io;
use std::path::{Path, PathBuf};

/// Reading one path inside a [`Root`](crate::Root) failed.
///
/// The error keeps the operating system's error kind (`NotFound`, `PermissionDenied`, …) so a
/// caller can tell a missing attribute from an unreadable one and report per attribute. Archive
/// roots produce the same kinds a kernel would: `NotFound` for an absent entry, `ENOTDIR` when a
/// path goes through a file, `ELOOP` after too many symlinks, `EINVAL` when `read_link` is asked
/// for something that is not a link.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct Error {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl Error {
    pub(crate) fn new(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error {
            path: path.into(),
            source,
        }
    }

    /// The path inside the root that was asked for, as the caller gave it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error kind, as the operating system reports it (or as it would for an archive).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// True when the walk met more than [`MAX_SYMLINK_HOPS`](crate::MAX_SYMLINK_HOPS) symlinks
    /// (`ELOOP`, "too many levels of symbolic links").
    pub fn is_symlink_loop(&self) -> bool {
        crate::errno::Errno::Loop.is(&self.source)
    }

    /// True when the entry (or a directory on its way) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
    }
}

/// Opening a root failed: the directory cannot be opened, or the capture archive is corrupt,
/// truncated, over a limit, or not an archive at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory or archive file itself could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory or archive that was asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The archive is unreadable at a given place.
    #[error("{archive}: {}", ArchiveProblem::describe(.entry, .offset, .problem))]
    Archive {
        /// The archive's name (its path, or the name given with in-memory bytes).
        archive: String,
        /// The entry being read when the problem was found, when there was one.
        entry: Option<String>,
        /// Offset in the uncompressed tar stream where the problem was found.
        offset: u64,
        /// What is wrong.
        problem: ArchiveProblem,
    },
}

/// What is wrong with a capture archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// The stream ends in the middle of a header or of an entry's content.
    #[error("truncated archive: {0}")]
    Truncated(String),
    /// The compressed stream cannot be decoded.
    #[error("{format} stream is corrupt: {message}")]
    Decompress {
        /// The compression format recognised by its magic bytes.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// The archive is compressed with a format whose decoder this build leaves out (the
    /// crate features `gzip`, `bzip2`, `xz`, `zstd`).
    #[error("{format} archives are not read by this build (fsroot feature {format} is off)")]
    NotCompiled {
        /// The compression format recognised by its magic bytes.
        format: &'static str,
    },
    /// A tar header is malformed (bad checksum, bad number, bad extended header).
    #[error("bad tar header: {0}")]
    BadHeader(String),
    /// One entry is larger than [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    #[error("entry declares {size} bytes, over the limit of {limit} bytes per file")]
    FileTooLarge {
        /// The size the header declares.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The content of all entries together is larger than
    /// [`Limits::max_total_bytes`](crate::Limits::max_total_bytes).
    #[error("content reaches {total} bytes, over the limit of {limit} bytes in total")]
    TotalTooLarge {
        /// The total the archive would reach with this entry.
        total: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The decompressed stream is longer than
    /// [`Limits::max_decompressed_bytes`](crate::Limits::max_decompressed_bytes) (content of
    /// entries read past or left out included).
    #[error("the decompressed stream reaches {limit} bytes, the limit (skipped entries included)")]
    DecompressedTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// The archive has more entries than [`Limits::max_entries`](crate::Limits::max_entries),
    /// counting the directories its paths create.
    #[error("more than {limit} entries (directories its paths create included)")]
    TooManyEntries {
        /// The limit in force.
        limit: u64,
    },
}

impl ArchiveProblem {
    fn describe(entry: &Option<String>, offset: &u64, problem: &ArchiveProblem) -> String {
        match entry {
            Some(entry) => format!("entry {entry:?} (tar offset {offset}): {problem}"),
            None => format!("tar offset {offset}: {problem}"),
        }
    }
}
