//! One module per subcommand, and the options they share.

pub mod capture;
pub mod diff;
pub mod dt;
pub mod fleet;
pub mod memlock;
pub mod pci;
pub mod report;
pub mod source;

use std::path::Path;

use anyhow::Context;

/// The whole content of a file named on the command line: opened once, a regular file (a
/// device node, FIFO or socket is refused without a read, a FIFO without blocking), read from
/// that handle, at most `limit` bytes.
pub fn read_input(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    fsroot::read_input(path, limit).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to standard output and flushes it ([`with_stdout`]).
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    with_stdout(|out| std::io::Write::write_all(out, bytes))
}

/// Where a renderer writes: a buffer in front of standard output or a file. The renderers are
/// generic over their writer; this one concrete type keeps their many small writes inlined
/// copies into the buffer, and only a full buffer goes through the `dyn` writer behind it.
pub type Out<'a> = std::io::BufWriter<&'a mut dyn std::io::Write>;

/// Runs `write` on standard output (locked, behind an 8 KiB buffer: a renderer's many small
/// writes become few system calls), then flushes it. A closed standard output (`>&-`) is an
/// error, before anything is written: the Rust runtime reopens a closed descriptor 1 on
/// `/dev/null` (read-write) at start, so a report would exit 0 having written nothing. That is
/// told from a user's `>/dev/null` (opened write-only by the shell) by the access mode. A
/// closed pipe (`EPIPE`) is returned as the error it is; callers decide.
pub fn with_stdout<F>(write: F) -> std::io::Result<()>
where
    F: FnOnce(&mut Out<'_>) -> std::io::Result<()>,
{
    use std::io::Write;
    let stdout = std::io::stdout();
    if stdout_was_closed(&stdout) {
        // Not `BrokenPipe`: that is a reader gone (`| head`), which some commands accept.
        return Err(std::io::Error::other("standard output is closed"));
    }
    let mut lock = stdout.lock();
    let mut out = Out::with_capacity(STDOUT_BUFFER, &mut lock);
    write(&mut out)?;
    out.flush()
}

/// Runs `render`, written against [`std::fmt::Write`] (as `devtree::dts` is), on `out`:
/// text that needs no escaping. The error is the writer's, or `Other` when a formatting trait
/// failed without one.
pub fn write_fmt<W, F>(out: &mut W, render: F) -> std::io::Result<()>
where
    W: std::io::Write + ?Sized,
    F: FnOnce(&mut FmtIo<&mut W>) -> std::fmt::Result,
{
    let mut w = FmtIo { out, error: None };
    let rendered = render(&mut w);
    if let Some(e) = w.error {
        return Err(e);
    }
    rendered.map_err(|_| std::io::Error::other("a value could not be formatted"))
}

/// A [`std::fmt::Write`] over a [`std::io::Write`] that keeps the first write error
/// ([`write_fmt`]).
pub struct FmtIo<W> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> std::fmt::Write for FmtIo<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.error.is_some() {
            return Err(std::fmt::Error);
        }
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}

/// The buffer between a renderer and standard output: 8 KiB, the standard library's default.
/// A 64 KiB one cost more than it saved: freeing a chunk that large makes glibc consolidate
/// its free lists (400,000 instructions at the end of a `pci --format vmm` run).
const STDOUT_BUFFER: usize = 8 * 1024;

/// Whether descriptor 1 is the null device opened read-write: what the runtime put in place
/// of a closed standard output.
fn stdout_was_closed(stdout: &std::io::Stdout) -> bool {
    use rustix::fs::{FileType, OFlags};
    let Ok(stat) = rustix::fs::fstat(stdout) else {
        return true; // EBADF
    };
    let null = FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice
        && rustix::fs::major(stat.st_rdev) == 1
        && rustix::fs::minor(stat.st_rdev) == 3;
    let read_write =
        rustix::fs::fcntl_getfl(stdout).is_ok_and(|flags| flags & OFlags::RWMODE == OFlags::RDWR);
    null && read_write
}
