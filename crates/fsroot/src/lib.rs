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
//!   1,000,000 entries counting the directories its paths create, 4 GiB decompressed by
//!   default) is refused before the oversized content is read.
//! - Cost is bounded by work, not only by size ([`Limits`]): symlink resolution counts every
//!   component it walks (per lookup and per root), paths are bounded in length and depth, and
//!   a host root counts every byte it reads.
//! - Device nodes, FIFOs and sockets are never read: a file is opened `O_NONBLOCK` and
//!   refused unless `fstat` on the open handle says it is regular. Files named on the command
//!   line are opened the same way, once ([`open_input`], [`read_input`]).
//! - `openat2` failing with `EAGAIN` (a rename racing with `..`) is retried, then done by the
//!   user-space walk; any error other than "not found" stays an error.
//! - Errors keep the operating system's kind ([`Error::kind`]): a caller can report a missing
//!   or unreadable attribute and go on.
//!
//! # Platforms
//!
//! Capture archives and [`read_input`] work on any target `std` supports. The host roots
//! (`Root::live`, `Root::dir`, `Root::dir_no_follow`: `openat2` and directory descriptors,
//! through `rustix`) exist on Linux only; elsewhere [`Root::open`] refuses a directory with
//! `Unsupported`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut tar = tar::Builder::new(Vec::new());
//! # let mut file = tar::Header::new_gnu();
//! # file.set_size(13);
//! # tar.append_data(&mut file, "sys/firmware/devicetree/base/model", &b"IBM,8335-GTH\0"[..])?;
//! # let mut link = tar::Header::new_gnu();
//! # link.set_entry_type(tar::EntryType::Symlink);
//! # tar.append_link(&mut link, "proc/device-tree", "/sys/firmware/devicetree/base")?;
//! # let capture = tar.into_inner()?;
//! use fsroot::{Limits, Root};
//!
//! // A capture archive in memory (`Root::open` reads one from a file, or a directory).
//! let root = Root::archive_from_bytes("capture.tar", &capture, Limits::default())?;
//! let model = root.read("/proc/device-tree/model")?;
//! assert_eq!(&model[..], b"IBM,8335-GTH\0");
//! assert_eq!(root.resolve("/proc/device-tree")?, std::path::Path::new("/sys/firmware/devicetree/base"));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod archive;
mod errno;
mod error;
#[cfg(target_os = "linux")]
mod host;
mod input;
mod resolve;
mod tar;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use archive::{Compression, SkippedEntry};
pub use error::{ArchiveProblem, Error, OpenError};
pub use input::{open_input, read_input};
pub use resolve::MAX_SYMLINK_HOPS;

use archive::ArchiveTree;
use errno::Errno;
#[cfg(target_os = "linux")]
use host::{DirRoot, LiveRoot};
use resolve::Budget;

/// Bounds on what a root may cost: what a capture archive may hold, what may be read from a
/// host root, how much work symlink resolution may do, and what a reader of a file named on
/// the command line may take. One set of limits is shared by every reader (captures, copied
/// roots, sosreports, hwloc tarballs, device-tree blobs, `pci.ids`, domain XML), so that an
/// input's cost is bounded by what it makes the program *do*, not only by its size.
///
/// The defaults suit a capture of a large POWER9 host with room to spare; every field can be
/// set (`let mut limits = Limits::default(); limits.max_file_bytes = 1 << 20;`), and
/// [`Limits::scaled`] raises them all at once for a genuinely large host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Content of all archive entries together (default 256 MiB).
    pub max_total_bytes: u64,
    /// Content of one archive entry, and of one file read from a host root (default 16 MiB).
    pub max_file_bytes: u64,
    /// Entries of an archive held, counting directories, links and extended headers, and the
    /// directories their paths create without naming them (default 1,000,000). Entries a
    /// filter leaves out ([`Root::archive_filtered`]) are not counted: they are bounded by
    /// [`max_decompressed_bytes`](Limits::max_decompressed_bytes).
    pub max_entries: u64,
    /// Bytes of an archive's decompressed stream, headers and the content of entries read
    /// past or left out included (default 4 GiB): a bomb of zeros in an entry nobody keeps
    /// still costs the time to inflate it.
    pub max_decompressed_bytes: u64,
    /// Bytes read from a host root (a copied root or the live system) over the root's life,
    /// all files together (default 1 GiB): sparse files of 4 MiB each cannot add up.
    pub max_read_bytes: u64,
    /// Longest path a lookup or an archive entry may have, and longest symlink text followed
    /// (default 4,096 bytes, Linux's `PATH_MAX`).
    pub max_path_bytes: u64,
    /// Most components in a looked-up path or an archive entry's path (default 1,024).
    pub max_depth: u64,
    /// Components one lookup may walk, the components of every symlink it follows included
    /// (default 8,192): a chain of 40 links of `x/../` repeated is refused with `ELOOP`.
    pub max_walk_steps: u64,
    /// Components all lookups of one root may walk together (default 200,000,000): thousands
    /// of lookups through long link chains end with an error instead of running for hours.
    pub max_run_walk_steps: u64,
    /// Largest file named on the command line (a device-tree blob, `pci.ids`, a domain XML)
    /// read whole (default 64 MiB).
    pub max_input_bytes: u64,
    /// Output a reader may write per byte of its input, e.g. `dt dump --format json`
    /// (default 64; the output may also always reach 1 MiB).
    pub max_output_factor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 256 << 20,
            max_file_bytes: 16 << 20,
            max_entries: 1_000_000,
            max_decompressed_bytes: 4 << 30,
            max_read_bytes: 1 << 30,
            max_path_bytes: 4096,
            max_depth: 1024,
            max_walk_steps: 8192,
            max_run_walk_steps: 200_000_000,
            max_input_bytes: 64 << 20,
            max_output_factor: 64,
        }
    }
}

impl Limits {
    /// Every limit multiplied by `factor` (saturating; a factor of 0 is taken as 1): for a
    /// genuinely large host, `lsnvlink --limits-scale N`.
    pub fn scaled(self, factor: u64) -> Limits {
        let f = factor.max(1);
        Limits {
            max_total_bytes: self.max_total_bytes.saturating_mul(f),
            max_file_bytes: self.max_file_bytes.saturating_mul(f),
            max_entries: self.max_entries.saturating_mul(f),
            max_decompressed_bytes: self.max_decompressed_bytes.saturating_mul(f),
            max_read_bytes: self.max_read_bytes.saturating_mul(f),
            max_path_bytes: self.max_path_bytes.saturating_mul(f),
            max_depth: self.max_depth.saturating_mul(f),
            max_walk_steps: self.max_walk_steps.saturating_mul(f),
            max_run_walk_steps: self.max_run_walk_steps.saturating_mul(f),
            max_input_bytes: self.max_input_bytes.saturating_mul(f),
            max_output_factor: self.max_output_factor.saturating_mul(f),
        }
    }

    /// The most output a reader may write for `input_bytes` of input:
    /// [`max_output_factor`](Limits::max_output_factor) × input, and at least 1 MiB.
    pub fn max_output_bytes(&self, input_bytes: u64) -> u64 {
        input_bytes
            .saturating_mul(self.max_output_factor)
            .max(1 << 20)
    }
}

/// What a [`Root`] has spent of its [`Limits`] so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Usage {
    /// Bytes read from a host root (archives: 0, their content was bounded when read).
    pub read_bytes: u64,
    /// Path components walked by fsroot's own symlink resolution (archives, and directories
    /// on kernels without `openat2`).
    pub walk_steps: u64,
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
    /// The live `/` (Linux only).
    #[cfg(target_os = "linux")]
    Live(LiveRoot),
    /// A copied root (Linux only: `openat2` and directory descriptors).
    #[cfg(target_os = "linux")]
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
    /// Walk steps spent by lookups so far.
    steps: AtomicU64,
    /// Bytes read from a host root so far.
    read_bytes: AtomicU64,
}

impl Root {
    /// The live file system, `/` (Linux only).
    #[cfg(target_os = "linux")]
    pub fn live() -> Root {
        Root::new(Source::Live(LiveRoot), Origin::Live, Limits::default())
    }

    fn new(source: Source, origin: Origin, limits: Limits) -> Root {
        Root {
            source,
            origin,
            limits,
            steps: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
        }
    }

    /// A directory holding a copied root (Linux only).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::create_dir_all(dir.path().join("sys/firmware/devicetree/base"))?;
    /// # std::fs::create_dir_all(dir.path().join("proc"))?;
    /// # std::fs::write(dir.path().join("sys/firmware/devicetree/base/model"), "IBM,8335-GTH\0")?;
    /// # std::os::unix::fs::symlink("/sys/firmware/devicetree/base", dir.path().join("proc/device-tree"))?;
    /// use fsroot::Root;
    ///
    /// let root = Root::dir(dir.path())?;
    /// let model = root.read("/proc/device-tree/model")?;
    /// assert_eq!(&model[..], b"IBM,8335-GTH\0");
    /// assert_eq!(root.resolve("/proc/device-tree")?, std::path::Path::new("/sys/firmware/devicetree/base"));
    /// # Ok(()) }
    /// ```
    #[cfg(target_os = "linux")]
    pub fn dir(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        Root::dir_impl(path.as_ref(), true)
    }

    /// A directory read without following any symlink anywhere in a path: a path through a
    /// symlink fails with `ELOOP` (symlinks themselves are still listed, told apart by
    /// [`kind`](Root::kind) and read with [`read_link`](Root::read_link)). This is how
    /// `lsnvlink capture` walks a host: a directory swapped for a symlink during the walk
    /// is never entered, on kernels with and without `openat2`. Linux only.
    #[cfg(target_os = "linux")]
    pub fn dir_no_follow(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        Root::dir_impl(path.as_ref(), false)
    }

    #[cfg(target_os = "linux")]
    fn dir_impl(path: &Path, follow: bool) -> Result<Root, OpenError> {
        let dir = DirRoot::open(path, follow).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Root::new(
            Source::Dir(dir),
            Origin::Directory(path.to_path_buf()),
            Limits::default(),
        ))
    }

    /// Sets the limits this root applies from now on to what it reads (an archive's were
    /// applied when it was read).
    pub fn with_limits(mut self, limits: Limits) -> Root {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What this root has spent of its limits so far.
    pub fn usage(&self) -> Usage {
        Usage {
            read_bytes: self.read_bytes.load(Ordering::Relaxed),
            walk_steps: self.steps.load(Ordering::Relaxed),
        }
    }

    fn budget(&self) -> Budget<'_> {
        Budget {
            max_steps: self.limits.max_walk_steps,
            max_run_steps: self.limits.max_run_walk_steps,
            max_link_bytes: self.limits.max_path_bytes,
            follow: true,
            spent: &self.steps,
        }
    }

    /// Refuses a path longer or deeper than the limits, or holding a NUL byte, before any
    /// lookup.
    fn check_path<'p>(&self, path: &'p Path) -> io::Result<&'p str> {
        let p = utf8(path)?;
        if p.contains('\0') {
            // Refused the same way by every source (found by fuzzing: openat2 said EINVAL
            // where the walk met a missing component first).
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path holds a NUL byte",
            ));
        }
        if p.len() as u64 > self.limits.max_path_bytes
            || resolve::split(p).count() as u64 > self.limits.max_depth
        {
            return Err(Errno::NameTooLong.into());
        }
        Ok(p)
    }

    /// Counts `data` against [`Limits::max_read_bytes`].
    #[cfg(target_os = "linux")]
    fn count_read(&self, data: Vec<u8>) -> io::Result<Vec<u8>> {
        let before = self
            .read_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let limit = self.limits.max_read_bytes;
        if before.saturating_add(data.len() as u64) > limit {
            return Err(io::Error::new(
                io::ErrorKind::QuotaExceeded,
                format!("more than {limit} bytes read from this root in all (see fsroot::Limits)"),
            ));
        }
        Ok(data)
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
        let file = open_input(path).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Root::archive_from_file(path.display().to_string(), file, limits, keep)
    }

    /// A capture archive read from a file already opened (see [`open_input`]): `name` names
    /// it in errors; only the entries `keep` accepts are held (as
    /// [`archive_filtered`](Root::archive_filtered)).
    pub fn archive_from_file(
        name: String,
        file: File,
        limits: Limits,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Root, OpenError> {
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
        let origin = Origin::Archive {
            name,
            compression: tree.compression(),
        };
        Root::new(Source::Archive(tree), origin, limits)
    }

    /// A directory (as `Root::dir`) or a capture archive (as [`Root::archive`]), whichever
    /// `path` is. Off Linux, where directory roots do not exist, a directory is refused with
    /// `Unsupported`.
    pub fn open(path: impl AsRef<Path>) -> Result<Root, OpenError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            Root::dir_or_unsupported(path)
        } else {
            Root::archive(path)
        }
    }

    #[cfg(target_os = "linux")]
    fn dir_or_unsupported(path: &Path) -> Result<Root, OpenError> {
        Root::dir(path)
    }

    #[cfg(not(target_os = "linux"))]
    fn dir_or_unsupported(path: &Path) -> Result<Root, OpenError> {
        Err(OpenError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "a directory is read as a root on Linux only; give a capture archive",
            ),
        })
    }

    /// Sets the largest file [`read`](Root::read) returns from a host root (archives were
    /// bounded when they were read); the other limits are kept.
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
        self.origin == Origin::Live
    }

    /// Archive entries that were left out (hard links, device nodes, FIFOs, entries under a
    /// file), with the reason; empty for host roots.
    pub fn skipped(&self) -> &[SkippedEntry] {
        match &self.source {
            Source::Archive(tree) => tree.skipped(),
            #[cfg(target_os = "linux")]
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
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live
                .read_prefix(path, len)
                .and_then(|d| self.count_read(d))
                .map(Cow::Owned),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir
                .read_prefix(p, len, budget)
                .and_then(|d| self.count_read(d))
                .map(Cow::Owned),
            Source::Archive(tree) => tree
                .read(p, budget)
                .map(|data| Cow::Borrowed(data.get(..len).unwrap_or(data))),
        });
        result.map_err(|e| Error::new(path, e))
    }

    fn read_impl(
        &self,
        path: &Path,
        // An archive holds each file whole: only host roots read an attribute differently.
        #[cfg_attr(not(target_os = "linux"), allow(unused_variables))] attr: bool,
    ) -> Result<Cow<'_, [u8]>, Error> {
        #[cfg(target_os = "linux")]
        let limit = self.limits.max_file_bytes;
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live
                .read(path, limit, attr)
                .and_then(|d| self.count_read(d))
                .map(Cow::Owned),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir
                .read(p, limit, attr, budget)
                .and_then(|d| self.count_read(d))
                .map(Cow::Owned),
            Source::Archive(tree) => tree.read(p, budget).map(Cow::Borrowed),
        });
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
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live.read_link(path),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir.read_link(p, budget),
            Source::Archive(tree) => tree.read_link(p, budget).map(PathBuf::from),
        });
        result.map_err(|e| Error::new(path, e))
    }

    /// The names in the directory at `path`, sorted (byte order), without `.` and `..`.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
        let path = path.as_ref();
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live.read_dir(path),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir.read_dir(p, budget),
            Source::Archive(tree) => tree.read_dir(p, budget),
        });
        result.map_err(|e| Error::new(path, e))
    }

    /// What the entry at `path` is; a final symlink is not followed.
    pub fn kind(&self, path: impl AsRef<Path>) -> Result<EntryKind, Error> {
        let path = path.as_ref();
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live.kind(path),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir.kind(p, budget),
            Source::Archive(tree) => tree.kind(p, budget),
        });
        result.map_err(|e| Error::new(path, e))
    }

    /// Whether `path` exists (a dangling symlink exists). Any error counts as "no", as
    /// `access(F_OK)` answers (libvirt's file tests); where an unreadable entry must not pass
    /// for an absent one, use [`try_exists`](Root::try_exists).
    pub fn exists(&self, path: impl AsRef<Path>) -> bool {
        self.kind(path).is_ok()
    }

    /// Whether `path` exists: `Ok(false)` only when it (or a directory on its way) is not
    /// found; any other failure (permission, a spent budget, a loop) is an error, never
    /// "absent".
    pub fn try_exists(&self, path: impl AsRef<Path>) -> Result<bool, Error> {
        match self.kind(path) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The canonical absolute path of `path` inside the root, every symlink followed; the entry
    /// must exist.
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        let budget = self.budget();
        let result = self.check_path(path).and_then(|p| match &self.source {
            #[cfg(target_os = "linux")]
            Source::Live(live) => live.resolve(path),
            #[cfg(target_os = "linux")]
            Source::Dir(dir) => dir.resolve(p, budget).map(join),
            Source::Archive(tree) => tree.resolve(p, budget).map(join),
        });
        result.map_err(|e| Error::new(path, e))
    }

    /// Makes a directory root resolve paths in user space, from directory descriptors, as it
    /// does on kernels without `openat2` (for tests and fuzzing of that path; a no-op for other
    /// roots).
    #[doc(hidden)]
    pub fn force_walk(&self) {
        #[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
mod tests;

/// The examples of `README.md`, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
