//! `cargo xtask dist [--out DIR] [--arch x86_64|ppc64le|all] [--docs-only]`: what lsnvlink
//! ships, into `target/dist` (under `CARGO_TARGET_DIR` when set) or `--out DIR`.
//!
//! - Man pages for `lsnvlink` and each subcommand (`clap_mangen`) and shell completions
//!   (`clap_complete`), made from the command-line definition itself
//!   (`lsnvlink_cli::cli::command`): `man/`, `completions/`. `--docs-only` stops there.
//! - Per architecture, one static release build, checked (no ELF interpreter, the right
//!   machine, `--version` and a report on a bundled capture run: natively, or under
//!   `qemu-ppc64le`), then packaged twice from that one build: a `.deb` (cargo-deb) and an
//!   `.rpm` (cargo-generate-rpm), with the man pages, completions, the systemd units and the
//!   NHC check (`[package.metadata.deb]` and `[package.metadata.generate-rpm]` in
//!   `crates/lsnvlink-cli/Cargo.toml`), and the bare binary as `lsnvlink-VERSION-ARCH`.
//!   - x86_64: `x86_64-unknown-linux-musl`, static musl (no C code in the dependency tree, so
//!     Rust's self-contained musl needs no musl-gcc).
//!   - ppc64le: `powerpc64le-unknown-linux-gnu` linked statically against glibc
//!     (`+crt-static`, the cross toolchain's `libc.a`), as `cargo xtask test-ppc64le` links the
//!     tests. rustup lists a `powerpc64le-unknown-linux-musl` std (tier 2 since Rust 1.85),
//!     but its download is refused here (HTTP 404 from the distribution server), so the
//!     static glibc build is what is made; it needs no glibc on the host at all, RHEL 8's 2.28
//!     included (glibc's own floor is the kernel: 3.10 on ppc64le; RHEL 8 runs 4.18).
//!
//! The release builds strip symbols (`CARGO_PROFILE_RELEASE_STRIP=symbols`, for these builds
//! only), so the packagers are run with `--no-strip` and no cross `strip` is needed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use clap_complete::Shell;

/// The binary's name, as completions register it.
const BIN: &str = "lsnvlink";
/// The package that builds the binary and carries the packaging metadata.
const PACKAGE: &str = "lsnvlink-cli";
/// The ppc64le cross linker (Debian's `gcc-powerpc64le-linux-gnu`), as in `ppc64le.rs`.
const PPC_LINKER: &str = "powerpc64le-linux-gnu-gcc";
/// The user-mode emulator that runs the ppc64le build here (Debian's `qemu-user`).
const PPC_QEMU: &str = "qemu-ppc64le";
/// The capture every built binary reports on before it is packaged.
const SMOKE_CAPTURE: &str = "testdata/captures/ac922-4gpu-16gb-nvidia.tar.gz";

/// One architecture of the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arch {
    X86_64,
    Ppc64le,
}

impl Arch {
    /// The Rust target triple of its build.
    fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Ppc64le => super::ppc64le::TARGET,
        }
    }

    /// The name in file names and messages.
    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Ppc64le => "ppc64le",
        }
    }

    /// ELF `e_machine` of its binaries (EM_X86_64, EM_PPC64).
    fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Ppc64le => 21,
        }
    }

    /// The build command's environment: the linker and static linking (musl is static by
    /// default), symbols stripped.
    fn build_env(self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("CARGO_PROFILE_RELEASE_STRIP", "symbols")];
        if self == Arch::Ppc64le {
            env.push((
                "CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_LINKER",
                PPC_LINKER,
            ));
            env.push((
                "CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                "-C target-feature=+crt-static",
            ));
        }
        env
    }

    /// `binary ARGS…`, through the emulator for a foreign architecture.
    fn command(self, binary: &Path) -> Command {
        match self {
            Arch::X86_64 => Command::new(binary),
            Arch::Ppc64le => {
                let mut cmd = Command::new(PPC_QEMU);
                cmd.arg(binary);
                cmd
            }
        }
    }
}

/// Writes the man pages into `out/man` and the completions into `out/completions`; returns
/// the files written, sorted.
pub fn generate(out: &Path) -> Result<Vec<PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    clap_mangen::generate_to(lsnvlink_cli::cli::command(), &man)
        .with_context(|| format!("writing man pages into {}", man.display()))?;
    for shell in Shell::value_variants() {
        let mut cmd = lsnvlink_cli::cli::command();
        clap_complete::generate_to(*shell, &mut cmd, BIN, &completions)
            .with_context(|| format!("writing {shell} completions"))?;
    }
    let mut files = Vec::new();
    for dir in [&man, &completions] {
        for entry in std::fs::read_dir(dir)? {
            files.push(entry?.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The target directory cargo builds into.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Whether the ELF file `bytes` is a 64-bit little-endian executable for `machine` without a
/// program interpreter (`PT_INTERP`): a static binary, which needs no C library on the host.
fn static_elf(bytes: &[u8], machine: u16) -> Result<()> {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        bail!("not a 64-bit little-endian ELF file");
    }
    let found = u16_at(0x12).context("truncated ELF header")?;
    if found != machine {
        bail!("ELF machine {found}, expected {machine}");
    }
    let phoff = usize::try_from(u64_at(0x20).context("truncated ELF header")?)?;
    let phentsize = usize::from(u16_at(0x36).context("truncated ELF header")?);
    let phnum = usize::from(u16_at(0x38).context("truncated ELF header")?);
    for i in 0..phnum {
        let at = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .context("program header offset overflows")?;
        // PT_INTERP: the dynamic loader a dynamically linked program needs.
        if u32_at(at).context("truncated program headers")? == 3 {
            bail!("has a program interpreter (PT_INTERP): dynamically linked");
        }
    }
    Ok(())
}

/// Runs `cmd`, failing with its output when it fails; returns standard output.
fn output(cmd: &mut Command) -> Result<String> {
    let o = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !o.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Whether `cargo SUBCOMMAND --version` works.
fn has_cargo_subcommand(name: &str) -> bool {
    super::cargo()
        .args([name, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Adds the Rust target `triple` with rustup when it is not installed.
fn ensure_target(triple: &str) -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
        .is_ok_and(|list| list.lines().any(|l| l.trim() == triple));
    if !installed {
        super::run(Command::new("rustup").args(["target", "add", triple]))?;
    }
    Ok(())
}

/// Builds, checks and packages one architecture into `out`.
fn package(root: &Path, out: &Path, arch: Arch) -> Result<()> {
    let triple = arch.triple();
    ensure_target(triple)?;
    let started = Instant::now();
    let mut build = super::cargo();
    build
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            PACKAGE,
            "--bin",
            BIN,
            "--target",
            triple,
        ])
        .envs(arch.build_env());
    super::run(&mut build)?;
    let built = started.elapsed().as_secs_f64();
    let products = target_dir(root).join(triple).join("release");
    let binary = products.join(BIN);
    let bytes = std::fs::read(&binary).with_context(|| format!("{}", binary.display()))?;
    static_elf(&bytes, arch.elf_machine())
        .with_context(|| format!("{} is not a static binary", binary.display()))?;
    let version = output(arch.command(&binary).arg("--version"))?;
    if !version.contains(lsnvlink::VERSION) {
        bail!("{} --version printed {version:?}", binary.display());
    }
    output(
        arch.command(&binary)
            .arg("--capture")
            .arg(root.join(SMOKE_CAPTURE))
            .args(["--format", "json"]),
    )?;
    // The packagers find the man pages and completions among the build products.
    generate(&products.join("dist"))?;
    let plain = out.join(format!("{BIN}-{}-{}", lsnvlink::VERSION, arch.name()));
    std::fs::copy(&binary, &plain)
        .with_context(|| format!("copying {} to {}", binary.display(), plain.display()))?;
    let mut deb = super::cargo();
    deb.args([
        "deb",
        "-p",
        PACKAGE,
        "--no-build",
        "--no-strip",
        "--target",
        triple,
    ])
    .arg("--output")
    .arg(out);
    super::run(&mut deb)?;
    let mut rpm = super::cargo();
    // xz, as RHEL 8's own packages are compressed: its rpm 4.14 reads xz for certain, while
    // cargo-generate-rpm's default, zstd, is only sure from RHEL 9 on.
    rpm.args([
        "generate-rpm",
        "-p",
        "crates/lsnvlink-cli",
        "--target",
        triple,
    ])
    .args(["--payload-compress", "xz"])
    .arg("--target-dir")
    .arg(target_dir(root))
    .arg("--output")
    .arg(out);
    super::run(&mut rpm)?;
    eprintln!(
        "dist: {} ({triple}): release build {built:.0} s, packages {:.0} s",
        arch.name(),
        started.elapsed().as_secs_f64() - built
    );
    Ok(())
}

/// The files directly in `dir`, sorted.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Runs `cargo xtask dist`; `args` are what follows it.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut out = target_dir(root).join("dist");
    let mut arches = vec![Arch::X86_64, Arch::Ppc64le];
    let mut docs_only = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = PathBuf::from(it.next().context("--out needs a directory")?),
            "--docs-only" => docs_only = true,
            "--arch" => {
                arches = match it.next().map(String::as_str) {
                    Some("x86_64") => vec![Arch::X86_64],
                    Some("ppc64le") => vec![Arch::Ppc64le],
                    Some("all") => vec![Arch::X86_64, Arch::Ppc64le],
                    other => bail!("--arch takes x86_64, ppc64le or all, not {other:?}"),
                }
            }
            other => {
                bail!(
                    "unknown option {other:?} (use --out DIR, --arch x86_64|ppc64le|all, --docs-only)"
                )
            }
        }
    }
    for file in generate(&out)? {
        println!("{}", file.display());
    }
    if docs_only {
        return Ok(());
    }
    let missing: Vec<&str> = ["deb", "generate-rpm"]
        .into_iter()
        .filter(|s| !has_cargo_subcommand(s))
        .collect();
    if !missing.is_empty() {
        bail!(
            "cargo {} missing: cargo install cargo-deb cargo-generate-rpm --locked",
            missing.join(", cargo ")
        );
    }
    for arch in arches {
        package(root, &out, arch)?;
    }
    for file in list(&out)? {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        println!("{} ({size} bytes)", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_elf_has_no_interpreter() {
        // A minimal ELF64 header with one program header of type `ty`.
        let elf = |machine: u16, ty: u32| {
            let mut b = vec![0u8; 64 + 56];
            b[..6].copy_from_slice(b"\x7fELF\x02\x01");
            b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
            b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
            b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
            b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
            b[64..68].copy_from_slice(&ty.to_le_bytes());
            b
        };
        assert!(static_elf(&elf(62, 1), 62).is_ok());
        assert!(static_elf(&elf(62, 3), 62).is_err());
        assert!(static_elf(&elf(21, 1), 62).is_err());
        assert!(static_elf(b"#!/bin/sh\n", 62).is_err());
        let mut truncated = elf(62, 1);
        truncated.truncate(66);
        assert!(static_elf(&truncated, 62).is_err());
    }

    #[test]
    fn man_pages_for_every_command_and_completions_for_every_shell() -> Result<()> {
        let out = std::env::temp_dir().join(format!("lsnvlink-dist-test-{}", std::process::id()));
        let files = generate(&out)?;
        let names: Vec<String> = files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        for page in [
            "lsnvlink.1",
            "lsnvlink-capture.1",
            "lsnvlink-dt.1",
            "lsnvlink-fleet.1",
            "lsnvlink-memlock.1",
            "lsnvlink-pci.1",
        ] {
            assert!(names.iter().any(|n| n == page), "{page} in {names:?}");
        }
        for completion in ["lsnvlink.bash", "_lsnvlink", "lsnvlink.fish"] {
            assert!(names.iter().any(|n| n == completion), "{completion}");
        }
        let man = std::fs::read_to_string(out.join("man/lsnvlink.1"))?;
        assert!(
            man.starts_with(".ie") || man.contains(".TH lsnvlink"),
            "{man}"
        );
        assert!(man.contains("Examples:"));
        assert!(man.contains("sosreport"));
        let bash = std::fs::read_to_string(out.join("completions/lsnvlink.bash"))?;
        assert!(bash.contains("fleet") && bash.contains("--format"));
        std::fs::remove_dir_all(&out)?;
        Ok(())
    }
}
