//! `cargo xtask test-ppc64le`: the workspace's unit and integration tests, cross-built for
//! `powerpc64le-unknown-linux-gnu` (the AC922's architecture) and run under `qemu-user`.
//!
//! What it needs, and where it comes from:
//! - the Rust target, added with `rustup target add` when missing;
//! - a linker: Debian's `gcc-powerpc64le-linux-gnu` (`powerpc64le-linux-gnu-gcc`, with
//!   `libc6-dev-ppc64el-cross`);
//! - a runner: `qemu-ppc64le` from `qemu-user`.
//!
//! The test binaries are linked statically (`-C target-feature=+crt-static`), so the runner
//! needs no `-L /usr/powerpc64le-linux-gnu`: with `-L`, qemu-user redirects every path the
//! program opens to that prefix whenever the prefix holds it, `/` included, so a test that
//! walks the live machine's root would walk the cross toolchain's sysroot instead.
//!
//! Linker and runner are given to cargo through `CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_*`
//! in this process's children only (no committed `.cargo/config.toml` entry, so other builds
//! are untouched). Tests that start the `lsnvlink` binary as a process go through the same
//! runner (`LSNVLINK_TEST_RUNNER`, read by `lsnvlink_test_support::Bin`); the peer tools the
//! tests use as oracles (`dtc`, `lspci`, `dot`) are host programs and run natively.
//!
//! Exit status: 0 when every test passed, 1 when a test (or the build) failed, and
//! [`UNAVAILABLE`] when the toolchain cannot be had here (the target cannot be installed, or
//! the linker or qemu is missing): `.ci/run` reports that plainly and goes on.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};

/// The target triple of the POWER9 hosts.
pub const TARGET: &str = "powerpc64le-unknown-linux-gnu";
/// The cross linker (Debian's `gcc-powerpc64le-linux-gnu`).
pub const LINKER: &str = "powerpc64le-linux-gnu-gcc";
/// The user-mode emulator (Debian's `qemu-user`).
const QEMU: &str = "qemu-ppc64le";
/// Where the cross toolchain keeps the target's C library (static glibc comes from there).
pub const SYSROOT: &str = "/usr/powerpc64le-linux-gnu";
/// The exit status when the toolchain is not available on this machine.
pub const UNAVAILABLE: u8 = 3;

/// Whether `program args…` starts and exits successfully.
pub fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the Rust target `target` is installed (asks rustup; without rustup, the sysroot).
pub fn target_installed(target: &str) -> bool {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        });
    match listed {
        Some(found) => found,
        None => Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .is_some_and(|sysroot| {
                Path::new(&sysroot)
                    .join("lib/rustlib")
                    .join(target)
                    .is_dir()
            }),
    }
}

/// The rustflags of every static powerpc64le build (the tests here, `cargo xtask powernv`'s
/// binary): the same flags let the two share compiled dependencies.
pub const RUSTFLAGS: &str = "-C target-feature=+crt-static";

/// Sets the linker and rustflags of a static powerpc64le build on `cmd` (a cargo command), for
/// that command's process only.
pub fn cross_env(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_LINKER", LINKER)
        .env(
            "CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            RUSTFLAGS,
        )
}

/// What is missing to cross-build and run the tests, in words; empty when nothing is.
fn missing_toolchain() -> Vec<String> {
    let mut missing = missing_cross_build();
    if !works(QEMU, &["-version"]) {
        missing.push(format!("the emulator {QEMU} (apt-get install qemu-user)"));
    }
    missing
}

/// What is missing to build static powerpc64le binaries (the Rust target, added with rustup
/// when it can be; the cross linker; the target's static C library), in words.
pub fn missing_cross_build() -> Vec<String> {
    let mut missing = Vec::new();
    if !target_installed(TARGET) {
        eprintln!("$ rustup target add {TARGET}");
        let added = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status()
            .is_ok_and(|s| s.success());
        if !added {
            missing.push(format!(
                "the Rust target {TARGET}: `rustup target add {TARGET}` failed \
                 (rustup's distribution server unreachable or refused, or no rustup)"
            ));
        }
    }
    if !works(LINKER, &["--version"]) {
        missing.push(format!(
            "the linker {LINKER} (apt-get install gcc-powerpc64le-linux-gnu \
             libc6-dev-ppc64el-cross)"
        ));
    } else if !Path::new(SYSROOT).join("lib/libc.a").is_file() {
        missing.push(format!(
            "the target's C library in {SYSROOT} (apt-get install libc6-dev-ppc64el-cross)"
        ));
    }
    missing
}

/// Runs `cargo xtask test-ppc64le [-- CARGO-TEST-ARGS…]`.
/// Returns the exit status: 0, 1, or [`UNAVAILABLE`].
pub fn run(root: &Path, extra: &[String]) -> Result<u8> {
    let missing = missing_toolchain();
    if !missing.is_empty() {
        eprintln!("test-ppc64le: cannot cross-test for {TARGET} on this machine; missing:");
        for m in &missing {
            eprintln!("  - {m}");
        }
        return Ok(UNAVAILABLE);
    }
    let runner = QEMU;
    let started = Instant::now();
    // nextest runs every test in a process of its own, so two emulated tests can run side by
    // side on two cores without sharing an emulated process; without nextest, cargo test runs
    // each binary's tests one at a time.
    let nextest = super::has_nextest();
    let mut cmd = super::cargo();
    cross_env(cmd.current_dir(root))
        .env("CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_RUNNER", runner)
        .env("LSNVLINK_TEST_RUNNER", runner)
        // One test at a time in each emulated process: qemu-user can deadlock a child between
        // fork and exec when other threads of the emulated process hold its locks (seen here:
        // a test that starts the lsnvlink binary hung for good while others ran beside it).
        .env("RUST_TEST_THREADS", "1");
    // Doc tests are compiled for the host by default; the unit and integration tests are
    // what runs under emulation.
    if nextest {
        cmd.args(["nextest", "run"]);
    } else {
        cmd.arg("test");
    }
    cmd.args([
        "--workspace",
        "--locked",
        "--target",
        TARGET,
        "--lib",
        "--bins",
        "--tests",
        "--no-fail-fast",
    ])
    .args(extra);
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let took = started.elapsed().as_secs_f64();
    if status.success() {
        eprintln!("test-ppc64le: every test passed under {QEMU} ({took:.0} s)");
        Ok(0)
    } else {
        eprintln!("test-ppc64le: FAILED under {QEMU} ({status}, {took:.0} s)");
        Ok(1)
    }
}
