//! `cargo xtask dist [--out DIR]`: what a package of lsnvlink ships besides the binary, made
//! from the command-line definition itself (`lsnvlink::cli::command`): a man page for
//! `lsnvlink` and one per subcommand (`lsnvlink-fleet.1`, … by `clap_mangen`), and shell
//! completions for bash, zsh, fish, elvish and PowerShell (`clap_complete`). Default output:
//! `target/dist` (under `CARGO_TARGET_DIR` when set). The release builds themselves are
//! described in `docs/release.md`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use clap_complete::Shell;

/// The binary's name, as completions register it.
const BIN: &str = "lsnvlink";

/// Writes the man pages into `out/man` and the completions into `out/completions`; returns
/// the files written, sorted.
pub fn generate(out: &Path) -> Result<Vec<PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    clap_mangen::generate_to(lsnvlink::cli::command(), &man)
        .with_context(|| format!("writing man pages into {}", man.display()))?;
    for shell in Shell::value_variants() {
        let mut cmd = lsnvlink::cli::command();
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

/// Runs `cargo xtask dist`; `args` are what follows it.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut out = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("dist");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = PathBuf::from(it.next().context("--out needs a directory")?),
            other => bail!("unknown option {other:?} (use --out DIR)"),
        }
    }
    for file in generate(&out)? {
        println!("{}", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
