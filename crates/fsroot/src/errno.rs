//! The `errno` values fsroot makes up itself — in archive roots, in its own symlink walk, in
//! the path checks — so that every source fails the way a kernel would.
//!
//! On Linux they are the kernel's own values: `raw_os_error` and the message are those of a
//! failed system call, as before this module existed. Elsewhere (archive roots only) they are
//! an error of the closest [`io::ErrorKind`] with the same text, still told apart by
//! [`Errno::is`].

use std::io;

/// One of the `errno` values fsroot reports without a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Errno {
    /// `ELOOP`: too many symlinks in one walk, or a symlink where none may be followed.
    Loop,
    /// `ENAMETOOLONG`: a path or a symlink's text over the limits.
    NameTooLong,
    /// `ENOTDIR`: a path goes through something that is not a directory.
    NotDir,
    /// `EISDIR`: a directory read as a file.
    IsDir,
    /// `EINVAL`: `read_link` of something that is not a symlink.
    Inval,
}

impl Errno {
    /// The kernel's value.
    #[cfg(target_os = "linux")]
    fn raw(self) -> rustix::io::Errno {
        match self {
            Errno::Loop => rustix::io::Errno::LOOP,
            Errno::NameTooLong => rustix::io::Errno::NAMETOOLONG,
            Errno::NotDir => rustix::io::Errno::NOTDIR,
            Errno::IsDir => rustix::io::Errno::ISDIR,
            Errno::Inval => rustix::io::Errno::INVAL,
        }
    }

    /// Whether `e` is this error (made here, or given by a system call).
    pub(crate) fn is(self, e: &io::Error) -> bool {
        #[cfg(target_os = "linux")]
        {
            e.raw_os_error() == Some(self.raw().raw_os_error())
        }
        #[cfg(not(target_os = "linux"))]
        {
            e.get_ref()
                .and_then(|inner| inner.downcast_ref::<Errno>())
                .is_some_and(|&inner| inner == self)
        }
    }
}

#[cfg(target_os = "linux")]
impl From<Errno> for io::Error {
    fn from(errno: Errno) -> io::Error {
        errno.raw().into()
    }
}

#[cfg(not(target_os = "linux"))]
impl From<Errno> for io::Error {
    fn from(errno: Errno) -> io::Error {
        let kind = match errno {
            // `FilesystemLoop`, what Linux's ELOOP gives, is not stable to make.
            Errno::Loop => io::ErrorKind::Other,
            Errno::NameTooLong => io::ErrorKind::InvalidFilename,
            Errno::NotDir => io::ErrorKind::NotADirectory,
            Errno::IsDir => io::ErrorKind::IsADirectory,
            Errno::Inval => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, errno)
    }
}

#[cfg(not(target_os = "linux"))]
impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Linux's strerror texts.
        f.write_str(match self {
            Errno::Loop => "Too many levels of symbolic links",
            Errno::NameTooLong => "File name too long",
            Errno::NotDir => "Not a directory",
            Errno::IsDir => "Is a directory",
            Errno::Inval => "Invalid argument",
        })
    }
}

#[cfg(not(target_os = "linux"))]
impl std::error::Error for Errno {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_errno_is_itself_and_no_other() {
        let all = [
            Errno::Loop,
            Errno::NameTooLong,
            Errno::NotDir,
            Errno::IsDir,
            Errno::Inval,
        ];
        for a in all {
            let e = io::Error::from(a);
            for b in all {
                assert_eq!(b.is(&e), a == b, "{a:?} {b:?}");
            }
        }
        assert_eq!(
            io::Error::from(Errno::NotDir).kind(),
            io::ErrorKind::NotADirectory
        );
        assert_eq!(
            io::Error::from(Errno::IsDir).kind(),
            io::ErrorKind::IsADirectory
        );
        assert_eq!(
            io::Error::from(Errno::Inval).kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
