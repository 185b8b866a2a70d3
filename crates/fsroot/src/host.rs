//! Roots on the host file system: the live `/`, and a directory holding a copied root.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::EntryKind;
use crate::resolve::{self, Lookup};

/// Size of the buffer of the first read: a sysfs attribute is at most a page.
const FIRST_READ: usize = 4096;

/// Flags for opening files: no controlling terminal, and no blocking on a FIFO that a copied
/// root might hold.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
}

/// A directory holding a copied root. Paths resolve inside it with `openat2(RESOLVE_IN_ROOT)`
/// (one system call per open, the kernel keeps `..` and absolute symlinks inside); where the
/// kernel lacks `openat2` (before Linux 5.6, or a seccomp filter refuses it) the same rules are
/// applied by walking the path with `lstat` and `readlink`.
#[derive(Debug)]
pub(crate) struct DirRoot {
    base: PathBuf,
    fd: OwnedFd,
    openat2: AtomicBool,
}

impl DirRoot {
    pub(crate) fn open(base: &Path) -> io::Result<DirRoot> {
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
            base: base.to_path_buf(),
            fd,
            openat2: AtomicBool::new(openat2),
        })
    }

    /// Makes this root resolve paths by walking them, as on kernels without `openat2`.
    #[cfg(test)]
    pub(crate) fn force_walk(&self) {
        self.openat2.store(false, Ordering::Relaxed);
    }

    pub(crate) fn uses_openat2(&self) -> bool {
        self.openat2.load(Ordering::Relaxed)
    }

    /// Opens `path` (inside the root), following every symlink.
    fn open_at(&self, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
        if self.uses_openat2() {
            let rel = relative(path);
            return Ok(rustix::fs::openat2(
                &self.fd,
                rel,
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )?);
        }
        let found = resolve::resolve(&Walk(&self.base), path, true)?;
        Ok(rustix::fs::open(
            &found.node,
            flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )?)
    }

    pub(crate) fn read(&self, path: &str, limit: u64, attr: bool) -> io::Result<Vec<u8>> {
        let fd = self.open_at(path, read_flags())?;
        read_fd(File::from(fd), limit, attr)
    }

    pub(crate) fn read_prefix(&self, path: &str, len: usize) -> io::Result<Vec<u8>> {
        let fd = self.open_at(path, read_flags())?;
        read_prefix_fd(File::from(fd), len)
    }

    pub(crate) fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let fd = self.open_at(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC)?;
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

    /// Opens the parent directory of `path` and returns it with the final name; `None` when the
    /// path ends in `.` or `..` or names the root (none of which can be a symlink).
    fn parent_and_name<'p>(&self, path: &'p str) -> io::Result<Option<(OwnedFd, &'p str)>> {
        let trimmed = path.trim_end_matches('/');
        let (parent, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        if name.is_empty() || name == "." || name == ".." {
            return Ok(None);
        }
        let dir = self.open_at(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC)?;
        Ok(Some((dir, name)))
    }

    pub(crate) fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        let Some((dir, name)) = self.parent_and_name(path)? else {
            return Err(rustix::io::Errno::INVAL.into());
        };
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    pub(crate) fn kind(&self, path: &str) -> io::Result<EntryKind> {
        let stat = match self.parent_and_name(path)? {
            Some((dir, name)) => rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?,
            None => rustix::fs::fstat(self.open_at(path, OFlags::PATH | OFlags::CLOEXEC)?)?,
        };
        Ok(kind_of(FileType::from_raw_mode(stat.st_mode)))
    }

    pub(crate) fn resolve(&self, path: &str) -> io::Result<Vec<String>> {
        Ok(resolve::resolve(&Walk(&self.base), path, true)?.components)
    }
}

/// The path walk used without `openat2`: nodes are host paths under the root directory.
struct Walk<'a>(&'a Path);

impl Lookup for Walk<'_> {
    type Node = PathBuf;

    fn root(&self) -> PathBuf {
        self.0.to_path_buf()
    }

    fn child(&self, dir: &PathBuf, name: &str) -> io::Result<Option<(PathBuf, EntryKind)>> {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => {
                let kind = kind_of(FileType::from_raw_mode(
                    std::os::unix::fs::MetadataExt::mode(&meta),
                ));
                Ok(Some((path, kind)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn link_text(&self, node: &PathBuf) -> io::Result<String> {
        Ok(std::fs::read_link(node)?.to_string_lossy().into_owned())
    }
}

/// The live root `/`: paths go to the kernel as they are.
#[derive(Debug)]
pub(crate) struct LiveRoot;

impl LiveRoot {
    pub(crate) fn read(&self, path: &Path, limit: u64, attr: bool) -> io::Result<Vec<u8>> {
        let fd = rustix::fs::open(absolute(path), read_flags(), Mode::empty())?;
        read_fd(File::from(fd), limit, attr)
    }

    pub(crate) fn read_prefix(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        let fd = rustix::fs::open(absolute(path), read_flags(), Mode::empty())?;
        read_prefix_fd(File::from(fd), len)
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
