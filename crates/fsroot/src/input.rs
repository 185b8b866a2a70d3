//! Files named on the command line (capture archives, fleet inputs, hwloc and sosreport
//! tarballs, device-tree blobs, `pci.ids`, domain XML): opened once, checked as regular files
//! on the open handle, and read from that handle within a bound.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Opens the file at `path` for reading and checks, on the open handle (`fstat`), that it is a
/// regular file: a device node (`/dev/zero`, a disk), a FIFO or a socket is refused with
/// `InvalidInput` before a byte is read, and the open never blocks (`O_NONBLOCK`, which has no
/// effect on a regular file). A symlink on the command line is followed (the user named it),
/// but what it names is the file checked and read: there is no second open by name.
///
/// Off Linux the open is [`File::open`] (which may wait on a FIFO) and the check is the
/// open handle's metadata: still one open, and nothing but a regular file is read.
pub fn open_input(path: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        crate::host::regular(fd)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() {
            Ok(file)
        } else if meta.is_dir() {
            // What a read of a directory says, as on Linux.
            Err(crate::errno::Errno::IsDir.into())
        } else {
            Err(not_regular())
        }
    }
}

/// The error for a device node, FIFO or socket where a regular file is read.
pub(crate) fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (device nodes, FIFOs and sockets are never read)",
    )
}

/// The whole content of the regular file at `path` (see [`open_input`]), refusing one longer
/// than `limit` bytes (`FileTooLarge`, without reading past `limit + 1` bytes).
pub fn read_input(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_input(path)?;
    let mut data = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than the limit of {limit} bytes (see --limits-scale)"),
        ));
    }
    Ok(data)
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use rustix::fs::Mode;

    #[test]
    fn device_nodes_fifos_and_directories_are_refused_regular_files_bounded() {
        let err = read_input(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(read_input(dir.path(), 10).is_err());
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Blocks forever without O_NONBLOCK (no writer); refused here.
        let err = read_input(&fifo, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"0123456789a").unwrap();
        assert_eq!(
            read_input(&file, 10).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert_eq!(read_input(&file, 11).unwrap(), b"0123456789a");
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(
            read_input(&link, 10).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
