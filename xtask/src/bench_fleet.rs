//! `cargo xtask bench fleet [--hosts N] [--min-runs N] [--jobs N]`: `lsnvlink fleet` over N
//! generated captures (default 1,000) in a temporary directory. The captures are the bundled
//! ones copied with variations: a mix of shapes (mostly healthy 4-GPU hosts, some 6-GPU hosts,
//! a few with a link down or without GPU memory, a few without GPUs) and each with its own
//! host name rewritten inside the archive, so no two files are alike. Wall time by hyperfine
//! (median), peak RSS by GNU time. The target of the fleet issue: 1,000 captures in ≤ 5 s on 2
//! cores; the benchmark fails when it is missed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The fleet issue's target for 1,000 captures.
const MAX_SECONDS_PER_1000: f64 = 5.0;

/// Which bundled capture host `i` is a copy of: out of every 20 hosts, 14 healthy 4-GPU, 3
/// 6-GPU, one with a link down, one without GPU memory, one without GPUs.
fn pick(i: usize) -> &'static str {
    match i % 20 {
        0..=13 => "ac922-4gpu-16gb-nvidia",
        14..=16 => "ac922-6gpu-32gb-vfio",
        17 => "ac922-4gpu-eeh-removed",
        18 => "ac922-4gpu-no-gpu-memory",
        _ => "power9-no-gpu",
    }
}

/// A copy of the `.tar.gz` capture `bytes` whose `proc/sys/kernel/hostname` says `hostname`.
fn with_hostname(bytes: &[u8], hostname: &str) -> Result<Vec<u8>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut out = tar::Builder::new(gz);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        if path.trim_start_matches("./") == "proc/sys/kernel/hostname" {
            data = format!("{hostname}\n").into_bytes();
            header.set_size(data.len() as u64);
            header.set_cksum();
        }
        out.append(&header, data.as_slice())?;
    }
    Ok(out.into_inner()?.finish()?)
}

/// The 1-minute load average, as `/proc/loadavg` says it (`?` where unreadable).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Writes `hosts` captures into `dir`; returns their total size in bytes.
fn generate(root: &Path, dir: &Path, hosts: usize) -> Result<u64> {
    let mut total = 0;
    let mut cache = std::collections::BTreeMap::new();
    for i in 0..hosts {
        let name = pick(i);
        if !cache.contains_key(name) {
            let path = root
                .join("testdata/captures")
                .join(format!("{name}.tar.gz"));
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            cache.insert(name, bytes);
        }
        let bytes = cache.get(name).context("capture cache")?;
        let copy = with_hostname(bytes, &format!("node{i:04}"))?;
        total += copy.len() as u64;
        std::fs::write(dir.join(format!("node{i:04}.tar.gz")), copy)?;
    }
    Ok(total)
}

/// Runs the benchmark; `args` are what follows `cargo xtask bench fleet`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut hosts = 1000usize;
    let mut min_runs = 5u32;
    let mut jobs = 2usize;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a number"));
        match arg.as_str() {
            "--hosts" => hosts = value()?.parse()?,
            "--min-runs" => min_runs = value()?.parse()?,
            "--jobs" => jobs = value()?.parse()?,
            other => bail!("unknown option {other:?} (use --hosts N, --min-runs N, --jobs N)"),
        }
    }
    if Command::new("hyperfine").arg("--version").output().is_err() {
        bail!("hyperfine is needed (apt-get install hyperfine)");
    }
    crate::run(crate::cargo().args(["build", "--release", "-p", "lsnvlink-cli"]))?;
    let bin = target_dir(root).join("release/lsnvlink");
    let work = std::env::temp_dir().join(format!("lsnvlink-bench-fleet-{}", std::process::id()));
    let dir = work.join("captures");
    std::fs::create_dir_all(&dir)?;
    let bytes = generate(root, &dir, hosts)?;
    eprintln!(
        "{hosts} captures, {:.1} MB in {}",
        bytes as f64 / 1e6,
        dir.display()
    );

    let load_before = loadavg();
    let csv = work.join("result.csv");
    let mut rows = Vec::new();
    for format in ["text", "json"] {
        let args = vec![
            "fleet".to_owned(),
            "-j".to_owned(),
            jobs.to_string(),
            "--format".to_owned(),
            format.to_owned(),
            dir.display().to_string(),
        ];
        let line = format!("{} {}", bin.display(), args.join(" "));
        // `-i`: the fleet exits 1, some hosts have error findings.
        crate::run(
            Command::new("hyperfine")
                .args(["-N", "--warmup", "1", "--min-runs", &min_runs.to_string()])
                .args(["--style", "basic", "--output", "null", "-i", "--export-csv"])
                .arg(&csv)
                .args(["-n", format, &line]),
        )?;
        let text = std::fs::read_to_string(&csv)?;
        let median: f64 = text
            .lines()
            .nth(1)
            .and_then(|l| l.split(',').nth(3)?.parse().ok())
            .context("no median in hyperfine's CSV")?;
        let time = Command::new("/usr/bin/time")
            .args(["-f", "%M %U %S"])
            .arg(&bin)
            .args(&args)
            .output()
            .context("cannot run /usr/bin/time (apt-get install time)")?;
        let stderr = String::from_utf8_lossy(&time.stderr);
        let fields: Vec<f64> = stderr
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let (rss_kb, cpu) = match fields.as_slice() {
            [m, u, s] => (*m, u + s),
            _ => bail!("no %M %U %S in GNU time's output: {stderr}"),
        };
        rows.push((format, median, rss_kb, cpu));
    }
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "\nlsnvlink fleet on {hosts} generated captures, -j {jobs} (release build); load average \
         {load_before} before, {} after\n",
        loadavg()
    );
    println!("| format | median wall | per host | CPU (user+sys) | peak RSS |");
    println!("|---|---|---|---|---|");
    let limit = MAX_SECONDS_PER_1000 * hosts as f64 / 1000.0;
    let mut ok = true;
    for (format, median, rss_kb, cpu) in &rows {
        println!(
            "| {format} | {median:.2} s | {:.2} ms | {cpu:.2} s | {:.1} MB |",
            median * 1e3 / hosts as f64,
            rss_kb / 1024.0
        );
        ok &= *median <= limit;
    }
    println!(
        "\ntarget: {hosts} captures in ≤ {limit:.1} s: {}",
        if ok { "met" } else { "NOT met" }
    );
    if !ok {
        bail!("the fleet benchmark misses its target");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_has_a_healthy_majority_and_every_odd_shape() {
        let picks: Vec<&str> = (0..20).map(pick).collect();
        let healthy = picks
            .iter()
            .filter(|p| **p == "ac922-4gpu-16gb-nvidia")
            .count();
        assert_eq!(healthy, 14);
        for name in [
            "ac922-6gpu-32gb-vfio",
            "ac922-4gpu-eeh-removed",
            "ac922-4gpu-no-gpu-memory",
            "power9-no-gpu",
        ] {
            assert!(picks.contains(&name), "{name}");
        }
    }

    #[test]
    fn the_hostname_is_rewritten_and_the_rest_kept() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("root")?
            .to_path_buf();
        let path = root.join("testdata/captures/ac922-4gpu-16gb-nvidia.tar.gz");
        let bytes = std::fs::read(path)?;
        let copy = with_hostname(&bytes, "node0042")?;
        let limits = fsroot::Limits::default();
        let a = fsroot::Root::archive_from_bytes("a", &bytes, limits)?;
        let b = fsroot::Root::archive_from_bytes("b", &copy, limits)?;
        assert_eq!(
            b.read_text("/proc/sys/kernel/hostname")?.trim_end(),
            "node0042"
        );
        let names = pci::Names::builtin();
        let ra = lsnvlink::audit::Report::read(&a, &names)?;
        let rb = lsnvlink::audit::Report::read(&b, &names)?;
        assert_eq!(ra.findings, rb.findings);
        assert_eq!(ra.topology.gpus, rb.topology.gpus);
        Ok(())
    }
}
