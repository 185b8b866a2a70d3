//! Tar streams built byte by byte, so that tests can make the entries no well-behaved tar
//! writer would (`../../etc/passwd`, `/etc/shadow`, wrong sizes, device nodes, GNU long names),
//! and their four compressions.
//!
//! ```
//! use lsnvlink_test_support::archive::{Tar, gzip};
//!
//! let tar = Tar::default()
//!     .dir("sys/")
//!     .file("sys/a", b"1\n")
//!     .symlink("sys/b", "a")
//!     .finish();
//! assert_eq!(tar.len(), 4 * 512 + 1024);
//! let gz = gzip(&tar)?;
//! assert_eq!(gz.get(..2), Some(&[0x1f, 0x8b][..]));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Write};

/// Copies `bytes` into `h` at `at`, at most `len` of them (the field's size).
fn put(h: &mut [u8; 512], at: usize, len: usize, bytes: &[u8]) {
    let field = h.iter_mut().skip(at).take(len);
    for (d, s) in field.zip(bytes) {
        *d = *s;
    }
}

/// One ustar header block: `name` and `link` are cut at the 100 bytes their fields hold
/// (longer names need [`Tar::gnu_long`]), `size` is written as given, whatever follows.
pub fn header(name: &str, typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    put(&mut h, 0, 100, name.as_bytes());
    put(&mut h, 100, 8, b"0000644\0");
    put(&mut h, 108, 8, b"0000000\0");
    put(&mut h, 116, 8, b"0000000\0");
    put(&mut h, 124, 12, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, 12, b"14000000000\0");
    put(&mut h, 156, 1, &[typeflag]);
    put(&mut h, 157, 100, link.as_bytes());
    put(&mut h, 257, 6, b"ustar\0");
    put(&mut h, 263, 2, b"00");
    put(&mut h, 148, 8, b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar stream being built: the bytes so far (without the two zero blocks that end it).
#[derive(Debug, Default)]
pub struct Tar(pub Vec<u8>);

impl Tar {
    /// A regular file (`0`) with `data`, padded to a block.
    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.0
            .extend_from_slice(&header(name, b'0', data.len() as u64, ""));
        self.0.extend_from_slice(data);
        self.pad()
    }
    /// A directory (`5`).
    pub fn dir(mut self, name: &str) -> Self {
        self.0.extend_from_slice(&header(name, b'5', 0, ""));
        self
    }
    /// A symbolic link (`2`) to `target`.
    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.0.extend_from_slice(&header(name, b'2', 0, target));
        self
    }
    /// A header as given, and nothing after it (add the content, if any, with
    /// [`bytes`](Self::bytes)).
    pub fn raw(mut self, name: &str, typeflag: u8, size: u64, link: &str) -> Self {
        self.0
            .extend_from_slice(&header(name, typeflag, size, link));
        self
    }
    /// `data` as they are, unpadded.
    pub fn bytes(mut self, data: &[u8]) -> Self {
        self.0.extend_from_slice(data);
        self
    }
    /// A GNU long name (`L`) or long link (`K`) record for the entry that follows.
    pub fn gnu_long(mut self, flag: u8, value: &str) -> Self {
        self.0
            .extend_from_slice(&header("././@LongLink", flag, value.len() as u64 + 1, ""));
        self.0.extend_from_slice(value.as_bytes());
        self.0.push(0);
        self.pad()
    }
    /// Zeros up to the next block.
    fn pad(mut self) -> Self {
        let pad = (512 - self.0.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
        self
    }
    /// The stream with its two zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 1024, 0);
        self.0
    }
}

/// `data` compressed with gzip.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

/// `data` compressed with bzip2.
pub fn bzip2(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

/// `data` compressed with xz (preset 6).
pub fn xz(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))?;
    enc.write_all(data)?;
    enc.finish()
}

/// `data` compressed with zstd (the fastest level).
pub fn zstd(data: &[u8]) -> io::Result<Vec<u8>> {
    Ok(ruzstd::encoding::compress_to_vec(
        data,
        ruzstd::encoding::CompressionLevel::Fastest,
    ))
}
