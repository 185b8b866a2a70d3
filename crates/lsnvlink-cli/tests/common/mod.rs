//! Helpers shared by the lsnvlink integration tests: the bundled captures, the report of one,
//! and running the `lsnvlink` binary.
#![allow(
    dead_code, // each test binary uses its own subset
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use lsnvlink::audit::Report;

/// Every capture in `testdata/captures`, in the order snapshots are taken.
pub const CAPTURES: [&str; 10] = [
    "ac922-4gpu-16gb-nvidia",
    "ac922-6gpu-32gb-vfio",
    "ac922-4gpu-eeh-removed",
    "ac922-4gpu-no-gpu-memory",
    "ac922-4gpu-kernel-5.14",
    "ac922-2gpu-16gb-nvidia",
    "ac922-6gpu-16gb-kernel-4.14",
    "ac922-4gpu-5.10-one-atsd",
    "power9-no-gpu",
    "x86-v100-pcie",
];

/// The path of the bundled capture `name` (without `.tar.gz`).
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/captures")
        .join(format!("{name}.tar.gz"))
}

/// The report of the bundled capture `name`, with the built-in PCI names.
pub fn report(name: &str) -> Report {
    let root = fsroot::Root::archive(capture(name)).unwrap();
    Report::read(&root, &pci::Names::builtin()).unwrap()
}

/// The `lsnvlink` binary as a command. When the tests run under emulation (`cargo xtask
/// test-ppc64le` sets `LSNVLINK_TEST_RUNNER` to its `qemu-ppc64le …` runner), the binary is
/// started through that runner, since a foreign binary cannot be executed directly.
pub fn lsnvlink_command() -> Command {
    let bin = env!("CARGO_BIN_EXE_lsnvlink");
    let runner = std::env::var("LSNVLINK_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

/// Runs the `lsnvlink` binary with `args`.
pub fn lsnvlink(args: &[&str]) -> Output {
    lsnvlink_command().args(args).output().unwrap()
}

/// Runs the `lsnvlink` binary with `args`, which must succeed, and returns its output.
pub fn stdout(args: &[&str]) -> String {
    let out = lsnvlink(args);
    assert!(
        out.status.success(),
        "lsnvlink {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs Graphviz `dot -Tplain` on a graph, which it must accept without a word on standard
/// error, and returns what it printed (one `node …` / `edge …` line per element).
pub fn graphviz(text: &str) -> String {
    let out = pipe_through(
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
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a peer tool (`program args`) with `input` on its standard input, written from a thread
/// so that a large input cannot block against a full output pipe, and returns what it printed;
/// `missing` is the message when the tool cannot be started (the test then fails: no peer tool,
/// no pass).
pub fn pipe_through(program: &str, args: &[&str], input: &[u8], missing: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {missing}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}
