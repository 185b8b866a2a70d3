//! Project automation, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! - `cargo xtask ci`: what CI runs — format check, clippy with `-D warnings` (the workspace,
//!   and `devtree` without its default features), the build check for targets other than
//!   Linux (`devtree` without `dir`, `fsroot`'s archives; a target that cannot be installed is
//!   skipped with a `ci: SKIPPED` line), doc tests, the hostile-capture check, then every unit
//!   and integration test (with cargo-nextest where installed).
//! - `cargo xtask fuzz TARGET --seconds N` (or `--all`): runs a `cargo fuzz` target on the
//!   stable toolchain (`--sanitizer none`), seeded from `fuzz/seeds/TARGET` and the matching
//!   `testdata/` directories (captures, device-tree blobs, hwloc captures).
//! - `cargo xtask testdata [--check]`: regenerates the test captures in `testdata/captures`
//!   from the host model in `src/testdata/` (or checks that they are up to date).
//! - `cargo xtask dist [--out DIR] [--arch x86_64|ppc64le|all] [--docs-only]`: man pages,
//!   shell completions, static release builds, and `.deb` and `.rpm` packages.
//! - `cargo xtask pictures [--check]`: draws the README's topology pictures (`docs/*.svg`).
//! - `cargo xtask bench TARGET [OPTIONS]`: a benchmark side by side with the peer tool (not
//!   run in CI): `dt` against dtc, `pci` against lspci on generated trees, `report` and `fleet`
//!   as whole processes on the bundled captures.
//! - `cargo xtask hostile [--release]`: the hostile-capture corpus, generated into a
//!   temporary directory, each case run as a whole `lsnvlink` process within memory and time
//!   bounds (also run by `cargo xtask ci`).
//! - `cargo xtask test-ppc64le`: the tests cross-built for powerpc64le and run under
//!   qemu-user (exit 3 when the toolchain cannot be had here).
//! - `cargo xtask powernv [--save-capture] [--expect-devices N]`: lsnvlink run live on a real
//!   POWER9 kernel under QEMU's `powernv9` machine, every output checked on the build host
//!   (exit 3 when QEMU, the toolchain or Debian's ppc64el packages cannot be had here).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod bench_dt;
mod bench_fleet;
mod bench_pci;
mod bench_report;
mod dist;
mod hostile;
mod pictures;
mod portable;
mod powernv;
mod ppc64le;
mod testdata;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "lsnvlink project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Format check, clippy with -D warnings, and every test of the workspace.
    Ci,
    /// Run fuzz targets with cargo fuzz (installed on first use).
    Fuzz {
        /// Target to run (see fuzz/fuzz_targets); omit with --all.
        target: Option<String>,
        /// Run every target, one after the other.
        #[arg(long)]
        all: bool,
        /// How long to run each target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Regenerate testdata/captures/*.tar.gz from the host model (byte-identical on a rerun).
    Testdata {
        /// Compare with the committed files instead of writing; fail when they differ.
        #[arg(long)]
        check: bool,
    },
    /// Man pages, completions, static builds, .deb and .rpm (into target/dist, or --out DIR).
    Dist {
        /// Options: --out DIR, --arch x86_64|ppc64le|all, --docs-only.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Draw docs/topology-*.svg from the bundled captures (lsnvlink --format dot, Graphviz).
    Pictures {
        /// Compare with the committed pictures instead of writing; fail when they differ.
        #[arg(long)]
        check: bool,
    },
    /// Benchmark against the peer tool (targets: dt, fleet, pci, report); prints medians and ratios.
    Bench {
        /// What to benchmark: dt, pci, report or fleet.
        target: String,
        /// Options of that benchmark (pci: --sizes 200,2000,10000 --min-runs 10; dt: --min-runs 20).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Generate the hostile-capture corpus and check lsnvlink's exit, memory and time on each.
    Hostile {
        /// Options: --release, --bin FILE, --keep DIR.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Cross-build the tests for powerpc64le and run them under qemu-ppc64le (exit 3: no toolchain).
    #[command(name = "test-ppc64le")]
    TestPpc64le {
        /// More arguments for cargo test (e.g. a test name filter after --).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Boot Debian's POWER9 kernel under qemu-system-ppc64 -M powernv9, run lsnvlink live in
    /// it, check every output on this host (exit 3: QEMU, toolchain or packages missing).
    Powernv {
        /// Copy the guest's capture to testdata/captures/powernv9-qemu-live.tar.gz when every
        /// check passed.
        #[arg(long)]
        save_capture: bool,
        /// The number of PCI functions the guest must show (default: the 12 it has); a wrong
        /// number must fail the run.
        #[arg(long, value_name = "N")]
        expect_devices: Option<usize>,
        /// Seconds the guest may run before the run fails.
        #[arg(long, value_name = "SECONDS", default_value_t = 600)]
        timeout: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Ci => ci(),
        Task::Fuzz {
            target,
            all,
            seconds,
        } => fuzz(target, all, seconds),
        Task::Testdata { check } => testdata::run(&project_root(), check),
        Task::Dist { args } => dist::run(&project_root(), &args),
        Task::Pictures { check } => pictures::run(&project_root(), check),
        Task::Bench { target, args } => match target.as_str() {
            "dt" => bench_dt::run(&project_root(), &args),
            "fleet" => bench_fleet::run(&project_root(), &args),
            "pci" => bench_pci::run(&project_root(), &args),
            "report" => bench_report::run(&project_root(), &args),
            other => bail!("no benchmark {other:?}; benchmarks: dt, fleet, pci, report"),
        },
        Task::Hostile { args } => hostile::run(&project_root(), &args),
        Task::TestPpc64le { args } => match ppc64le::run(&project_root(), &args)? {
            0 => Ok(()),
            code => std::process::exit(i32::from(code)),
        },
        Task::Powernv {
            save_capture,
            expect_devices,
            timeout,
        } => {
            let opts = powernv::Options {
                save_capture,
                expect_devices,
                timeout,
            };
            match powernv::run(&project_root(), &opts)? {
                0 => Ok(()),
                code => std::process::exit(i32::from(code)),
            }
        }
    }
}

/// The repository root (the parent of this crate's directory).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

fn ci() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The libraries with their optional parts left out: devtree without the directory reader,
    // fsroot without decompressors, lsnvlink without capture writing or rayon.
    for package in ["devtree", "fsroot", "lsnvlink"] {
        run(cargo().args([
            "clippy",
            "-p",
            package,
            "--no-default-features",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    run(cargo().args([
        "test",
        "-p",
        "fsroot",
        "--no-default-features",
        "--lib",
        "--locked",
    ]))?;
    // devtree and fsroot's archives build for targets other than Linux.
    let skipped = portable::run()?;
    run(cargo().args(["test", "--workspace", "--locked", "--doc"]))?;
    // Every library and the command can be published: each crate packaged as it would be
    // uploaded and built from that package alone, against the others' packages (cargo's
    // workspace publish uses a local registry for them). --allow-dirty: a developer's
    // uncommitted edits are packaged as they are; CI runs on a clean clone.
    forget_unpacked_packages()?;
    run(cargo().args(["publish", "--workspace", "--dry-run", "--allow-dirty"]))?;
    // The hostile-capture corpus: each case as a whole process, within memory and time.
    hostile::run(&project_root(), &[])?;
    // The unit and integration tests last, so that their summary closes the output: nextest
    // where the machine has it (one summary line for the whole workspace), else cargo test.
    if has_nextest() {
        run(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]))?;
    } else {
        run(cargo().args([
            "test",
            "--workspace",
            "--locked",
            "--lib",
            "--bins",
            "--tests",
        ]))?;
    }
    for note in skipped {
        println!("{note}");
    }
    Ok(())
}

/// Whether cargo-nextest is installed.
fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The packages `cargo publish --workspace --dry-run` builds from their `.crate` files.
const PUBLISHED: [&str; 6] = [
    "fsroot",
    "devtree",
    "lsnvlink-pci",
    "lsnvlink-memlock",
    "lsnvlink",
    "lsnvlink-cli",
];

/// Removes the copies of this workspace's packages that an earlier dry run unpacked from its
/// local registry (`$CARGO_HOME/registry/src/-<hash>/NAME-VERSION`: local registries have
/// no host name). Cargo reuses an unpacked `NAME-VERSION` as it is, and the version does not
/// change between commits, so without this a second dry run from the same directory builds
/// the first run's sources.
fn forget_unpacked_packages() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(()); // nothing unpacked yet
    };
    for registry in registries {
        let registry = registry?.path();
        let local = registry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('-'));
        if !local {
            continue;
        }
        for entry in std::fs::read_dir(&registry)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let ours = name.as_deref().is_some_and(|n| {
                PUBLISHED.iter().any(|p| {
                    n.strip_prefix(p)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                })
            });
            if ours {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

fn fuzz_targets() -> Result<Vec<String>> {
    let dir = project_root().join("fuzz/fuzz_targets");
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem()
        {
            targets.push(stem.to_string_lossy().into_owned());
        }
    }
    targets.sort();
    Ok(targets)
}

/// The `testdata/` directories that seed a fuzz target besides `fuzz/seeds/TARGET`.
fn testdata_seeds(target: &str) -> &'static [&'static str] {
    match target {
        "report" | "fsroot" => &["testdata/captures"],
        "devtree" => &["testdata/dt"],
        "inputs" => &["testdata/hwloc"],
        _ => &[],
    }
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

fn fuzz(target: Option<String>, all: bool, seconds: u64) -> Result<()> {
    let known = fuzz_targets()?;
    let targets = match (target, all) {
        (_, true) => known,
        (Some(t), false) if known.contains(&t) => vec![t],
        (Some(t), false) => bail!("no fuzz target {t:?}; targets: {}", known.join(", ")),
        (None, false) => bail!("name a target or give --all; targets: {}", known.join(", ")),
    };
    ensure_cargo_fuzz()?;
    let root = project_root();
    for target in targets {
        let corpus = root.join("fuzz/corpus").join(&target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = root.join("fuzz/seeds").join(&target);
        let mut cmd = cargo();
        cmd.current_dir(root.join("fuzz")).args([
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            "--release",
            &target,
        ]);
        cmd.arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        // Seeds read straight from testdata/ (not copied into fuzz/seeds).
        for dir in testdata_seeds(&target) {
            cmd.arg(root.join(dir));
        }
        cmd.arg("--").arg(format!("-max_total_time={seconds}"));
        cmd.arg("-print_final_stats=1");
        run(&mut cmd)?;
    }
    Ok(())
}
