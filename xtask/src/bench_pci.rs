//! `cargo xtask bench pci [--sizes 200,2000,10000] [--min-runs N]`: `lsnvlink pci` against
//! lspci on generated sysfs trees, side by side in one hyperfine run per mode, as ratios.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use lsnvlink_test_support::synth;

/// One comparison: our arguments, lspci's, and the ratio the PCI issue asks for.
struct Mode {
    name: &'static str,
    ours: &'static [&'static str],
    lspci: &'static [&'static str],
    /// Largest acceptable ours / lspci median at the largest size, if the issue sets one.
    target: Option<f64>,
}

const MODES: &[Mode] = &[
    Mode {
        name: "list -n",
        ours: &["-n"],
        lspci: &["-nD"],
        target: Some(0.5),
    },
    Mode {
        name: "list -nn",
        ours: &[],
        lspci: &["-nnD"],
        target: None,
    },
    Mode {
        name: "tree -t",
        ours: &["-t"],
        lspci: &["-t"],
        target: Some(0.1),
    },
    Mode {
        name: "vmm",
        ours: &["--format", "vmm"],
        lspci: &["-vmmnnDk"],
        target: None,
    },
    Mode {
        name: "json",
        ours: &["--format", "json"],
        lspci: &["-vmmnnDk"],
        target: None,
    },
];

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Median seconds of each command in a hyperfine CSV export (`command,mean,stddev,median,…`).
fn medians(csv: &str) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .filter_map(|line| line.split(',').nth(3)?.parse().ok())
        .collect()
}

/// Runs the benchmark; `args` are what follows `cargo xtask bench pci`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut sizes = vec![200usize, 2_000, 10_000];
    let mut min_runs = 10u32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => {
                let list = it.next().context("--sizes needs a list like 200,2000")?;
                sizes = list
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .context("--sizes")?;
            }
            "--generate" => {
                // Only write a tree (to look at, or to profile): --generate DIR N.
                let dir = it.next().context("--generate needs DIR N")?;
                let n = it.next().context("--generate needs DIR N")?.parse()?;
                synth::generate(Path::new(dir), n)?;
                return Ok(());
            }
            "--min-runs" => {
                min_runs = it.next().context("--min-runs needs a number")?.parse()?;
            }
            other => bail!(
                "unknown option {other:?} (use --sizes N,N,…, --min-runs N, or --generate DIR N)"
            ),
        }
    }
    for tool in ["hyperfine", "lspci"] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!("{tool} is needed (apt-get install hyperfine pciutils)");
        }
    }
    crate::run(crate::cargo().args(["build", "--release", "-p", "lsnvlink-cli"]))?;
    let bin = target_dir(root).join("release/lsnvlink");
    let work = std::env::temp_dir().join(format!("lsnvlink-bench-pci-{}", std::process::id()));
    let mut rows = Vec::new();
    for &n in &sizes {
        let tree = work.join(n.to_string());
        if tree.exists() {
            std::fs::remove_dir_all(&tree)?;
        }
        synth::generate(&tree, n).with_context(|| format!("generating {n} devices"))?;
        let tree_s = tree.display().to_string();
        for mode in MODES {
            let ours = format!(
                "{} pci --root {tree_s} {}",
                bin.display(),
                mode.ours.join(" ")
            );
            let lspci = format!(
                "lspci -A linux-sysfs -O sysfs.path={tree_s}/sys/bus/pci -O hwdb.disable=1 {}",
                mode.lspci.join(" ")
            );
            let csv = work.join("result.csv");
            let status = Command::new("hyperfine")
                .args(["-N", "--warmup", "3", "--min-runs", &min_runs.to_string()])
                .args(["--style", "basic", "--export-csv"])
                .arg(&csv)
                .args([
                    "--output", "null", "-n", "lsnvlink", &ours, "-n", "lspci", &lspci,
                ])
                .status()?;
            if !status.success() {
                bail!("hyperfine failed on {n} devices, {}", mode.name);
            }
            let m = medians(&std::fs::read_to_string(&csv)?);
            let [ours_s, lspci_s] = m[..] else {
                bail!("unexpected hyperfine output");
            };
            rows.push((n, mode, ours_s, lspci_s));
        }
        std::fs::remove_dir_all(&tree)?;
    }
    let _ = std::fs::remove_dir_all(&work);
    let largest = sizes.iter().copied().max().unwrap_or(0);
    println!("\n| devices | mode | lsnvlink median | lspci median | ratio | target |");
    println!("|---:|---|---:|---:|---:|---|");
    let mut missed = Vec::new();
    for (n, mode, ours, lspci) in rows {
        let ratio = ours / lspci;
        let target = match mode.target {
            Some(t) if n == largest => {
                if ratio > t {
                    missed.push(format!("{} at {n}: {ratio:.3} > {t}", mode.name));
                }
                format!("≤ {t} {}", if ratio <= t { "met" } else { "MISSED" })
            }
            _ => String::new(),
        };
        println!(
            "| {n} | {} | {:.1} ms | {:.1} ms | {ratio:.3} | {target} |",
            mode.name,
            ours * 1e3,
            lspci * 1e3
        );
    }
    if !missed.is_empty() {
        bail!("targets missed: {}", missed.join("; "));
    }
    Ok(())
}
