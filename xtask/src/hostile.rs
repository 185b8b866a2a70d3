//! `cargo xtask hostile [--keep DIR] [--bin FILE]`: the hostile-input corpus and its check.
//!
//! Each case is an input written at check time into a temporary directory (nothing big is
//! committed) and a command line of `lsnvlink` that reads it: capture archives (most start
//! from the bundled `ac922-4gpu-16gb-nvidia` capture and add or change entries so that the
//! whole report meets them), copied roots (`--root`), sosreports, hwloc tarballs, device-tree
//! blobs, domain XML, `pci.ids`, fleets — through every subcommand that reads them (the
//! report, `pci`, `dt`, `memlock`, `fleet`, `capture`). Each case runs as a process, under GNU
//! time, and the check asserts that it
//! - exits 0, 1 or 2 (a report, or a clear error), not by a signal, without a panic message;
//! - peaks below [`MAX_RSS_KB`] of resident memory ([`MAX_RSS_LARGE_KB`] where the output
//!   itself is that large);
//! - finishes within [`MAX_SECONDS`] (a bound for a hung or runaway reader, not a benchmark;
//!   [`MAX_SECONDS_LONG_OUTPUT`] for a case that writes tens of megabytes);
//! - never shows the content of a host file that a symlink or path in the input names.
//!
//! Then the races: runs repeated against a concurrent renamer (`--root` reports must not
//! differ) and a concurrent swapper of a directory for a symlink (`capture --root` must never
//! copy a file from outside the root), a bounded number of times.
//!
//! The tar streams are written by hand (not with the `tar` crate, which refuses to write most
//! of these entries).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod more;
use flate2::Compression;
use flate2::write::GzEncoder;

/// The largest peak RSS a case may reach, in KiB (64 MB).
pub const MAX_RSS_KB: u64 = 64_000;
/// The largest peak RSS of a case whose output itself is that large, in KiB (256 MB).
pub const MAX_RSS_LARGE_KB: u64 = 256_000;
/// Runs of each race.
const RACE_RUNS: usize = 20;
/// The longest a case may run (wall clock, debug or release build).
pub const MAX_SECONDS: f64 = 5.0;
/// The longest a case whose output is tens of megabytes may run: a debug build writes pretty
/// JSON at some 20 MB/s (`pci --format json` on 49,000 devices: 67 MB in 4 to 5 s).
pub const MAX_SECONDS_LONG_OUTPUT: f64 = 10.0;
/// After this long a case is killed (and fails).
const KILL_AFTER: Duration = Duration::from_secs(30);
/// The capture the cases start from.
const BASE: &str = "testdata/captures/ac922-4gpu-16gb-nvidia.tar.gz";
/// The device tree inside a capture.
const DT: &str = "sys/firmware/devicetree/base";
/// A GPU node of the base capture and an NVLink bridge (NPU) node.
const GPU: &str = "pciex@600c3c0400000/pci@0/pci@0/pci@a/3d-controller@0";
const NPU: &str = "pciex@6230200000000/unknown-bridge@1";
const NPU2: &str = "pciex@6230200000000/unknown-bridge@1,1";
/// A string that must never appear in a report: it is only in a host file outside the root.
const SECRET: &str = "lsnvlink-hostile-secret-5c1e";

/// One tar entry.
#[derive(Clone)]
enum Entry {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    /// A header that declares `size` bytes, followed by `present` bytes of zeros (then EOF).
    Declared {
        size: u64,
        present: u64,
    },
}

/// An archive being put together: entries in order.
#[derive(Clone, Default)]
struct Archive {
    entries: Vec<(String, Entry)>,
}

impl Archive {
    fn base(root: &Path) -> Result<Archive> {
        let path = root.join(BASE);
        let file = std::fs::File::open(&path).with_context(|| path.display().to_string())?;
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut entries = Vec::new();
        for entry in tar.entries()? {
            let mut entry = entry?;
            let name = entry.path()?.to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            let e = if kind.is_dir() {
                Entry::Dir
            } else if kind.is_symlink() {
                let link = entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Entry::Symlink(link)
            } else {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                Entry::File(data)
            };
            entries.push((name, e));
        }
        Ok(Archive { entries })
    }

    /// Replaces the entry at `path` (or appends it).
    fn set(&mut self, path: &str, entry: Entry) -> &mut Self {
        match self.entries.iter_mut().find(|(p, _)| p == path) {
            Some(slot) => slot.1 = entry,
            None => self.entries.push((path.to_owned(), entry)),
        }
        self
    }

    fn push(&mut self, path: impl Into<String>, entry: Entry) -> &mut Self {
        self.entries.push((path.into(), entry));
        self
    }

    fn dt(&mut self, node: &str, prop: &str, data: Vec<u8>) -> &mut Self {
        self.set(&format!("{DT}/{node}/{prop}"), Entry::File(data))
    }

    fn tar(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, entry) in &self.entries {
            write_entry(&mut out, path, entry);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn tar_gz(&self) -> Result<Vec<u8>> {
        gzip(&self.tar())
    }
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

/// Writes `value` as a NUL-terminated octal field filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len().saturating_sub(1);
    let text = format!("{value:0width$o}");
    for (dst, src) in field.iter_mut().zip(text.bytes()) {
        *dst = src;
    }
    if let Some(last) = field.last_mut() {
        *last = 0;
    }
}

/// A 512-byte GNU tar header.
fn header(name: &[u8], flag: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    for (d, s) in h[..100].iter_mut().zip(name) {
        *d = *s;
    }
    octal(&mut h[100..108], if flag == b'5' { 0o755 } else { 0o644 });
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = flag;
    for (d, s) in h[157..257].iter_mut().zip(link) {
        *d = *s;
    }
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// A GNU long name (`L`) or long link (`K`) record before the entry that needs it.
fn long(out: &mut Vec<u8>, flag: u8, value: &[u8]) {
    out.extend_from_slice(&header(b"././@LongLink", flag, value.len() as u64 + 1, b""));
    out.extend_from_slice(value);
    out.push(0);
    pad(out);
}

fn write_entry(out: &mut Vec<u8>, path: &str, entry: &Entry) {
    let name = path.as_bytes();
    if name.len() > 99 {
        long(out, b'L', name);
    }
    let (flag, size, link): (u8, u64, &[u8]) = match entry {
        Entry::File(data) => (b'0', data.len() as u64, b""),
        Entry::Dir => (b'5', 0, b""),
        Entry::Symlink(target) => (b'2', 0, target.as_bytes()),
        Entry::Declared { size, .. } => (b'0', *size, b""),
    };
    if link.len() > 99 {
        long(out, b'K', link);
    }
    let short = |b: &[u8]| -> Vec<u8> { b.iter().take(99).copied().collect() };
    out.extend_from_slice(&header(&short(name), flag, size, &short(link)));
    match entry {
        Entry::File(data) => {
            out.extend_from_slice(data);
            pad(out);
        }
        Entry::Declared { present, .. } => {
            out.resize(out.len() + usize::try_from(*present).unwrap_or(0), 0);
        }
        Entry::Dir | Entry::Symlink(_) => {}
    }
}

fn be32(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// A gzip stream of `len` zero bytes inside one tar entry, written without holding them.
fn zero_bomb(path: &str, entry_size: u64, entries: u64) -> Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for i in 0..entries {
        gz.write_all(&header(
            format!("{path}{i}").as_bytes(),
            b'0',
            entry_size,
            b"",
        ))?;
        let mut left = entry_size;
        while left > 0 {
            let n = left.min(zeros.len() as u64);
            gz.write_all(zeros.get(..usize::try_from(n)?).unwrap_or(&[]))?;
            left -= n;
        }
        let rem = entry_size % 512;
        if rem != 0 {
            gz.write_all(zeros.get(..usize::try_from(512 - rem)?).unwrap_or(&[]))?;
        }
    }
    gz.write_all(&[0u8; 1024])?;
    Ok(gz.finish()?)
}

/// The cases: a name, what it tries, and the archive bytes.
fn cases(root: &Path, secret_file: &Path) -> Result<Vec<(&'static str, &'static str, Vec<u8>)>> {
    let base = Archive::base(root)?;
    let mut cases = Vec::new();
    let secret = secret_file.display().to_string();
    let up = "../".repeat(64);

    let mut a = base.clone();
    a.push(
        format!("{up}tmp/lsnvlink-hostile-escape"),
        Entry::File(b"x".to_vec()),
    )
    .push("/tmp/lsnvlink-hostile-absolute", Entry::File(b"x".to_vec()))
    .push(
        format!("sys/bus/pci/devices/{up}etc/x"),
        Entry::File(b"x".to_vec()),
    )
    .push(
        format!("{DT}/{GPU}/../../../../../../../../../model"),
        Entry::File(b"evil\0".to_vec()),
    );
    cases.push((
        "path-traversal",
        "entries named ../../… and /absolute",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    a.dt(GPU, "ibm,loc-code", Vec::new())
        .set(
            &format!("{DT}/{GPU}/ibm,loc-code"),
            Entry::Symlink(secret.clone()),
        )
        .set(
            &format!("{DT}/{NPU}/ibm,loc-code"),
            Entry::Symlink(format!("{up}{secret}")),
        )
        .set("proc/cpuinfo", Entry::Symlink(secret.clone()))
        .set(
            "proc/sys/kernel/hostname",
            Entry::Symlink(format!("{up}{secret}")),
        )
        .push(
            "sys/bus/pci/devices/0042:00:00.0",
            Entry::Symlink("/sys/devices".into()),
        )
        .push(
            "sys/bus/pci/devices/0043:00:00.0",
            Entry::Symlink(format!("{up}sys/devices")),
        );
    cases.push((
        "symlink-escape",
        "symlinks to host files (absolute and ../…)",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    a.set(
        "proc/device-tree",
        Entry::Symlink("/proc/device-tree".into()),
    )
    .push(
        "sys/bus/pci/devices/0044:00:00.0",
        Entry::Symlink("0045:00:00.0".into()),
    )
    .push(
        "sys/bus/pci/devices/0045:00:00.0",
        Entry::Symlink("0044:00:00.0".into()),
    )
    .push(
        "sys/bus/pci/devices/0046:00:00.0",
        Entry::Symlink(".".into()),
    )
    .set(
        &format!("{DT}/{GPU}/ibm,npu"),
        Entry::Symlink("ibm,npu".into()),
    )
    .push(format!("{DT}/{GPU}/loop"), Entry::Symlink("..".into()));
    cases.push((
        "symlink-loop",
        "symlinks to themselves, to each other, to ..",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    a.push(
        format!("{DT}/{GPU}/big"),
        Entry::Declared {
            size: 1 << 30,
            present: 4096,
        },
    );
    cases.push((
        "declared-1gb",
        "an entry declaring 1 GiB, 4 KiB present",
        a.tar_gz()?,
    ));

    cases.push((
        "gzip-bomb",
        "1 GiB of zeros in one entry (1 MB of gzip)",
        zero_bomb("sys/firmware/devicetree/base/bomb", 1 << 30, 1)?,
    ));
    cases.push((
        "gzip-bomb-in-limits",
        "16 entries of 15 MiB of zeros (within fsroot's defaults)",
        zero_bomb("sys/firmware/devicetree/base/bomb", 15 << 20, 16)?,
    ));
    cases.push((
        "gzip-bomb-at-limits",
        "20 entries of 4 MiB of zeros: at the replay limit per file, over the total",
        zero_bomb("sys/firmware/devicetree/base/bomb", 4 << 20, 20)?,
    ));

    let mut a = base.clone();
    let mut deep = String::from(DT);
    for i in 0..400 {
        deep.push_str(&format!("/n{i}"));
        a.push(deep.clone(), Entry::Dir);
        a.push(
            format!("{deep}/name"),
            Entry::File(format!("n{i}\0").into_bytes()),
        );
    }
    let mut path = String::from("sys/devices");
    for _ in 0..1500 {
        path.push_str("/d");
    }
    a.push(path, Entry::File(b"x".to_vec()));
    cases.push((
        "deep-nesting",
        "a device tree 400 nodes deep, a 3,000-byte path",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    a.dt(GPU, "ibm,npu", be32(&vec![0x1a8; 3 << 20]))
        .dt(NPU, "compatible", vec![b'a'; 15 << 20]);
    cases.push((
        "huge-properties",
        "a 12 MiB phandle list, a 15 MiB string",
        a.tar_gz()?,
    ));

    // At the replay limits (4 MiB per file, 12 MiB in all): read, then walked by the join.
    let mut a = base.clone();
    a.dt(GPU, "ibm,npu", be32(&vec![0x1a8; 1 << 20]))
        .dt(NPU, "ibm,gpu", be32(&vec![0x1a3; 1 << 20]))
        .dt(NPU, "compatible", vec![b'a'; 3 << 19])
        .dt(NPU2, "ibm,loc-code", vec![b'x'; 1 << 20])
        .dt(NPU2, "ibm,nvlink-peers", be32(&vec![0x1a3; 1 << 17]));
    cases.push((
        "large-properties",
        "11.5 MiB: 4 MiB phandle lists, long strings",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    // The GPU's ibm,npu names itself and the bridge; the bridge's ibm,gpu names a bridge; the
    // bridge's memory-region and ibm,nvlink name the bridge itself.
    a.dt(GPU, "ibm,npu", be32(&[0x1a3, 0x1b1, 0x1a3]))
        .dt(NPU, "ibm,gpu", be32(&[0x1b1]))
        .dt(NPU, "memory-region", be32(&[0x1b1]))
        .dt(NPU, "ibm,nvlink", be32(&[0x1b1]))
        .dt(NPU2, "ibm,gpu", be32(&[0x1a3, 0x1b1]))
        .dt(NPU2, "ibm,nvlink-peers", be32(&[0x1b1, 0x1a3]));
    cases.push((
        "phandle-cycles",
        "ibm,gpu / ibm,npu loops, memory-region to itself",
        a.tar_gz()?,
    ));

    let mut a = base.clone();
    let phandles: Vec<String> = a
        .entries
        .iter()
        .filter(|(p, e)| p.ends_with("/phandle") && matches!(e, Entry::File(_)))
        .map(|(p, _)| p.clone())
        .collect();
    for p in &phandles {
        a.set(p, Entry::File(be32(&[0x1a3])));
    }
    cases.push((
        "duplicate-phandles",
        "every node with phandle 0x1a3",
        a.tar_gz()?,
    ));

    let mut a = Archive::default();
    for i in 0..200_000 {
        a.push(format!("sys/bus/pci/devices/{i:04x}:00:00.0"), Entry::Dir);
    }
    cases.push(("many-entries", "200,000 PCI devices", a.tar_gz()?));
    let mut a = Archive::default();
    for i in 0..49_000 {
        a.push(format!("sys/bus/pci/devices/{i:04x}:00:00.0"), Entry::Dir);
    }
    cases.push((
        "many-pci-devices",
        "49,000 PCI devices, under the entry limit",
        a.tar_gz()?,
    ));

    cases.push(("empty", "an empty file", Vec::new()));
    cases.push((
        "garbage",
        "bytes that are no archive",
        b"\x1f\x8b\x08garbage".repeat(100),
    ));
    let whole = base.tar_gz()?;
    cases.push((
        "truncated",
        "the capture cut in half",
        whole.get(..whole.len() / 2).unwrap_or(&[]).to_vec(),
    ));
    Ok(cases)
}

/// One case: a command line of `lsnvlink` and what bounds its run.
struct Case {
    name: String,
    what: String,
    args: Vec<String>,
    /// Size of the input, for the table.
    input_bytes: u64,
    max_rss_kb: u64,
    max_seconds: f64,
    /// Whether exit 0/1 must come with a JSON report on stdout.
    json_report: bool,
}

impl Case {
    fn new(name: &str, what: &str, args: &[&str], input_bytes: u64) -> Case {
        Case {
            name: name.to_owned(),
            what: what.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            input_bytes,
            max_rss_kb: MAX_RSS_KB,
            max_seconds: MAX_SECONDS,
            json_report: false,
        }
    }

    fn report(mut self) -> Case {
        self.json_report = true;
        self
    }

    fn large(mut self) -> Case {
        self.max_rss_kb = MAX_RSS_LARGE_KB;
        self
    }

    /// A case that writes tens of megabytes: [`MAX_SECONDS_LONG_OUTPUT`].
    fn long_output(mut self) -> Case {
        self.max_seconds = MAX_SECONDS_LONG_OUTPUT;
        self
    }
}

/// What one case measured.
struct Outcome {
    name: String,
    code: Option<i32>,
    rss_kb: u64,
    seconds: f64,
    problems: Vec<String>,
    first_line: String,
}

fn run_case(bin: &Path, dir: &Path, case: &Case) -> Result<Outcome> {
    let name = case.name.clone();
    let timing = dir.join(format!("{name}.time"));
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %e %x")
        .arg("-o")
        .arg(&timing)
        .arg(bin)
        .args(&case.args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start /usr/bin/time (install GNU time: apt-get install time)")?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let mut problems = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > KILL_AFTER {
            let _ = child.kill();
            problems.push(format!("killed after {} s", KILL_AFTER.as_secs()));
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    let timing = std::fs::read_to_string(&timing).unwrap_or_default();
    // GNU time writes "Command terminated by signal N" / "Command exited with non-zero
    // status N" before the format line.
    let last = timing.lines().last().unwrap_or("");
    let mut fields = last.split_whitespace();
    let rss_kb: u64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(u64::MAX);
    let seconds: f64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(f64::MAX);
    let code: Option<i32> = fields.next().and_then(|f| f.parse().ok());
    if timing.contains("terminated by signal") {
        problems.push(format!(
            "killed by a signal: {}",
            timing.lines().next().unwrap_or("")
        ));
    }
    if !status.success() && code.is_none() {
        problems.push(format!("GNU time failed: {status}"));
    }
    match code {
        Some(0..=2) => {}
        other => problems.push(format!("exit code {other:?}, not 0, 1 or 2")),
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("a panic message on stderr".into());
    }
    if rss_kb >= case.max_rss_kb {
        problems.push(format!("peak RSS {rss_kb} KB ≥ {} KB", case.max_rss_kb));
    }
    if seconds > case.max_seconds {
        problems.push(format!("{seconds:.2} s > {} s", case.max_seconds));
    }
    if String::from_utf8_lossy(&stdout).contains(SECRET) || stderr.contains(SECRET) {
        problems.push("a host file's content reached the output".into());
    }
    if (code == Some(0) || code == Some(1)) && case.json_report {
        if !serde_like_json_ok(&stdout) {
            problems.push("exit 0/1 without a JSON report on stdout".into());
        }
    } else if code == Some(2) && stderr.trim().is_empty() && stdout.is_empty() {
        problems.push("exit 2 without a message".into());
    }
    let first_line = if code == Some(2) {
        let line: String = stderr
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        line
    } else {
        format!("output of {} bytes", stdout.len())
    };
    Ok(Outcome {
        name,
        code,
        rss_kb,
        seconds,
        problems,
        first_line,
    })
}

/// A cheap test that stdout is one JSON object (xtask has no JSON parser of its own).
fn serde_like_json_ok(stdout: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stdout);
    let t = text.trim();
    t.starts_with('{') && t.ends_with('}') && t.contains("\"schema_version\"")
}

/// Builds the `lsnvlink` binary (debug, unless `--release`) and returns its path.
fn build(release: bool) -> Result<PathBuf> {
    let mut cmd = super::cargo();
    cmd.args([
        "build",
        "--locked",
        "-p",
        "lsnvlink-cli",
        "--bin",
        "lsnvlink",
        "--message-format=short",
    ]);
    if release {
        cmd.arg("--release");
    }
    super::run(&mut cmd)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| super::project_root().join("target"), PathBuf::from);
    Ok(target
        .join(if release { "release" } else { "debug" })
        .join("lsnvlink"))
}

/// Runs `cargo xtask hostile [--release] [--bin FILE] [--keep DIR]`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut release = false;
    let mut bin = None;
    let mut keep = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--bin" => bin = Some(PathBuf::from(it.next().context("--bin FILE")?)),
            "--keep" => keep = Some(PathBuf::from(it.next().context("--keep DIR")?)),
            other => bail!("unknown option {other:?} (options: --release, --bin FILE, --keep DIR)"),
        }
    }
    let bin = match bin {
        Some(b) => b,
        None => build(release)?,
    };
    let tmp = std::env::temp_dir().join(format!("lsnvlink-hostile-{}", std::process::id()));
    let dir = keep.clone().unwrap_or_else(|| tmp.clone());
    std::fs::create_dir_all(&dir)?;
    let result = check(root, &bin, &dir);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn check(root: &Path, bin: &Path, dir: &Path) -> Result<()> {
    let secret_file = dir.join("host-secret");
    std::fs::write(&secret_file, SECRET)?;
    let generated = Instant::now();
    let mut all = Vec::new();
    for (name, what, bytes) in cases(root, &secret_file)? {
        let path = dir.join(format!("{name}.tar.gz"));
        std::fs::write(&path, &bytes)?;
        let path = path.display().to_string();
        all.push(
            Case::new(
                name,
                what,
                &["--capture", &path, "--format", "json"],
                bytes.len() as u64,
            )
            .report(),
        );
    }
    all.extend(more::cases(root, dir, &secret_file)?);
    eprintln!(
        "hostile: {} cases generated in {:.1} s in {}",
        all.len(),
        generated.elapsed().as_secs_f64(),
        dir.display()
    );
    let mut failed = BTreeMap::new();
    println!("| case | tries | exit | peak RSS | wall | result |");
    println!("|---|---|---:|---:|---:|---|");
    for case in &all {
        let o = run_case(bin, dir, case)?;
        println!(
            "| {} | {} ({} KB) | {} | {:.1} MB | {:.2} s | {} |",
            o.name,
            case.what,
            case.input_bytes / 1000,
            o.code.map_or("-".into(), |c| c.to_string()),
            o.rss_kb as f64 / 1000.0,
            o.seconds,
            if o.problems.is_empty() {
                o.first_line.replace('|', "/")
            } else {
                format!("FAIL: {}", o.problems.join("; "))
            }
        );
        if !o.problems.is_empty() {
            failed.insert(o.name, o.problems);
        }
    }
    for (name, result) in more::races(root, bin, dir)? {
        match &result {
            Ok(summary) => println!("| {name} | race, {RACE_RUNS} runs | | | | {summary} |"),
            Err(problem) => println!("| {name} | race, {RACE_RUNS} runs | | | | FAIL: {problem} |"),
        }
        if let Err(problem) = result {
            failed.insert(name, vec![problem]);
        }
    }
    if !failed.is_empty() {
        bail!("hostile inputs out of bounds: {failed:?}");
    }
    eprintln!("hostile: every case within its memory and time bounds; races held");
    Ok(())
}
