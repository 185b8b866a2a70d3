//! Builds tar archives byte by byte, so that tests can make the entries no well-behaved tar
//! writer would (`../../etc/passwd`, `/etc/shadow`, wrong sizes, device nodes).
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code)]

use std::io::Write;

/// One ustar header block.
pub fn header(name: &str, typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14000000000\0");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar stream being built.
#[derive(Default)]
pub struct Tar(pub Vec<u8>);

impl Tar {
    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.0
            .extend_from_slice(&header(name, b'0', data.len() as u64, ""));
        self.0.extend_from_slice(data);
        self.pad()
    }
    pub fn dir(mut self, name: &str) -> Self {
        self.0.extend_from_slice(&header(name, b'5', 0, ""));
        self
    }
    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.0.extend_from_slice(&header(name, b'2', 0, target));
        self
    }
    pub fn raw(mut self, name: &str, typeflag: u8, size: u64, link: &str) -> Self {
        self.0
            .extend_from_slice(&header(name, typeflag, size, link));
        self
    }
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

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut enc =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}
