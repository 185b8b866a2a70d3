//! `cargo xtask ci`'s portability check: the parts of the workspace meant to build for any
//! target `std` supports do, checked (`cargo check`, nothing linked or run) for targets other
//! than Linux:
//!
//! - `devtree` without its `dir` feature: blobs only, no `fsroot`;
//! - `devtree` with `dir` over `fsroot`, whose host roots are Linux-only: capture archives only.
//!
//! The targets are `wasm32-unknown-unknown` (no operating system at all) and
//! `x86_64-pc-windows-gnu` (no Unix either), added with `rustup target add` when missing.
//! A target that cannot be added (rustup's distribution server unreachable or refused, or no
//! rustup) is skipped, and said so on its own line beginning `ci: SKIPPED`; a check that
//! fails fails CI.

use std::process::Command;

use anyhow::Result;

use crate::ppc64le::target_installed;

/// The targets checked.
pub const TARGETS: [&str; 2] = ["wasm32-unknown-unknown", "x86_64-pc-windows-gnu"];

/// The `cargo check` arguments run for each target (`--target` and `--locked` are added).
const CHECKS: [&[&str]; 2] = [
    &["check", "-p", "devtree", "--no-default-features"],
    &["check", "-p", "devtree", "-p", "fsroot"],
];

/// Whether `target` is installed, after trying to add it.
fn ensure_target(target: &str) -> bool {
    if target_installed(target) {
        return true;
    }
    eprintln!("$ rustup target add {target}");
    Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the checks for every target that is or can be installed. Returns what was skipped,
/// one `ci: SKIPPED …` line per target, already printed once (`cargo xtask ci` prints them
/// again at the end, where they are not lost in the output).
pub fn run() -> Result<Vec<String>> {
    let mut skipped = Vec::new();
    for target in TARGETS {
        if !ensure_target(target) {
            let note = format!(
                "ci: SKIPPED the {target} build check: `rustup target add {target}` failed \
                 (rustup's distribution server unreachable or refused, or no rustup)"
            );
            println!("{note}");
            skipped.push(note);
            continue;
        }
        for args in CHECKS {
            super::run(
                super::cargo()
                    .args(args)
                    .args(["--locked", "--target", target]),
            )?;
        }
    }
    Ok(skipped)
}
