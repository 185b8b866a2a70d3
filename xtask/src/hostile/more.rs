//! The hostile inputs beyond capture archives given to the report: the same attacks through
//! every subcommand, copied roots, sosreports, hwloc tarballs, blobs, domain XML, `pci.ids`,
//! fleets, special files, and the races.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

use super::{Archive, BASE, Case, DT, Entry, GPU, NPU, RACE_RUNS, SECRET, be32, gzip, header};

/// 40 symlinks of `x/../` repeated 800 times each (4 KB of text, under `PATH_MAX`), chained:
/// resolving `/l40` walks 64,000 components.
fn add_chain(a: &mut Archive) {
    let pad = "x/../".repeat(800);
    a.push("x/", Entry::Dir);
    a.push("end", Entry::File(b"end".to_vec()));
    for i in 1..=40 {
        let target = if i == 1 {
            format!("{pad}end")
        } else {
            format!("{pad}l{}", i - 1)
        };
        a.push(format!("l{i}"), Entry::Symlink(target));
    }
}

/// Writes the entries of `a` under `dir` as a copied root (later entries win).
fn unpack(a: &Archive, dir: &Path) -> Result<()> {
    for (path, entry) in &a.entries {
        let rel = path.trim_start_matches('/').trim_end_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            continue;
        }
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match entry {
            Entry::Dir => std::fs::create_dir_all(&target)?,
            Entry::File(data) => std::fs::write(&target, data)?,
            Entry::Symlink(link) => {
                let _ = std::fs::remove_file(&target);
                std::os::unix::fs::symlink(link, &target)?;
            }
            Entry::Declared { .. } => {}
        }
    }
    Ok(())
}

/// A gzip stream (concatenated members, as `MultiGzDecoder` reads them) of `prefix`, then a
/// tar entry header declaring `size` bytes at `path` (type `flag`), then `size` zero bytes
/// (one compressed member of `chunk` zeros repeated), then the end of the archive. A few
/// megabytes that inflate to `size`.
fn zero_members(prefix: &[u8], path: &str, flag: u8, size: u64, chunk: u64) -> Result<Vec<u8>> {
    let mut head = prefix.to_vec();
    head.extend_from_slice(&header(path.as_bytes(), flag, size, b""));
    let mut out = gzip(&head)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..chunk >> 20 {
        gz.write_all(&zeros)?;
    }
    let member = gz.finish()?;
    for _ in 0..size / chunk {
        out.extend_from_slice(&member);
    }
    out.extend_from_slice(&gzip(&[0u8; 1024])?);
    Ok(out)
}

/// A flattened device tree: the root node holding `depth` nested nodes, the deepest with a
/// property `big` of `cells` cells.
fn blob(depth: usize, cells: usize) -> Vec<u8> {
    fn token(out: &mut Vec<u8>, t: u32) {
        out.extend_from_slice(&t.to_be_bytes());
    }
    fn align(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut st = Vec::new();
    token(&mut st, 1); // FDT_BEGIN_NODE
    st.extend_from_slice(b"\0");
    align(&mut st);
    for i in 0..depth {
        token(&mut st, 1);
        st.extend_from_slice(format!("node@{i}\0").as_bytes());
        align(&mut st);
    }
    token(&mut st, 3); // FDT_PROP
    token(&mut st, (cells * 4) as u32);
    token(&mut st, 0); // name offset of "big"
    st.extend_from_slice(&be32(&vec![0xdead_beef; cells]));
    for _ in 0..=depth {
        token(&mut st, 2); // FDT_END_NODE
    }
    token(&mut st, 9); // FDT_END
    let strings = b"big\0";
    let off_rsv = 40u32;
    let off_struct = off_rsv + 16;
    let off_strings = off_struct + st.len() as u32;
    let total = off_strings + strings.len() as u32;
    let mut out = Vec::new();
    for v in [
        0xd00d_feed,
        total,
        off_struct,
        off_strings,
        off_rsv,
        17,
        16,
        0,
        strings.len() as u32,
        st.len() as u32,
    ] {
        token(&mut out, v);
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&st);
    out.extend_from_slice(strings);
    out
}

fn mkfifo(path: &Path) -> Result<()> {
    let status = Command::new("mkfifo").arg(path).status()?;
    if !status.success() {
        bail!("mkfifo {} failed", path.display());
    }
    Ok(())
}

/// `mknod PATH c MAJOR MINOR`; false where the machine does not allow it (no CAP_MKNOD).
fn mknod(path: &Path, major: u32, minor: u32) -> bool {
    Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Every case beyond the captures given to the report.
pub(super) fn cases(root: &Path, dir: &Path, secret_file: &Path) -> Result<Vec<Case>> {
    let base = Archive::base(root)?;
    let base_file = s(&root.join(BASE));
    let mut cases = Vec::new();
    let write = |name: &str, bytes: &[u8]| -> Result<(String, u64)> {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        Ok((s(&path), bytes.len() as u64))
    };

    // Symlink work: every PCI device link resolves through the 40-link chain.
    let mut a = base.clone();
    add_chain(&mut a);
    for i in 0..2000 {
        a.push(
            format!("sys/bus/pci/devices/{:04x}:00:00.0", 0x100 + i),
            Entry::Symlink("/l40".into()),
        );
    }
    let (f, n) = write("symlink-work.tar.gz", &a.tar_gz()?)?;
    let what = "2,000 device links through 40 links of x/../ x 800";
    cases.push(
        Case::new(
            "symlink-work",
            what,
            &["--capture", &f, "--format", "json"],
            n,
        )
        .report(),
    );
    cases.push(Case::new(
        "symlink-work-pci",
        what,
        &["pci", "--capture", &f],
        n,
    ));
    cases.push(Case::new(
        "symlink-work-pci-json",
        what,
        &["pci", "--capture", &f, "--format", "json"],
        n,
    ));
    cases.push(Case::new(
        "symlink-work-dt",
        what,
        &["dt", "dump", "--capture", &f, "--format", "json"],
        n,
    ));
    cases.push(Case::new(
        "symlink-work-memlock",
        what,
        &[
            "memlock",
            "--capture",
            &f,
            "--memory",
            "64GiB",
            "--hostdev",
            "0004:04:00.0",
        ],
        n,
    ));
    cases.push(Case::new("symlink-work-fleet", what, &["fleet", &f], n));
    let root_work = dir.join("roots/symlink-work");
    unpack(&a, &root_work)?;
    let d = s(&root_work);
    cases.push(
        Case::new(
            "root-symlink-work",
            "the same as a copied root (--root)",
            &["--root", &d, "--format", "json"],
            n,
        )
        .report(),
    );
    cases.push(Case::new(
        "root-symlink-work-pci",
        "the same as a copied root (--root)",
        &["pci", "--root", &d],
        n,
    ));

    // The PCI renderers stream (they once built the whole document, 1.1 GB of JSON values for
    // this capture): all 49,000 devices listed, every attribute read (about 70 MB, the walk's;
    // 67 MB of JSON and 1 MB of vmm written as they are made, and 30 MB of per-attribute
    // errors on stderr for vmm).
    let many = s(&dir.join("many-pci-devices.tar.gz"));
    let what = "49,000 PCI devices (the capture above)";
    cases.push(
        Case::new(
            "many-pci-json",
            what,
            &["pci", "--capture", &many, "--format", "json"],
            447_000,
        )
        .large()
        .long_output(),
    );
    cases.push(
        Case::new(
            "many-pci-vmm",
            what,
            &["pci", "--capture", &many, "--format", "vmm"],
            447_000,
        )
        .large()
        .long_output(),
    );
    cases.push(Case::new(
        "many-pci-tree",
        what,
        &["pci", "-t", "--capture", &many],
        447_000,
    ));

    // Implicit directories: long one-letter paths.
    let mut a = Archive::default();
    let deep = "a/".repeat(100);
    for i in 0..2000 {
        a.push(
            format!("sys/devices/x{i}/{deep}f"),
            Entry::File(b"x".to_vec()),
        );
    }
    let (f, n) = write("implicit-dirs.tar.gz", &a.tar_gz()?)?;
    let what = "2,000 paths 100 directories deep, none named";
    cases.push(
        Case::new(
            "implicit-dirs",
            what,
            &["--capture", &f, "--format", "json"],
            n,
        )
        .report(),
    );
    cases.push(Case::new(
        "implicit-dirs-pci",
        what,
        &["pci", "--capture", &f],
        n,
    ));
    cases.push(Case::new(
        "implicit-dirs-dt",
        what,
        &["dt", "dump", "--capture", &f],
        n,
    ));

    // Skipped content: a symlink entry declaring 1 GiB of zeros, never kept.
    let mut prefix = base.tar();
    prefix.truncate(prefix.len() - 1024);
    let bomb = zero_members(&prefix, "sys/skipped", b'2', 1 << 30, 16 << 20)?;
    let (f, n) = write("skipped-bomb.tar.gz", &bomb)?;
    let what = "1 GiB of zeros in a symlink entry nobody keeps";
    cases.push(
        Case::new(
            "skipped-bomb",
            what,
            &["--capture", &f, "--format", "json"],
            n,
        )
        .report(),
    );
    cases.push(Case::new("skipped-bomb-fleet", what, &["fleet", &f], n));

    // Sosreport and hwloc: 8 GiB of zeros in a log nobody reads.
    let sos = zero_members(b"", "sosreport-h/var/log/huge", b'0', 8 << 30, 16 << 20)?;
    let (f, n) = write("sosreport-bomb.tar.gz", &sos)?;
    cases.push(Case::new(
        "sosreport-bomb",
        "8 GiB of zeros in a skipped log",
        &["--sosreport", &f],
        n,
    ));
    cases.push(Case::new(
        "hwloc-bomb",
        "8 GiB of zeros in a skipped file",
        &["--hwloc", &f],
        n,
    ));

    // Sosreport: entries kept are bounded as a capture's (dirs cost nothing against the size
    // limits, only against the entry count).
    let mut a = Archive::default();
    for i in 0..60_000 {
        a.push(
            format!("sosreport-h/sys/firmware/devicetree/base/n{i}/"),
            Entry::Dir,
        );
    }
    let (f, n) = write("sosreport-many-dirs.tar.gz", &a.tar_gz()?)?;
    cases.push(Case::new(
        "sosreport-many-dirs",
        "60,000 device-tree directories kept",
        &["--sosreport", &f],
        n,
    ));

    // Copied roots: sparse files adding up, special files.
    let sparse = dir.join("roots/sparse");
    unpack(&base, &sparse)?;
    let node = sparse.join(DT).join(GPU);
    for i in 0..100 {
        let f = std::fs::File::create(node.join(format!("sparse{i}")))?;
        f.set_len(4 << 20)?; // 4 MiB each, no disk
    }
    let d = s(&sparse);
    let what = "100 sparse files of 4 MiB (400 MiB, no disk)";
    cases.push(Case::new("root-sparse", what, &["--root", &d, "--format", "json"], 0).report());
    // 16 MiB read in all (4 files), then every further read refused; the JSON of what was
    // read is itself over 100 MB (cells, one per line): the large bound.
    cases.push(
        Case::new(
            "root-sparse-dt",
            what,
            &["dt", "dump", "--root", &d, "--format", "json"],
            0,
        )
        .large(),
    );

    let special = dir.join("roots/special");
    unpack(&base, &special)?;
    let node = special.join(DT).join(GPU);
    mkfifo(&node.join("fifo"))?;
    let devices =
        mknod(&node.join("kmsg"), 1, 11) && mknod(&special.join(DT).join(NPU).join("zero"), 1, 5);
    let d = s(&special);
    let what = if devices {
        "a FIFO and device nodes (c 1 11 kmsg, c 1 5 zero) in the device tree"
    } else {
        "a FIFO in the device tree (device nodes: no CAP_MKNOD here)"
    };
    cases.push(Case::new("root-special", what, &["--root", &d, "--format", "json"], 0).report());
    cases.push(Case::new(
        "root-special-dt",
        what,
        &["dt", "dump", "--root", &d],
        0,
    ));
    let gpu_node = format!("/{GPU}");
    cases.push(Case::new(
        "root-special-dt-get",
        what,
        &["dt", "get", &gpu_node, "fifo", "--root", &d],
        0,
    ));
    cases.push(Case::new(
        "root-special-capture",
        what,
        &[
            "capture",
            "--root",
            &d,
            "-o",
            &s(&dir.join("special-capture.tar.gz")),
            "--force",
        ],
        0,
    ));

    // Files named on the command line.
    let fifo = dir.join("input-fifo");
    mkfifo(&fifo)?;
    let fifo = s(&fifo);
    for (name, args) in [
        (
            "pci-ids-dev-zero",
            vec!["pci", "--capture", &base_file, "--pci-ids", "/dev/zero"],
        ),
        (
            "pci-ids-fifo",
            vec!["pci", "--capture", &base_file, "--pci-ids", &fifo],
        ),
        ("blob-dev-zero", vec!["dt", "dump", "/dev/zero"]),
        ("blob-fifo", vec!["dt", "dump", &fifo]),
        ("capture-fifo", vec!["--capture", &fifo]),
        ("sosreport-fifo", vec!["--sosreport", &fifo]),
        ("hwloc-dev-zero", vec!["--hwloc", "/dev/zero"]),
        ("domain-fifo", vec!["memlock", "--domain", &fifo]),
        ("fleet-fifo", vec!["fleet", &fifo]),
    ] {
        cases.push(Case::new(
            name,
            "a special file on the command line",
            &args,
            0,
        ));
    }
    let attrs: String = (0..200_000).map(|i| format!(" a{i}='x'")).collect();
    let xml = format!("<domain type='kvm'{attrs}><name>g</name><memory>1</memory></domain>");
    let (f, n) = write("attributes.xml", xml.as_bytes())?;
    cases.push(Case::new(
        "domain-attributes",
        "200,000 attributes on one element",
        &["memlock", "--domain", &f],
        n,
    ));
    cases.push(Case::new(
        "fleet-jobs",
        "fleet -j 1000000",
        &["fleet", "-j", "1000000", &base_file],
        0,
    ));
    let link = dir.join("secret-link.tar.gz");
    std::os::unix::fs::symlink(secret_file, &link)?;
    let link = s(&link);
    cases.push(Case::new(
        "capture-symlink-secret",
        "--capture through a symlink to a host file",
        &["--capture", &link],
        0,
    ));
    cases.push(Case::new(
        "hwloc-symlink-secret",
        "--hwloc through a symlink to a host file",
        &["--hwloc", &link],
        0,
    ));
    cases.push(Case::new(
        "sosreport-symlink-secret",
        "--sosreport through a symlink to a host file",
        &["--sosreport", &link],
        0,
    ));
    let fleet_dir = dir.join("fleet");
    std::fs::create_dir_all(&fleet_dir)?;
    std::os::unix::fs::symlink(secret_file, fleet_dir.join("host.tar.gz"))?;
    cases.push(Case::new(
        "fleet-symlink-secret",
        "a fleet directory with a symlink to a host file",
        &["fleet", &s(&fleet_dir)],
        0,
    ));

    // JSON amplification.
    let mut a = Archive::default();
    let mut path = String::from(DT);
    for i in 0..250 {
        path.push_str(&format!("/n@{i:x}"));
        for p in 0..6 {
            a.push(format!("{path}/p{p}"), Entry::File(vec![0, 0, 0, 1]));
        }
    }
    a.push("proc/device-tree", Entry::Symlink(format!("/{DT}")));
    let (f, n) = write("deep-tree.tar.gz", &a.tar_gz()?)?;
    cases.push(Case::new(
        "dt-json-deep",
        "a tree 250 nodes deep, 6 properties each",
        &["dt", "dump", "--capture", &f, "--format", "json"],
        n,
    ));
    let (f, n) = write("big.dtb", &blob(40, 1 << 20))?;
    let what = "a 4 MiB property 40 nodes deep";
    cases.push(
        Case::new(
            "dt-json-blob",
            what,
            &["dt", "dump", &f, "--format", "json"],
            n,
        )
        .large(),
    );
    let deepest: String = (0..40).map(|i| format!("/node@{i}")).collect();
    cases.push(
        Case::new(
            "dt-get-json-blob",
            what,
            &[
                "dt", "get", &deepest, "big", "--blob", &f, "--format", "json",
            ],
            n,
        )
        .large(),
    );
    Ok(cases)
}

/// Runs `lsnvlink args…` and returns its exit code and stdout.
fn output(bin: &Path, args: &[&str]) -> Result<(Option<i32>, Vec<u8>)> {
    let o = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    Ok((o.status.code(), o.stdout))
}

/// Repeats `f` while `background` runs in a thread until `f` is done.
fn during<T>(
    background: impl FnOnce(Arc<AtomicBool>) -> u64 + Send + 'static,
    f: impl FnOnce() -> T,
) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || background(stop))
    };
    let result = f();
    stop.store(true, Ordering::Relaxed);
    let done = handle.join().unwrap_or(0);
    (result, done)
}

/// The races: a `--root` report under a concurrent renamer must not change; a capture under
/// a concurrent directory-for-symlink swapper must never copy a file from outside the root.
pub(super) fn races(
    root: &Path,
    bin: &Path,
    dir: &Path,
) -> Result<Vec<(String, Result<String, String>)>> {
    let base = Archive::base(root)?;
    let mut out = Vec::new();

    // 1. Renames anywhere make openat2(RESOLVE_IN_ROOT) fail with EAGAIN through `..`.
    let race = dir.join("roots/race");
    unpack(&base, &race)?;
    std::fs::create_dir_all(race.join("r0"))?;
    let d = s(&race);
    let args = ["--root", d.as_str(), "--format", "json"];
    let (code, expected) = output(bin, &args)?;
    let renamer = {
        let race = race.clone();
        move |stop: Arc<AtomicBool>| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (a, b) = if n.is_multiple_of(2) {
                    ("r0", "r1")
                } else {
                    ("r1", "r0")
                };
                let _ = std::fs::rename(race.join(a), race.join(b));
                n += 1;
            }
            n
        }
    };
    let (differing, renames) = during(renamer, || -> Result<usize> {
        let mut differing = 0;
        for _ in 0..RACE_RUNS {
            if output(bin, &args)? != (code, expected.clone()) {
                differing += 1;
            }
        }
        Ok(differing)
    });
    let differing = differing?;
    out.push((
        "race-root-renamer".to_owned(),
        if differing == 0 {
            Ok(format!(
                "{RACE_RUNS} --root reports identical during {renames} renames"
            ))
        } else {
            Err(format!(
                "{differing} of {RACE_RUNS} --root reports differ during renames"
            ))
        },
    ));

    // 2. A directory of the walk swapped for a symlink to an outside directory.
    let swap = dir.join("roots/swap");
    unpack(&base, &swap)?;
    let pci = base
        .entries
        .iter()
        .find_map(|(p, _)| {
            let rest = p.strip_prefix("sys/devices/")?;
            let top = rest.split('/').next()?;
            top.starts_with("pci").then(|| top.to_owned())
        })
        .context("no sys/devices/pci* in the base capture")?;
    let real = swap.join("sys/devices").join(&pci);
    let outside = dir.join("outside").join(&pci);
    // The outside directory mirrors the real one's device directories, each with a vendor
    // file holding the secret.
    for (p, e) in &base.entries {
        if let (Some(rest), Entry::Dir) = (p.strip_prefix(&format!("sys/devices/{pci}/")), e) {
            let d = outside.join(rest.trim_end_matches('/'));
            std::fs::create_dir_all(&d)?;
            std::fs::write(d.join("vendor"), SECRET)?;
        }
    }
    std::fs::create_dir_all(&outside)?;
    std::fs::write(outside.join("vendor"), SECRET)?;
    let parked = swap.join("sys/devices/parked");
    let link = swap.join("sys/devices/link");
    std::os::unix::fs::symlink(&outside, &link)?;
    let swapper = {
        let (real, parked, link) = (real.clone(), parked.clone(), link.clone());
        move |stop: Arc<AtomicBool>| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::rename(&real, &parked);
                let _ = std::fs::rename(&link, &real);
                std::thread::yield_now();
                let _ = std::fs::rename(&real, &link);
                let _ = std::fs::rename(&parked, &real);
                n += 1;
            }
            n
        }
    };
    let d = s(&swap);
    let (leaked, swaps) = during(swapper, || -> Result<usize> {
        let mut leaked = 0;
        for i in 0..RACE_RUNS {
            let archive = dir.join(format!("swap-{i}.tar.gz"));
            let a = s(&archive);
            output(bin, &["capture", "--root", &d, "-o", &a, "--force"])?;
            let mut bytes = Vec::new();
            if let Ok(file) = std::fs::File::open(&archive) {
                let _ = flate2::read::GzDecoder::new(file).read_to_end(&mut bytes);
            }
            if bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
                leaked += 1;
            }
        }
        Ok(leaked)
    });
    let leaked = leaked?;
    out.push((
        "race-capture-swapper".to_owned(),
        if leaked == 0 {
            Ok(format!(
                "{RACE_RUNS} captures, nothing from outside, during {swaps} swaps"
            ))
        } else {
            Err(format!(
                "{leaked} of {RACE_RUNS} captures copied a file from outside the root"
            ))
        },
    ));
    Ok(out)
}
