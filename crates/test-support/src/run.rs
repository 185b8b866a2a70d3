//! Running programs from tests: a binary of the crate under test, and the peer tools the tests
//! use as oracles.
//!
//! The helpers that check a tool's answer are assertions: a tool that cannot be started, or
//! that refuses its input, fails the test that called them (no peer tool, no pass), with the
//! caller's location ([`track_caller`](https://doc.rust-lang.org/reference/attributes/codegen.html#the-track_caller-attribute)).

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The environment variable that names the runner of foreign binaries: `cargo xtask
/// test-ppc64le` sets it to its `qemu-ppc64le …` command, since a powerpc64le binary cannot be
/// executed directly on the build host.
pub const RUNNER_VAR: &str = "LSNVLINK_TEST_RUNNER";

/// A binary built by cargo for the tests of its package, by its path: for `lsnvlink`,
/// `Bin::new(env!("CARGO_BIN_EXE_lsnvlink"))` in the lsnvlink-cli tests.
#[derive(Debug, Clone, Copy)]
pub struct Bin {
    path: &'static str,
}

impl Bin {
    /// The binary at `path`.
    pub const fn new(path: &'static str) -> Bin {
        Bin { path }
    }

    /// The binary as a command. When [`RUNNER_VAR`] names a runner (words separated by
    /// white space), the binary is started through it.
    pub fn command(&self) -> Command {
        let runner = std::env::var(RUNNER_VAR).unwrap_or_default();
        let mut words = runner.split_whitespace();
        match words.next() {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(words).arg(self.path);
                cmd
            }
            None => Command::new(self.path),
        }
    }

    /// Runs the binary with `args` and returns what it did; fails the test when it cannot be
    /// started.
    #[track_caller]
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        match self.command().args(args).output() {
            Ok(out) => out,
            Err(e) => fail(format_args!("cannot run {} ({e})", self.path)),
        }
    }

    /// Runs the binary with `args`, which must succeed and print UTF-8, and returns its
    /// standard output.
    #[track_caller]
    pub fn stdout<S: AsRef<OsStr> + std::fmt::Debug>(&self, args: &[S]) -> String {
        let out = self.run(args);
        let name = Path::new(self.path)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        assert!(
            out.status.success(),
            "{name} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        utf8(&name, out.stdout)
    }
}

/// Runs `program args` with `input` on its standard input, written from a thread so that a
/// large input cannot block against a full output pipe, and returns what it did.
pub fn pipe_through(program: &str, args: &[&str], input: &[u8]) -> io::Result<Output> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || match stdin {
        Some(mut stdin) => stdin.write_all(&input),
        None => Ok(()),
    });
    let out = child.wait_with_output()?;
    match writer.join() {
        Ok(written) => written?,
        Err(_) => return Err(io::Error::other(format!("{program}: the writer panicked"))),
    }
    Ok(out)
}

/// Runs a peer tool through [`pipe_through`]; `missing` says how to install it when it cannot
/// be started.
#[track_caller]
fn peer(program: &str, args: &[&str], input: &[u8], missing: &str) -> Output {
    match pipe_through(program, args, input) {
        Ok(out) => out,
        Err(e) => fail(format_args!("cannot run {program} ({e}): {missing}")),
    }
}

/// Runs Graphviz `dot -Tplain` on a graph, which it must accept without a word on standard
/// error, and returns what it printed (one `node …` / `edge …` line per element).
#[track_caller]
pub fn graphviz(text: &str) -> String {
    let out = peer(
        "dot",
        &["-Tplain"],
        text.as_bytes(),
        "Graphviz `dot` must be installed (apt-get install graphviz)",
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "dot refused the graph: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    utf8("dot", out.stdout)
}

/// Runs dtc (Debian `device-tree-compiler`) with `args`, feeding it `input`, which must
/// succeed; returns its standard output.
#[track_caller]
pub fn dtc(args: &[&str], input: &[u8]) -> Vec<u8> {
    let out = peer(
        "dtc",
        args,
        input,
        "dtc (Debian device-tree-compiler) must be installed: .ci/run installs it",
    );
    assert!(
        out.status.success(),
        "dtc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `promtool check metrics` on `text` and fails on any complaint (promtool exits 3 for a
/// lint problem, 1 for a parse error). promtool is required: CI installs Debian's
/// `prometheus` package for it.
#[track_caller]
pub fn promtool_check_metrics(text: &str) {
    let o = peer(
        "promtool",
        &["check", "metrics"],
        text.as_bytes(),
        "install it (Debian: apt-get install prometheus)",
    );
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n{text}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `bytes` as text; fails the test when `program` printed something else than UTF-8.
#[track_caller]
fn utf8(program: &str, bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => fail(format_args!(
            "{program} printed something else than UTF-8: {e}"
        )),
    }
}

/// Fails the calling test with `message`.
#[track_caller]
#[allow(
    clippy::panic,
    reason = "an assertion helper: a tool that cannot run, or refuses its input, fails the test"
)]
fn fail(message: std::fmt::Arguments<'_>) -> ! {
    panic!("{message}")
}
