//! Where lsnvlink's files come from: the live `/`, a directory holding a copied root, or a
//! capture tarball read into memory and never unpacked.
//!
//! A [`Root`] answers the questions a sysfs or device-tree reader asks — read a file, read a
//! link's text, list a directory, tell what an entry is, resolve a path — the same way whatever
//! the source, and never lets a path or a symlink escape the root:
//!
//! - Symlinks, relative or absolute, resolve *inside* the root. An absolute target starts again
//!   at the root (a capture's `/proc/device-tree -> /sys/firmware/devicetree/base` works), `..`
//!   never climbs above the root, and more than 40 symlinks in one walk fail with `ELOOP`, as
//!   Linux does. A dangling link can still be read as a link.
//! - Archive entries with absolute paths or `..` components are **normalised** inside the root,
//!   never refused: `../../etc/passwd` is stored as `/etc/passwd` *of the capture*. Hard links,
//!   device nodes, FIFOs and unknown entry types are left out and listed by
//!   [`Root::skipped`]. An archive over the [`Limits`] (256 MiB of content, 16 MiB per file,
//!   1,000,000 entries by default) is refused before the oversized content is read.
//! - Errors keep the operating system's kind ([`Error::kind`]): a caller can report a missing
//!   or unreadable attribute and go on.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/firmware/devicetree/base"))?;
//! # std::fs::create_dir_all(dir.path().join("proc"))?;
//! # std::fs::write(dir.path().join("sys/firmware/devicetree/base/model"), "IBM,8335-GTH\0")?;
//! # std::os::unix::fs::symlink("/sys/firmware/devicetree/base", dir.path().join("proc/device-tree"))?;
//! use fsroot::Root;
//!
//! let root = Root::open(dir.path())?; // a directory or a capture archive
//! let model = root.read("/proc/device-tree/model")?;
//! assert_eq!(&model[..], b"IBM,8335-GTH\0");
//! assert_eq!(root.resolve("/proc/device-tree")?, std::path::Path::new("/sys/firmware/devicetree/base"));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod archive;
mod error;
mod host;
mod resolve;
mod tar;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

pub use archive::{Compression, SkippedEntry};
pub use error::{ArchiveProblem, Error, OpenError};
pub use resolve::MAX_SYMLINK_HOPS;

use archive::ArchiveTree;
use host::{DirRoot, LiveRoot};

/// Bounds on what a capture archive may hold, and on the size of any one file read.
///
/// The defaults suit a capture of a large POWER9 host with room to spare; every field can be
/// set: `let mut limits = Limits::default(); limits.max_file_bytes = 1 << 20;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Content of all archive entries together (default 256 MiB).
    pub max_total_bytes: u64,
    /// Content of one archive entry, and of one file read from a host root (default 16 MiB).
    pub max_file_bytes: u64,
    /// Entries in an archive, counting directories, links and extended headers (default
    /// 1,000,000).
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 256 << 20,
            max_file_bytes: 16 << 20,
            max_entries: 1_000_000,
        }
    }
}

/// What an entry is, as `lstat` tells it (a final symlink is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else a host directory can hold: a device node, a FIFO, a socket.
    Other,
}

/// Where a [`Root`]'s files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The live file system of this machine.
    Live,
    /// A directory holding a copied root.
    Directory(PathBuf),
    /// A capture archive held in memory.
    Archive {
        /// The archive's path, or the name given with in-memory bytes.
        name: String,
        /// Its compression.
        compression: Compression,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Live => f.write_str("the live system"),
            Origin::Directory(path) => write!(f, "directory {}", path.display()),
            Origin::Archive { name, .. } => write!(f, "capture {name}"),
        }
    }
}

#[derive(Debug)]
enum Source {
    Live(LiveRoot),
    Dir(DirRoot),
    Archive(ArchiveTree),
}

/// A file system root: the live `/`, a directory holding a copied root, or a capture archive.
///
/// Paths given to its methods are taken inside the root; a relative path is taken from the
/// root. See the [crate documentation](crate) for how symlinks and archive entries are treated.
#[derive(Debug)]
pub struct Root {
    source: Source,
    origin: Origin,
    limits: Limits,
}

impl Root {
    /// The live file system, `/`.
    pub fn live() -> Root {
        Root {
            source: Source::Live(LiveRoot),
            origin: Origin::Live,
            limits: Limits::default(),
        }
    }

    /// A directory holding a copied root.
    pub fn dir(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        let path = path.as_ref();
        let dir = DirRoot::open(path).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Root {
            source: Source::Dir(dir),
            origin: Origin::Directory(path.to_path_buf()),
            limits: Limits::default(),
        })
    }

    /// A capture archive file (`.tar`, `.tar.gz`, `.tar.bz2`, `.tar.xz` or `.tar.zst`, told
    /// apart by magic bytes), read into memory with the default [`Limits`].
    pub fn archive(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        Root::archive_with_limits(path, Limits::default())
    }

    /// A capture archive file, read into memory within `limits`.
    pub fn archive_with_limits(path: impl AsRef<Path>, limits: Limits) -> Result<Root, OpenError> {
        Root::archive_filtered(path, limits, |_| true)
    }

    /// A capture archive file of which only the entries `keep` accepts are held in memory.
    /// `keep` is given each entry's path as the root will store it (normalised, relative, no
    /// leading `/`, e.g. `proc/device-tree/model`); the others are read past, neither stored
    /// nor counted against `limits` — so a large archive (a sosreport with gigabytes of logs)
    /// can be opened for the few files a reader needs. Directories are created for the
    /// entries kept.
    pub fn archive_filtered(
        path: impl AsRef<Path>,
        limits: Limits,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Root, OpenError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.display().to_string();
        let input = BufReader::with_capacity(64 * 1024, file);
        let tree = ArchiveTree::load(&name, input, &limits, &keep)?;
        Ok(Root::from_tree(name, tree, limits))
    }

    /// A capture archive already in memory; `name` names it in errors.
    pub fn archive_from_bytes(name: &str, bytes: &[u8], limits: Limits) -> Result<Root, OpenError> {
        let tree = ArchiveTree::load(name, bytes, &limits, &|_| true)?;
        Ok(Root::from_tree(name.to_owned(), tree, limits))
    }

    fn from_tree(name: String, tree: ArchiveTree, limits: Limits) -> Root {
        Root {
            origin: Origin::Archive {
                name,
                compression: tree.compression(),
            },
            source: Source::Archive(tree),
            limits,
        }
    }

    /// A directory (as [`Root::dir`]) or a capture archive (as [`Root::archive`]), whichever
    /// `path` is.
    pub fn open(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            Root::dir(path)
        } else {
            Root::archive(path)
        }
    }

    /// Sets the largest file [`read`](Root::read) returns from a host root (archives were
    /// bounded when they were read).
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Root {
        self.limits.max_file_bytes = bytes;
        self
    }

    /// Where the files come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether this is the live system.
    pub fn is_live(&self) -> bool {
        matches!(self.source, Source::Live(_))
    }

    /// Archive entries that were left out (hard links, device nodes, FIFOs, entries under a
    /// file), with the reason; empty for host roots.
    pub fn skipped(&self) -> &[SkippedEntry] {
        match &self.source {
            Source::Archive(tree) => tree.skipped(),
            _ => &[],
        }
    }

    /// The whole content of the file at `path`, every symlink followed.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Cow<'_, [u8]>, Error> {
        self.read_impl(path.as_ref(), false)
    }

    /// The content of a sysfs-style attribute at `path`: on a host root, one `open` and one
    /// `read` of up to a page, ended by a short read (a longer file is still read whole). Not
    /// for `/proc` files whose content the kernel hands out record by record: use
    /// [`read`](Root::read) there.
    pub fn read_attr(&self, path: impl AsRef<Path>) -> Result<Cow<'_, [u8]>, Error> {
        self.read_impl(path.as_ref(), true)
    }

    /// At most the first `len` bytes of the file at `path`: on a host root nothing past them is
    /// read (reading a live PCI `config` file costs a configuration cycle per byte, so a
    /// reader that wants its 64-byte header asks for exactly that).
    pub fn read_prefix(&self, path: impl AsRef<Path>, len: usize) -> Result<Cow<'_, [u8]>, Error> {
        let path = path.as_ref();
        let result = match &self.source {
            Source::Live(live) => live.read_prefix(path, len).map(Cow::Owned),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.read_prefix(p, len).map(Cow::Owned)),
            Source::Archive(tree) => utf8(path).and_then(|p| {
                tree.read(p)
                    .map(|data| Cow::Borrowed(data.get(..len).unwrap_or(data)))
            }),
        };
        result.map_err(|e| Error::new(path, e))
    }

    fn read_impl(&self, path: &Path, attr: bool) -> Result<Cow<'_, [u8]>, Error> {
        let limit = self.limits.max_file_bytes;
        let result = match &self.source {
            Source::Live(live) => live.read(path, limit, attr).map(Cow::Owned),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.read(p, limit, attr).map(Cow::Owned)),
            Source::Archive(tree) => utf8(path).and_then(|p| tree.read(p).map(Cow::Borrowed)),
        };
        result.map_err(|e| Error::new(path, e))
    }

    /// The content of the file at `path` as UTF-8 text with surrounding whitespace trimmed (a
    /// sysfs attribute without its newline).
    pub fn read_text(&self, path: impl AsRef<Path>) -> Result<String, Error> {
        text(path.as_ref(), self.read(path.as_ref())?)
    }

    /// [`read_attr`](Root::read_attr) as trimmed UTF-8 text.
    pub fn read_attr_text(&self, path: impl AsRef<Path>) -> Result<String, Error> {
        text(path.as_ref(), self.read_attr(path.as_ref())?)
    }

    /// The text of the symlink at `path` (the link itself, not what it points to; a dangling
    /// link reads fine). Fails with `EINVAL` when `path` is not a symlink.
    pub fn read_link(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        let result = match &self.source {
            Source::Live(live) => live.read_link(path),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.read_link(p)),
            Source::Archive(tree) => utf8(path).and_then(|p| tree.read_link(p).map(PathBuf::from)),
        };
        result.map_err(|e| Error::new(path, e))
    }

    /// The names in the directory at `path`, sorted (byte order), without `.` and `..`.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
        let path = path.as_ref();
        let result = match &self.source {
            Source::Live(live) => live.read_dir(path),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.read_dir(p)),
            Source::Archive(tree) => utf8(path).and_then(|p| tree.read_dir(p)),
        };
        result.map_err(|e| Error::new(path, e))
    }

    /// What the entry at `path` is; a final symlink is not followed.
    pub fn kind(&self, path: impl AsRef<Path>) -> Result<EntryKind, Error> {
        let path = path.as_ref();
        let result = match &self.source {
            Source::Live(live) => live.kind(path),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.kind(p)),
            Source::Archive(tree) => utf8(path).and_then(|p| tree.kind(p)),
        };
        result.map_err(|e| Error::new(path, e))
    }

    /// Whether `path` exists (a dangling symlink exists).
    pub fn exists(&self, path: impl AsRef<Path>) -> bool {
        self.kind(path).is_ok()
    }

    /// The canonical absolute path of `path` inside the root, every symlink followed; the entry
    /// must exist.
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        let result = match &self.source {
            Source::Live(live) => live.resolve(path),
            Source::Dir(dir) => utf8(path).and_then(|p| dir.resolve(p)).map(join),
            Source::Archive(tree) => utf8(path).and_then(|p| tree.resolve(p)).map(join),
        };
        result.map_err(|e| Error::new(path, e))
    }

    #[cfg(test)]
    fn force_walk(&self) {
        if let Source::Dir(dir) = &self.source {
            dir.force_walk();
        }
    }
}

fn join(components: Vec<String>) -> PathBuf {
    let mut path = PathBuf::from("/");
    path.extend(components);
    path
}

fn utf8(path: &Path) -> io::Result<&str> {
    path.to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"))
}

fn text(path: &Path, bytes: Cow<'_, [u8]>) -> Result<String, Error> {
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::new(
            path,
            io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}")),
        )
    })?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests;
