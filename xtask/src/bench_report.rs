//! `cargo xtask bench report [--capture NAME] [--min-runs N]`: the whole `lsnvlink` process
//! writing the report of a bundled capture (default: the 6-GPU one), in every format, read
//! from the archive and from the same capture unpacked into a directory (`--root`, the way a
//! live host is read). Wall time by hyperfine (median), peak RSS by GNU time (`%M`, the largest
//! of 10 runs). The `--capture` rows are checked against the targets of the report issue:
//! median ≤ 10 ms, peak RSS ≤ 16 MB; the benchmark fails when they are missed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The report issue's targets.
const MAX_MEDIAN_MS: f64 = 10.0;
const MAX_RSS_KB: u64 = 16 * 1024;

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

/// Largest peak RSS (KiB) over `runs` runs of `cmd`, from GNU time's `%M`.
fn peak_rss_kb(bin: &Path, args: &[String], runs: u32) -> Result<u64> {
    let mut peak = 0;
    for _ in 0..runs {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(bin)
            .args(args)
            .output()
            .context("cannot run /usr/bin/time (apt-get install time)")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let kb: u64 = stderr
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .with_context(|| format!("no %M in GNU time's output: {stderr}"))?;
        peak = peak.max(kb);
    }
    Ok(peak)
}

/// Runs the benchmark; `args` are what follows `cargo xtask bench report`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut capture = "ac922-6gpu-32gb-vfio".to_owned();
    let mut min_runs = 50u32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--capture" => capture = it.next().context("--capture needs a name")?.clone(),
            "--min-runs" => {
                min_runs = it.next().context("--min-runs needs a number")?.parse()?;
            }
            other => bail!("unknown option {other:?} (use --capture NAME and --min-runs N)"),
        }
    }
    if Command::new("hyperfine").arg("--version").output().is_err() {
        bail!("hyperfine is needed (apt-get install hyperfine)");
    }
    let archive = root
        .join("testdata/captures")
        .join(format!("{capture}.tar.gz"));
    if !archive.is_file() {
        bail!("no capture {}", archive.display());
    }
    crate::run(crate::cargo().args(["build", "--release", "-p", "lsnvlink-cli"]))?;
    let bin = target_dir(root).join("release/lsnvlink");
    let work = std::env::temp_dir().join(format!("lsnvlink-bench-report-{}", std::process::id()));
    let unpacked = work.join("root");
    std::fs::create_dir_all(&unpacked)?;
    crate::run(
        Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpacked),
    )?;

    let sources: [(&str, Vec<String>); 2] = [
        (
            "--capture",
            vec!["--capture".into(), archive.display().to_string()],
        ),
        (
            "--root",
            vec!["--root".into(), unpacked.display().to_string()],
        ),
    ];
    let mut rows = Vec::new();
    for (source, source_args) in &sources {
        let mut hyper = Command::new("hyperfine");
        let csv = work.join("result.csv");
        hyper
            .args(["-N", "--warmup", "5", "--min-runs", &min_runs.to_string()])
            .args(["--style", "basic", "--output", "null", "-i", "--export-csv"])
            .arg(&csv);
        let mut commands = Vec::new();
        for format in ["text", "matrix", "json"] {
            let mut args = source_args.clone();
            args.extend(["--format".to_owned(), format.to_owned()]);
            let line = format!("{} {}", bin.display(), args.join(" "));
            hyper.args(["-n", format, &line]);
            commands.push((format, args));
        }
        // `-i`: the report exits 1 when it has error findings; the 6-GPU capture has none.
        crate::run(&mut hyper)?;
        let medians = medians(&std::fs::read_to_string(&csv)?);
        for ((format, args), median) in commands.iter().zip(medians) {
            let rss = peak_rss_kb(&bin, args, 10)?;
            rows.push((source.to_string(), format.to_string(), median * 1e3, rss));
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    println!("\nlsnvlink report on {capture} (whole process, release build)\n");
    println!("| source | format | median wall | peak RSS |");
    println!("|---|---|---|---|");
    let mut ok = true;
    for (source, format, ms, kb) in &rows {
        println!(
            "| `{source}` | {format} | {ms:.2} ms | {:.1} MB |",
            *kb as f64 / 1024.0
        );
        // The targets are for the capture; `--root` is shown for comparison.
        if source == "--capture" {
            ok &= *ms <= MAX_MEDIAN_MS && *kb <= MAX_RSS_KB;
        }
    }
    println!(
        "\ntargets (--capture): median ≤ {MAX_MEDIAN_MS} ms, peak RSS ≤ {} MB: {}",
        MAX_RSS_KB / 1024,
        if ok { "met" } else { "NOT met" }
    );
    if !ok {
        bail!("the report benchmark misses its targets");
    }
    Ok(())
}
