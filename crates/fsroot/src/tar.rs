//! A streaming tar reader that checks every declared size against the limits before reading.
//!
//! Written here rather than taken from the `tar` crate because a hostile capture must not make
//! us allocate what a header declares: GNU long names and PAX records are capped at
//! [`MAX_META_BYTES`], every entry's size is checked against the per-file and total limits
//! before one byte of it is read, and content buffers grow with the data actually present.
//!
//! Formats read: POSIX ustar (with `prefix`), GNU (`L`/`K` long names, base-256 sizes), PAX
//! (`x` records `path`, `linkpath`, `size`; `g` records are skipped), old V7 headers.

use std::io::{self, Read};

use crate::Limits;
use crate::error::ArchiveProblem;

/// Largest GNU long-name or PAX extended header accepted (a path is at most 4 KiB on Linux).
pub(crate) const MAX_META_BYTES: u64 = 64 * 1024;

const BLOCK: usize = 512;

/// What kind of entry a tar header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind {
    File,
    Dir,
    Symlink,
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
    /// Any other type flag (GNU sparse files, volume labels, vendor extensions).
    Other(u8),
}

/// One entry as read from the stream.
#[derive(Debug)]
pub(crate) struct TarEntry {
    pub path: String,
    pub kind: TarKind,
    pub link: String,
    /// The content, for regular files only.
    pub data: Option<Vec<u8>>,
}

/// A problem found while reading, with where it was found.
#[derive(Debug)]
pub(crate) struct TarError {
    pub entry: Option<String>,
    pub offset: u64,
    pub problem: ArchiveProblem,
}

/// Reads the tar stream `reader` and hands each entry that `keep` accepts (given its
/// normalised path, as the tree will store it) to `emit`. Entries `keep` refuses are read past
/// without being stored or counted against the size limits. `format` names the compression
/// for decoder errors.
pub(crate) fn read_tar<R: Read>(
    reader: R,
    format: &'static str,
    limits: &Limits,
    keep: &dyn Fn(&str) -> bool,
    mut emit: impl FnMut(TarEntry) -> Result<(), ArchiveProblem>,
) -> Result<(), TarError> {
    let mut stream = Stream {
        inner: reader,
        offset: 0,
        format,
        max_offset: limits.max_decompressed_bytes,
    };
    let mut entries: u64 = 0;
    let mut total: u64 = 0;
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    let mut pax = Pax::default();

    loop {
        let header_offset = stream.offset;
        let fail = |entry: Option<&str>, problem| TarError {
            entry: entry.map(str::to_owned),
            offset: header_offset,
            problem,
        };
        let mut header = [0u8; BLOCK];
        let got = stream
            .read_full(&mut header)
            .map_err(|p| fail(long_name.as_deref(), p))?;
        if got == 0 {
            // End of stream on a block boundary: an archive without its two zero blocks, as
            // GNU tar accepts it.
            return Ok(());
        }
        if got < BLOCK {
            return Err(fail(
                long_name.as_deref(),
                ArchiveProblem::Truncated(format!("stream ends {got} bytes into a header")),
            ));
        }
        if header.iter().all(|&b| b == 0) {
            return Ok(());
        }
        verify_checksum(&header).map_err(|p| fail(None, p))?;

        let typeflag = header[156];
        let header_size = parse_number(field(&header, 124, 12))
            .map_err(|m| fail(None, ArchiveProblem::BadHeader(format!("size field: {m}"))))?;
        let name = header_name(&header);
        let meta = matches!(typeflag, b'L' | b'K' | b'x' | b'g');
        // A long name, long link or PAX record applies to the next real entry: another
        // record between them (a `K` before an `L`) must not use it up (found by fuzzing the
        // capture writer, which writes the link record first).
        let (path, link, size) = if meta {
            (name, String::new(), header_size)
        } else {
            let path = long_name.take().or_else(|| pax.path.take()).unwrap_or(name);
            let link = long_link
                .take()
                .or_else(|| pax.linkpath.take())
                .unwrap_or_else(|| cstr(field(&header, 157, 100)));
            let size = pax.size.take().unwrap_or(header_size);
            pax = Pax::default();
            (path, link, size)
        };

        let fail = |problem| fail(Some(&path), problem);
        if !meta && !keep(&crate::archive::normalise(&path).join("/")) {
            // Read past, never held: bounded by the decompressed stream's limit, not counted
            // as an entry.
            stream.skip_content(size).map_err(fail)?;
            continue;
        }
        entries += 1;
        if entries > limits.max_entries {
            return Err(fail(ArchiveProblem::TooManyEntries {
                limit: limits.max_entries,
            }));
        }
        if size > limits.max_file_bytes {
            return Err(fail(ArchiveProblem::FileTooLarge {
                size,
                limit: limits.max_file_bytes,
            }));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(fail(ArchiveProblem::TotalTooLarge {
                total,
                limit: limits.max_total_bytes,
            }));
        }

        match typeflag {
            b'L' | b'K' | b'x' | b'g' => {
                if size > MAX_META_BYTES {
                    return Err(fail(ArchiveProblem::BadHeader(format!(
                        "extended header of {size} bytes, over the limit of {MAX_META_BYTES}"
                    ))));
                }
                let data = stream.read_content(size).map_err(fail)?;
                match typeflag {
                    b'L' => long_name = Some(cstr(&data)),
                    b'K' => long_link = Some(cstr(&data)),
                    b'x' => {
                        pax = Pax::parse(&data).map_err(|m| fail(ArchiveProblem::BadHeader(m)))?
                    }
                    _ => {} // global PAX records: nothing we use
                }
                continue;
            }
            _ => {}
        }

        let kind = match typeflag {
            b'0' | 0 | b'7' if path.ends_with('/') => TarKind::Dir,
            b'0' | 0 | b'7' => TarKind::File,
            b'1' => TarKind::HardLink,
            b'2' => TarKind::Symlink,
            b'3' => TarKind::CharDevice,
            b'4' => TarKind::BlockDevice,
            b'5' => TarKind::Dir,
            b'6' => TarKind::Fifo,
            other => TarKind::Other(other),
        };
        let data = if kind == TarKind::File {
            Some(stream.read_content(size).map_err(fail)?)
        } else {
            stream.skip_content(size).map_err(fail)?;
            None
        };
        let entry_path = path.clone();
        emit(TarEntry {
            path,
            kind,
            link,
            data,
        })
        .map_err(|problem| TarError {
            entry: Some(entry_path),
            offset: header_offset,
            problem,
        })?;
    }
}

/// The decompressed stream, with the offset reached.
struct Stream<R> {
    inner: R,
    offset: u64,
    format: &'static str,
    /// Bytes of the decompressed stream that may be read, skipped content included.
    max_offset: u64,
}

impl<R: Read> Stream<R> {
    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, ArchiveProblem> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            if self.offset >= self.max_offset {
                return Err(ArchiveProblem::DecompressedTooLarge {
                    limit: self.max_offset,
                });
            }
            let room = usize::try_from(self.max_offset - self.offset).unwrap_or(usize::MAX);
            let rest_len = rest.len().min(room);
            let rest = rest.get_mut(..rest_len).unwrap_or_default();
            match self.inner.read(rest) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.decoder_problem(e)),
            }
        }
        Ok(filled)
    }

    fn decoder_problem(&self, e: io::Error) -> ArchiveProblem {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ArchiveProblem::Truncated(format!("{} stream ends early: {e}", self.format))
        } else {
            ArchiveProblem::Decompress {
                format: self.format,
                message: e.to_string(),
            }
        }
    }

    /// Reads `size` bytes of content and the padding after them. `size` has passed the limits
    /// by now, so the buffer is reserved once at its final size (no growth by doubling, no
    /// shrinking copy); an allocation failure is an error, not an abort.
    fn read_content(&mut self, size: u64) -> Result<Vec<u8>, ArchiveProblem> {
        let len = usize::try_from(size).map_err(|_| {
            ArchiveProblem::BadHeader(format!("size {size} does not fit in memory"))
        })?;
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|e| {
            ArchiveProblem::BadHeader(format!("cannot allocate {size} bytes of content: {e}"))
        })?;
        data.resize(len, 0);
        let got = self.read_full(&mut data)?;
        if got < len {
            return Err(self.short_content(size, (len - got) as u64));
        }
        self.skip_padding(size)?;
        Ok(data)
    }

    /// Skips `size` bytes of content we do not keep, and the padding after them.
    fn skip_content(&mut self, size: u64) -> Result<(), ArchiveProblem> {
        let mut chunk = [0u8; 8192];
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
            let buf = chunk.get_mut(..want).unwrap_or_default();
            let got = self.read_full(buf)?;
            if got < want {
                return Err(self.short_content(size, left - got as u64));
            }
            left -= got as u64;
        }
        self.skip_padding(size)
    }

    fn skip_padding(&mut self, size: u64) -> Result<(), ArchiveProblem> {
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let mut buf = [0u8; BLOCK];
        let want = usize::try_from(pad).unwrap_or(0);
        let got = self.read_full(buf.get_mut(..want).unwrap_or_default())?;
        if got < want {
            return Err(ArchiveProblem::Truncated(format!(
                "stream ends inside the padding after {size} bytes of content"
            )));
        }
        Ok(())
    }

    fn short_content(&self, size: u64, missing: u64) -> ArchiveProblem {
        ArchiveProblem::Truncated(format!(
            "stream ends {missing} bytes before the end of {size} bytes of content"
        ))
    }
}

/// Fields of a PAX extended header that we use.
#[derive(Debug, Default)]
struct Pax {
    path: Option<String>,
    linkpath: Option<String>,
    size: Option<u64>,
}

impl Pax {
    /// Parses records `"<len> <key>=<value>\n"`, where `len` counts the whole record.
    fn parse(data: &[u8]) -> Result<Pax, String> {
        let mut pax = Pax::default();
        let mut rest = data;
        let mut at = 0usize;
        while !rest.is_empty() {
            let space = rest
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| format!("PAX record at byte {at} has no length"))?;
            let len: usize = std::str::from_utf8(rest.get(..space).unwrap_or_default())
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("PAX record at byte {at} has a bad length"))?;
            let record = rest
                .get(..len)
                .filter(|r| len > space + 1 && r.last() == Some(&b'\n'))
                .ok_or_else(|| format!("PAX record at byte {at} is cut or unterminated"))?;
            let body = record.get(space + 1..len - 1).unwrap_or_default();
            let eq = body
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| format!("PAX record at byte {at} has no '='"))?;
            let key = body.get(..eq).unwrap_or_default();
            let value = body.get(eq + 1..).unwrap_or_default();
            match key {
                b"path" => pax.path = Some(String::from_utf8_lossy(value).into_owned()),
                b"linkpath" => pax.linkpath = Some(String::from_utf8_lossy(value).into_owned()),
                b"size" => {
                    pax.size = Some(
                        std::str::from_utf8(value)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| {
                                format!("PAX size record at byte {at} is not a number")
                            })?,
                    );
                }
                _ => {}
            }
            at += len;
            rest = rest.get(len..).unwrap_or_default();
        }
        Ok(pax)
    }
}

/// The `len`-byte field at `offset` of a header (all header fields lie inside the block).
fn field(header: &[u8; BLOCK], offset: usize, len: usize) -> &[u8] {
    header.get(offset..offset + len).unwrap_or_default()
}

/// A NUL-terminated byte string as text (lossy: names outside UTF-8 are not expected here).
fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// The entry's name: `prefix/name` for POSIX ustar headers, `name` otherwise.
fn header_name(header: &[u8; BLOCK]) -> String {
    let name = cstr(field(header, 0, 100));
    let posix = field(header, 257, 6) == b"ustar\0";
    let prefix = cstr(field(header, 345, 155));
    if posix && !prefix.is_empty() {
        format!("{prefix}/{name}")
    } else {
        name
    }
}

/// Parses a numeric field: octal text (spaces and NULs around it), or GNU base-256.
fn parse_number(bytes: &[u8]) -> Result<u64, String> {
    match bytes.first() {
        Some(0x80) => {
            let mut value: u64 = 0;
            for &b in bytes.get(1..).unwrap_or_default() {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or("base-256 number too large")?;
            }
            Ok(value)
        }
        Some(&b) if b & 0x80 != 0 => Err("negative or unknown base-256 number".into()),
        _ => {
            let text: Vec<u8> = bytes
                .iter()
                .copied()
                .skip_while(|&b| b == b' ' || b == 0)
                .take_while(|&b| b != b' ' && b != 0)
                .collect();
            if text.is_empty() {
                return Ok(0);
            }
            let s = std::str::from_utf8(&text).map_err(|_| "not octal text")?;
            // The field's bytes are not quoted: a file that is no archive (a host file a
            // symlink named) must not have its content printed in an error.
            u64::from_str_radix(s, 8)
                .map_err(|_| format!("{} bytes that are not an octal number", s.len()))
        }
    }
}

/// Checks the header checksum: the unsigned byte sum with the checksum field counted as
/// spaces, or (only when that does not match) the signed sum some old tars wrote.
fn verify_checksum(header: &[u8; BLOCK]) -> Result<(), ArchiveProblem> {
    let stored = parse_number(field(header, 148, 8))
        .map_err(|m| ArchiveProblem::BadHeader(format!("checksum field: {m}")))?;
    let field_bytes = field(header, 148, 8);
    let unsigned: u64 = header.iter().map(|&b| u64::from(b)).sum::<u64>()
        - field_bytes.iter().map(|&b| u64::from(b)).sum::<u64>()
        + 8 * u64::from(b' ');
    if stored == unsigned {
        return Ok(());
    }
    let signed: i64 = header.iter().map(|&b| i64::from(b as i8)).sum::<i64>()
        - field_bytes.iter().map(|&b| i64::from(b as i8)).sum::<i64>()
        + 8 * i64::from(b' ');
    if i64::try_from(stored).ok() == Some(signed) {
        Ok(())
    } else {
        Err(ArchiveProblem::BadHeader(format!(
            "checksum {stored:o} does not match the header's sum {unsigned:o} (not a tar archive?)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"00000001750\0"), Ok(0o1750));
        assert_eq!(parse_number(b"   1750 \0\0\0\0"), Ok(0o1750));
        assert_eq!(parse_number(b"\0\0\0\0"), Ok(0));
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[7] = 1; // 1 << 32
        assert_eq!(parse_number(&b256), Ok(1 << 32));
        assert!(parse_number(&[0xff; 12]).is_err());
        assert!(parse_number(b"12a4\0").is_err());
        let mut huge = [0xffu8; 12];
        huge[0] = 0x80;
        assert!(parse_number(&huge).is_err());
    }

    fn header_with_checksum(sum: impl Fn(&[u8; BLOCK]) -> i64) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..8].copy_from_slice("caf\u{e9}/x\0".as_bytes()); // bytes over 0x7f
        h[124..136].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[148..156].copy_from_slice(b"        ");
        let value = sum(&h);
        h[148..156].copy_from_slice(format!("{value:06o}\0 ").as_bytes());
        h
    }

    #[test]
    fn checksums_unsigned_and_signed() {
        let unsigned = header_with_checksum(|h| h.iter().map(|&b| i64::from(b)).sum());
        assert!(verify_checksum(&unsigned).is_ok());
        let signed = header_with_checksum(|h| h.iter().map(|&b| i64::from(b as i8)).sum());
        assert!(verify_checksum(&signed).is_ok());
        let mut bad = unsigned;
        bad[0] ^= 1;
        assert!(matches!(
            verify_checksum(&bad),
            Err(ArchiveProblem::BadHeader(_))
        ));
    }

    #[test]
    fn pax_records() {
        let pax = Pax::parse(b"30 path=a/very/long/name/here\n12 size=123\n").unwrap();
        assert_eq!(pax.path.as_deref(), Some("a/very/long/name/here"));
        assert_eq!(pax.size, Some(123));
        assert!(Pax::parse(b"99 path=x\n").is_err());
        assert!(Pax::parse(b"9 pathx\n").is_err());
        assert!(Pax::parse(b"x path=a\n").is_err());
        assert!(Pax::parse(b"2 \n").is_err());
    }
}
