//! A `newc` cpio archive (the format the kernel unpacks as an initramfs), uncompressed, written
//! by hand: a 110-byte ASCII header per entry (`070701` and thirteen 8-digit hex fields), the
//! name with its NUL, the data, each padded to 4 bytes, then `TRAILER!!!`. The format is
//! described in the kernel's `Documentation/driver-api/early-userspace/buffer-format.rst`.
//!
//! Every entry is owned by root with mtime 0, so the same inputs give the same bytes.

/// An initramfs being assembled in memory.
#[derive(Default)]
pub struct Cpio {
    bytes: Vec<u8>,
    next_inode: u32,
}

/// `S_IFDIR`, `S_IFREG` and `S_IFLNK` from `<sys/stat.h>`.
const DIR: u32 = 0o040_000;
const FILE: u32 = 0o100_000;
const SYMLINK: u32 = 0o120_000;

impl Cpio {
    /// An empty archive.
    pub fn new() -> Cpio {
        Cpio::default()
    }

    /// A directory `name` (no leading `/`), mode 0755.
    pub fn dir(&mut self, name: &str) {
        self.entry(name, DIR | 0o755, 2, &[]);
    }

    /// A regular file `name` with `data` and permission bits `perm` (e.g. 0o755).
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, FILE | (perm & 0o7777), 1, data);
    }

    /// A symlink `name` pointing to `target`.
    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, SYMLINK | 0o777, 1, target.as_bytes());
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8]) {
        self.next_inode += 1;
        // Names and sizes that do not fit 32 bits cannot be stored; an initramfs never has them.
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let namesize = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            self.next_inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            size,
            0, // devmajor
            0, // devminor
            0, // rdevmajor
            0, // rdevminor
            namesize,
            0, // check
        ];
        self.bytes.extend_from_slice(b"070701");
        for f in fields {
            self.bytes.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    /// The archive, closed by its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, &[]);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn entries_are_aligned_and_end_in_the_trailer() {
        let mut c = Cpio::new();
        c.dir("bin");
        c.file("init", 0o755, b"#!/bin/sh\n");
        c.symlink("sh", "busybox");
        let bytes = c.finish();
        assert!(bytes.len().is_multiple_of(4));
        assert!(bytes.starts_with(b"070701"));
        // The first header: inode 1, a directory 0755, namesize 4 ("bin\0").
        let header = std::str::from_utf8(&bytes[..110]).unwrap();
        assert_eq!(&header[6..14], "00000001");
        assert_eq!(&header[14..22], "000041ed");
        assert_eq!(&header[94..102], "00000004");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("init\0"));
        assert!(text.contains("#!/bin/sh\n"));
        assert!(text.ends_with("TRAILER!!!\0\0\0\0"), "{text:?}");
    }

    #[test]
    fn cpio_reads_it_back() {
        let mut c = Cpio::new();
        c.dir("d");
        c.file("d/f", 0o644, b"hello");
        c.symlink("d/l", "f");
        let bytes = c.finish();
        // GNU cpio is the oracle (Debian package cpio; .ci/run installs it).
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "-v"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cpio is not installed (Debian package cpio; .ci/run installs it)");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "cpio -t: {} {} (is cpio installed? .ci/run installs it)",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.contains(" d/f"), "{listing}");
        assert!(listing.contains("d/l -> f"), "{listing}");
    }
}
