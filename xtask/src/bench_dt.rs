//! `cargo xtask bench dt [--min-runs N]`: the device-tree reader against dtc.
//!
//! 1. Dumps a large QEMU pseries tree (1,024 vCPUs; `qemu-system-ppc64`, Debian package
//!    `qemu-system-ppc`) into `target/bench-dt/` unless it is there already.
//! 2. In-process: parse + full validation + phandle index, median of many passes (the
//!    `devtree` example `dt_bench`, built with `--release`). Target: at least 500 MB/s.
//! 3. Whole processes, side by side in one hyperfine run: `lsnvlink dt dump BLOB` against
//!    `dtc -I dtb -O dts BLOB` (target ratio ≤ 0.25), and the same tree written out as a copied
//!    root, `lsnvlink dt dump --root DIR` against `dtc -I fs -O dts DIR/…/base` (≤ 0.5).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn run_out(cmd: &mut Command) -> Result<String> {
    eprintln!("$ {cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Median seconds of each command in a hyperfine CSV export (`command,mean,stddev,median,…`).
fn medians(csv: &str) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .filter_map(|line| line.rsplit(',').nth(4)?.parse().ok())
        .collect()
}

fn hyperfine(work: &Path, name: &str, min_runs: u32, commands: &[String]) -> Result<Vec<f64>> {
    let csv = work.join(format!("{name}.csv"));
    let mut cmd = Command::new("hyperfine");
    cmd.args(["-N", "--warmup", "3", "--min-runs", &min_runs.to_string()])
        .arg("--export-csv")
        .arg(&csv)
        .args(commands);
    let status = cmd
        .status()
        .context("hyperfine is needed (apt-get install hyperfine)")?;
    if !status.success() {
        bail!("hyperfine failed: {status}");
    }
    let text = std::fs::read_to_string(&csv)?;
    let m = medians(&text);
    if m.len() != commands.len() {
        bail!("cannot read the medians in {}", csv.display());
    }
    Ok(m)
}

/// Runs the benchmark; `args` are what follows `cargo xtask bench dt`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut min_runs = 20u32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--min-runs" => {
                min_runs = it
                    .next()
                    .context("--min-runs needs a number")?
                    .parse()
                    .context("--min-runs")?;
            }
            other => bail!("unknown option {other:?} (options: --min-runs N)"),
        }
    }
    let target = target_dir(root);
    let work = target.join("bench-dt");
    std::fs::create_dir_all(&work)?;
    let blob = work.join("pseries-1024.dtb");
    if !blob.exists() {
        // The reference's recipe for a large tree: 8 sockets x 128 cores, one thread each.
        run_out(
            Command::new("qemu-system-ppc64")
                .arg("-machine")
                .arg(format!("pseries,dumpdtb={}", blob.display()))
                .args(["-nographic", "-nodefaults", "-display", "none", "-m", "8G"])
                .args(["-smp", "1024,sockets=8,cores=128,threads=1"]),
        )
        .context("qemu-system-ppc64 is needed (apt-get install qemu-system-ppc)")?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_out(
        Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release", "-p", "lsnvlink-cli", "-p", "devtree"])
            .args(["--example", "dt_bench", "--bin", "lsnvlink"]),
    )?;
    let release = target.join("release");
    let helper = release.join("examples/dt_bench");
    let lsnvlink = release.join("lsnvlink");

    let speed = run_out(Command::new(&helper).arg("speed").arg(&blob).arg("5"))?;
    println!("in-process: {}", speed.trim());
    let mb_per_s: f64 = speed
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("mb_per_s=")?.parse().ok())
        .context("no mb_per_s in the helper's output")?;

    let copied = work.join("root");
    if !copied.join("proc/device-tree").exists() {
        let _ = std::fs::remove_dir_all(&copied);
        let out = run_out(
            Command::new(&helper)
                .arg("write-root")
                .arg(&blob)
                .arg(&copied),
        )?;
        println!("directory form: {}", out.trim());
    }
    let base = copied.join("sys/firmware/devicetree/base");

    let q = |p: &Path| p.display().to_string();
    let blob_medians = hyperfine(
        &work,
        "dump-blob",
        min_runs,
        &[
            format!("{} dt dump {}", q(&lsnvlink), q(&blob)),
            format!("dtc -q -I dtb -O dts {}", q(&blob)),
        ],
    )?;
    let dir_medians = hyperfine(
        &work,
        "dump-dir",
        min_runs,
        &[
            format!("{} dt dump --root {}", q(&lsnvlink), q(&copied)),
            format!("dtc -q -I fs -O dts {}", q(&base)),
        ],
    )?;
    let size = std::fs::metadata(&blob)?.len();
    let ms = |s: f64| s * 1e3;
    println!();
    println!("| work | lsnvlink (median) | dtc (median) | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| parse + validate + phandle index, in-process, {size} B blob | {mb_per_s:.0} MB/s | – | – | ≥ 500 MB/s |"
    );
    let &[a, b] = blob_medians.as_slice() else {
        bail!(
            "hyperfine gave {} medians for the blob, not 2",
            blob_medians.len()
        );
    };
    println!(
        "| `dt dump BLOB` vs `dtc -I dtb -O dts` | {:.1} ms | {:.1} ms | {:.3} | ≤ 0.25 |",
        ms(a),
        ms(b),
        a / b
    );
    let &[c, d] = dir_medians.as_slice() else {
        bail!(
            "hyperfine gave {} medians for the directory, not 2",
            dir_medians.len()
        );
    };
    println!(
        "| `dt dump --root` vs `dtc -I fs -O dts` | {:.1} ms | {:.1} ms | {:.3} | ≤ 0.5 |",
        ms(c),
        ms(d),
        c / d
    );
    Ok(())
}
