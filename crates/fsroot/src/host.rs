//! Roots on the host file system: the live `/`, and a directory holding a copied root.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::EntryKind;
use crate::input::not_regular;
use crate::resolve::{self, Budget, Lookup, Resolved};

/// Size of the buffer of the first read: a sysfs attribute is at most a page.
const FIRST_READ: usize = 4096;

/// Flags for opening files: no controlling terminal, and no blocking on a FIFO that a copied
/// root might hold.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
}

/// A directory holding a copied root. A path without a symlink is opened with one
/// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`; a path through a symlink (`ELOOP`), and
/// every path where the kernel lacks `openat2` (before Linux 5.6, or a seccomp filter refuses
/// it), is walked one component at a time from directory file descriptors
/// (`openat(O_PATH | O_NOFOLLOW)`, `readlinkat`) with the same rules and within the walk
/// budget of [`Limits`](crate::Limits): the kernel's own symlink walk has no bound on the work
/// a link text makes. No path is ever checked and then opened by name, so a directory swapped
/// for a symlink mid-walk is met as the symlink it has become.
///
/// `openat2` fails with `EAGAIN` when a rename elsewhere on the machine races with a `..`
/// lookup; the open is retried [`EAGAIN_RETRIES`] times, then done by the walk.
#[derive(Debug)]
pub(crate) struct DirRoot {
    fd: Arc<OwnedFd>,
    openat2: AtomicBool,
    /// Whether symlinks are followed at all (a capture walk follows none).
    follow: bool,
}

/// How often an `openat2` that failed with `EAGAIN` is retried before the user-space walk.
pub(crate) const EAGAIN_RETRIES: u32 = 16;

impl DirRoot {
    pub(crate) fn open(base: &Path, follow: bool) -> io::Result<DirRoot> {
        let fd = rustix::fs::open(
            base,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let openat2 = rustix::fs::openat2(
            &fd,
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .is_ok();
        Ok(DirRoot {
            fd: Arc::new(fd),
            openat2: AtomicBool::new(openat2),
            follow,
        })
    }

    /// Makes this root resolve paths by walking them, as on kernels without `openat2`.
    pub(crate) fn force_walk(&self) {
        self.openat2.store(false, Ordering::Relaxed);
    }

    pub(crate) fn uses_openat2(&self) -> bool {
        self.openat2.load(Ordering::Relaxed)
    }

    /// `openat2` never follows a symlink: a path without one is opened in one call; a path
    /// through one fails with `ELOOP` and, in a root that follows symlinks, is walked.
    fn resolve_flags(&self) -> ResolveFlags {
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
    }

    /// Opens `path` (inside the root), following every symlink (or none, for a root that
    /// follows none).
    fn open_at(&self, path: &str, flags: OFlags, budget: Budget<'_>) -> io::Result<OwnedFd> {
        if self.uses_openat2() {
            let rel = relative(path);
            for _ in 0..EAGAIN_RETRIES {
                match rustix::fs::openat2(
                    &*self.fd,
                    rel,
                    flags,
                    Mode::empty(),
                    self.resolve_flags(),
                ) {
                    Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
                    // A symlink on the way: the kernel would follow it with no bound on the
                    // work its text makes (40 links of `x/../` repeated take milliseconds
                    // each); the walk below follows it within the budget.
                    Err(rustix::io::Errno::LOOP) if self.follow => break,
                    other => return Ok(other?),
                }
            }
        }
        let budget = Budget {
            follow: self.follow && budget.follow,
            ..budget
        };
        let mut attempt = 0;
        loop {
            let found = resolve::resolve(&Walk::new(&self.fd), path, true, budget)?;
            match reopen(&self.fd, &found, flags) {
                Err(e)
                    if e.raw_os_error() == Some(rustix::io::Errno::AGAIN.raw_os_error())
                        && attempt < EAGAIN_RETRIES =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    pub(crate) fn read(
        &self,
        path: &str,
        limit: u64,
        attr: bool,
        budget: Budget<'_>,
    ) -> io::Result<Vec<u8>> {
        let fd = self.open_at(path, read_flags(), budget)?;
        read_fd(regular(fd)?, limit, attr)
    }

    pub(crate) fn read_prefix(
        &self,
        path: &str,
        len: usize,
        budget: Budget<'_>,
    ) -> io::Result<Vec<u8>> {
        let fd = self.open_at(path, read_flags(), budget)?;
        read_prefix_fd(regular(fd)?, len)
    }

    pub(crate) fn read_dir(&self, path: &str, budget: Budget<'_>) -> io::Result<Vec<String>> {
        let fd = self.open_at(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            budget,
        )?;
        read_dir_fd(fd)
    }

    /// Opens the parent directory of `path` and returns it with the final name; `None` when the
    /// path ends in `.` or `..` or names the root (none of which can be a symlink).
    fn parent_and_name<'p>(
        &self,
        path: &'p str,
        budget: Budget<'_>,
    ) -> io::Result<Option<(OwnedFd, &'p str)>> {
        let trimmed = path.trim_end_matches('/');
        let (parent, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        if name.is_empty() || name == "." || name == ".." {
            return Ok(None);
        }
        let dir = self.open_at(
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            budget,
        )?;
        Ok(Some((dir, name)))
    }

    pub(crate) fn read_link(&self, path: &str, budget: Budget<'_>) -> io::Result<PathBuf> {
        let Some((dir, name)) = self.parent_and_name(path, budget)? else {
            return Err(rustix::io::Errno::INVAL.into());
        };
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    pub(crate) fn kind(&self, path: &str, budget: Budget<'_>) -> io::Result<EntryKind> {
        let stat = match self.parent_and_name(path, budget)? {
            Some((dir, name)) => rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?,
            None => {
                rustix::fs::fstat(self.open_at(path, OFlags::PATH | OFlags::CLOEXEC, budget)?)?
            }
        };
        Ok(kind_of(FileType::from_raw_mode(stat.st_mode)))
    }

    pub(crate) fn resolve(&self, path: &str, budget: Budget<'_>) -> io::Result<Vec<String>> {
        let budget = Budget {
            follow: self.follow && budget.follow,
            ..budget
        };
        Ok(resolve::resolve(&Walk::new(&self.fd), path, true, budget)?.components)
    }
}

/// Opens the entry a walk found with `flags`: from its parent directory's descriptor by its
/// name, never following a symlink, and only when it is still the entry the walk saw (same
/// device and inode): a rename between the walk and the open fails with `EAGAIN`.
fn reopen(root: &OwnedFd, found: &Resolved<Arc<OwnedFd>>, flags: OFlags) -> io::Result<OwnedFd> {
    let fd = match found.components.last() {
        Some(name) => rustix::fs::openat(
            &*found.parent,
            name.as_str(),
            flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )?,
        None => rustix::fs::openat(root, ".", flags, Mode::empty())?,
    };
    let (seen, opened) = (rustix::fs::fstat(&*found.node)?, rustix::fs::fstat(&fd)?);
    if (seen.st_dev, seen.st_ino) != (opened.st_dev, opened.st_ino) {
        return Err(rustix::io::Errno::AGAIN.into());
    }
    Ok(fd)
}

/// The path walk used where `openat2` cannot follow a symlink: nodes are `O_PATH`
/// descriptors, each opened from its parent's descriptor without following it. Within one
/// lookup a child already met is not opened again (a link text of `x/../` repeated costs one
/// `openat`, not thousands).
struct Walk<'a> {
    root: &'a Arc<OwnedFd>,
    seen: RefCell<Seen>,
}

/// Children met in one lookup, by parent descriptor (its address) and name.
type Seen = HashMap<(usize, String), Option<(Arc<OwnedFd>, EntryKind)>>;

impl<'a> Walk<'a> {
    fn new(root: &'a Arc<OwnedFd>) -> Walk<'a> {
        Walk {
            root,
            seen: RefCell::new(HashMap::new()),
        }
    }

    fn open_child(
        &self,
        dir: &Arc<OwnedFd>,
        name: &str,
    ) -> io::Result<Option<(Arc<OwnedFd>, EntryKind)>> {
        let fd = match rustix::fs::openat(
            &**dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&fd)?;
        Ok(Some((
            Arc::new(fd),
            kind_of(FileType::from_raw_mode(stat.st_mode)),
        )))
    }
}

impl Lookup for Walk<'_> {
    type Node = Arc<OwnedFd>;

    fn root(&self) -> io::Result<Arc<OwnedFd>> {
        Ok(Arc::clone(self.root))
    }

    fn child(
        &self,
        dir: &Arc<OwnedFd>,
        name: &str,
    ) -> io::Result<Option<(Arc<OwnedFd>, EntryKind)>> {
        // Every node stays alive in `seen` while the lookup runs, so an address is never
        // reused for another directory within it.
        let key = (Arc::as_ptr(dir) as usize, name.to_owned());
        if let Some(found) = self.seen.borrow().get(&key) {
            return Ok(found.clone());
        }
        let found = self.open_child(dir, name)?;
        self.seen.borrow_mut().insert(key, found.clone());
        Ok(found)
    }

    fn link_text(&self, node: &Arc<OwnedFd>) -> io::Result<String> {
        let target = rustix::fs::readlinkat(&**node, "", Vec::new())?;
        Ok(target.to_string_lossy().into_owned())
    }
}

/// The live root `/`: paths go to the kernel as they are.
#[derive(Debug)]
pub(crate) struct LiveRoot;

impl LiveRoot {
    pub(crate) fn read(&self, path: &Path, limit: u64, attr: bool) -> io::Result<Vec<u8>> {
        let fd = rustix::fs::open(absolute(path), read_flags(), Mode::empty())?;
        read_fd(regular(fd)?, limit, attr)
    }

    pub(crate) fn read_prefix(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        let fd = rustix::fs::open(absolute(path), read_flags(), Mode::empty())?;
        read_prefix_fd(regular(fd)?, len)
    }

    pub(crate) fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = std::fs::read_dir(absolute(path))?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort_unstable();
        Ok(names)
    }

    pub(crate) fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(absolute(path))
    }

    pub(crate) fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let meta = std::fs::symlink_metadata(absolute(path))?;
        Ok(kind_of(FileType::from_raw_mode(
            std::os::unix::fs::MetadataExt::mode(&meta),
        )))
    }

    pub(crate) fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(absolute(path))
    }
}

/// `path` taken from `/` when relative.
fn absolute(path: &Path) -> PathBuf {
    Path::new("/").join(path)
}

/// `path` relative to the root directory, `.` for the root itself.
fn relative(path: &str) -> &str {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() { "." } else { rel }
}

fn kind_of(file_type: FileType) -> EntryKind {
    match file_type {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// The open file `fd` when it is a regular file: a device node, FIFO or socket is refused
/// (`InvalidInput`, "not a regular file") before a byte of it is read, a directory with
/// `EISDIR` as a read of it would. Files are opened with
/// `O_NONBLOCK`, so the open itself never waits on a FIFO.
pub(crate) fn regular(fd: OwnedFd) -> io::Result<File> {
    let stat = rustix::fs::fstat(&fd)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(File::from(fd)),
        // What a read of a directory says, as before the check.
        FileType::Directory => Err(rustix::io::Errno::ISDIR.into()),
        _ => Err(not_regular()),
    }
}

/// The sorted names of an open directory, without `.` and `..`.
pub(crate) fn read_dir_fd(fd: OwnedFd) -> io::Result<Vec<String>> {
    let mut dir = rustix::fs::Dir::new(fd)?;
    let mut names = Vec::new();
    while let Some(entry) = dir.read() {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Reads an open file to its end, refusing more than `limit` bytes. With `attr`, a first read
/// shorter than its buffer ends the read: that is how sysfs serves an attribute (whole, in one
/// read, at most a page), so a sysfs attribute costs one `open` and one `read`.
fn read_fd(mut file: File, limit: u64, attr: bool) -> io::Result<Vec<u8>> {
    let mut first = [0u8; FIRST_READ];
    let n = loop {
        match file.read(&mut first) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    let head = first.get(..n).unwrap_or_default();
    if n as u64 > limit {
        return Err(too_large(limit));
    }
    let mut data = head.to_vec();
    if n == 0 || (attr && n < FIRST_READ) {
        return Ok(data);
    }
    // Read the rest, one byte past the limit so that an over-long file is noticed.
    let cap = limit.saturating_add(1).saturating_sub(n as u64);
    (&mut file).take(cap).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(data)
}

/// Reads at most `len` bytes from the start of an open file: nothing past them is asked of
/// the kernel (a live PCI `config` file costs a configuration cycle per byte read).
fn read_prefix_fd(file: File, len: usize) -> io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(len.min(FIRST_READ));
    file.take(len as u64).read_to_end(&mut data)?;
    Ok(data)
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("file is larger than the limit of {limit} bytes"),
    )
}
