//! `cargo xtask powernv`: lsnvlink run live on a real POWER9 kernel, under QEMU's `powernv9`
//! machine (QEMU's own skiboot, Debian's ppc64el kernel), and every output checked on the
//! build host against a peer tool or a replay.
//!
//! Phases, each timed:
//! 1. **download**: Debian's ppc64el `linux-image-powerpc64le` and `busybox-static` with
//!    `apt-get download`, cached in `target/powernv/debs` ([`fetch`]);
//! 2. **build**: the static powerpc64le `lsnvlink` (the flags of `cargo xtask test-ppc64le`,
//!    so the two share compiled dependencies), the native one for the replays, and a newc
//!    initramfs ([`cpio`]) holding busybox, lsnvlink, the driver modules, `pci.ids`, a domain
//!    XML and `/init` ([`guest`]);
//! 3. **boot**: `qemu-system-ppc64 -M powernv9` with PCIe endpoints on four PHB4 root ports;
//!    the guest runs every lsnvlink command and writes the outputs as a tar to its NVMe drive,
//!    an image file the host reads back;
//! 4. **checks** ([`check`]): the guest's devices and drivers; `pci` (list, `-t`, vmm) equal to
//!    `lspci -A linux-sysfs` over the guest's capture; `dt dump` equal to `dtc -I fs` over a raw
//!    copy of the guest's device tree; the live report (text, matrix, JSON), `pci --format
//!    json`, `dt dump` and `memlock` equal to the native binary's replay of the live capture;
//!    memlock's isolation PHBs from the guest's IOMMU groups; the Prometheus file valid; the
//!    capture complete.
//!
//! Host tools that are missing (QEMU, lspci, dtc, the cross linker) are installed with
//! `apt-get install` first, as `.ci/run` installs its tools; the Rust target with rustup.
//!
//! Exit status: 0 every check passed; 1 a check (or the boot) failed; [`UNAVAILABLE`] (3) when
//! the toolchain, QEMU or the packages cannot be had here, said plainly.
//!
//! `--save-capture` copies the guest's capture to `testdata/captures/powernv9-qemu-live.tar.gz`
//! once every check passed; `--expect-devices N` replaces the expected number of PCI functions
//! (a wrong one must fail the run: the harness's own test).

mod check;
mod cpio;
mod fetch;
mod guest;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::ppc64le::{self, TARGET, UNAVAILABLE};

/// The system emulator (Debian's `qemu-system-ppc`; QEMU's skiboot comes with
/// `qemu-system-data`).
const QEMU: &str = "qemu-system-ppc64";
/// The capture `--save-capture` writes, relative to the repository.
pub const SAVED_CAPTURE: &str = "testdata/captures/powernv9-qemu-live.tar.gz";
/// The output drive's size: the guest's tar is about 1 MB (mostly the raw device tree).
const DISK_BYTES: u64 = 64 << 20;
/// Where the host's `pci.ids` usually is (Debian's `pci.ids`, installed with pciutils).
const HOST_PCI_IDS: &str = "/usr/share/misc/pci.ids";

/// Options of `cargo xtask powernv`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Copy the live capture to [`SAVED_CAPTURE`] when every check passed.
    pub save_capture: bool,
    /// The number of PCI functions the guest must show (default: the guest's).
    pub expect_devices: Option<usize>,
    /// Seconds the guest may run before it is stopped and the run fails.
    pub timeout: u64,
}

/// Phase timings, printed at the end.
#[derive(Default)]
struct Timings(Vec<(&'static str, Duration)>);

impl Timings {
    fn time<T>(&mut self, phase: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        eprintln!("powernv: == {phase} ==");
        let started = Instant::now();
        let out = f();
        self.0.push((phase, started.elapsed()));
        out
    }

    fn print(&self) {
        let total: f64 = self.0.iter().map(|(_, d)| d.as_secs_f64()).sum();
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(p, d)| format!("{p} {:.1} s", d.as_secs_f64()))
            .collect();
        eprintln!(
            "powernv: timings: {} (total {total:.1} s)",
            parts.join(", ")
        );
    }
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else `target/` in the repository).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |d| root.join(d))
}

/// What this machine lacks to run the guest and the checks, in words.
fn missing_tools() -> Vec<String> {
    let mut missing = ppc64le::missing_cross_build();
    let tools: [(&str, &[&str], &str); 5] = [
        (QEMU, &["-version"], "apt-get install qemu-system-ppc"),
        ("dpkg-deb", &["--version"], "Debian's dpkg"),
        ("apt-get", &["--version"], "Debian's apt"),
        ("lspci", &["--version"], "apt-get install pciutils"),
        (
            "dtc",
            &["--version"],
            "apt-get install device-tree-compiler",
        ),
    ];
    for (program, args, how) in tools {
        if !ppc64le::works(program, args) {
            missing.push(format!("{program} ({how})"));
        }
    }
    missing
}

/// The Debian packages that bring the missing host tools (QEMU, lspci, dtc, the cross linker
/// and the target's static C library).
fn missing_packages() -> Vec<&'static str> {
    let mut packages = Vec::new();
    let tools: [(&str, &[&str], &[&'static str]); 4] = [
        (QEMU, &["-version"], &["qemu-system-ppc"]),
        ("lspci", &["--version"], &["pciutils"]),
        ("dtc", &["--version"], &["device-tree-compiler"]),
        (
            ppc64le::LINKER,
            &["--version"],
            &["gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross"],
        ),
    ];
    for (program, args, from) in tools {
        if !ppc64le::works(program, args) {
            packages.extend_from_slice(from);
        }
    }
    if !Path::new(ppc64le::SYSROOT).join("lib/libc.a").is_file()
        && !packages.contains(&"libc6-dev-ppc64el-cross")
    {
        packages.push("libc6-dev-ppc64el-cross");
    }
    packages
}

/// Installs the missing host tools with apt, as `.ci/run` does (it needs root; without it, or
/// without a reachable mirror, the tools stay missing and the run ends with
/// [`UNAVAILABLE`]). The package lists are refreshed only when a first install fails.
fn install_missing() {
    let packages = missing_packages();
    if packages.is_empty() || !ppc64le::works("apt-get", &["--version"]) {
        return;
    }
    let install = || {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&packages);
        eprintln!("$ {cmd:?}");
        cmd.status().is_ok_and(|s| s.success())
    };
    if !install() {
        eprintln!("$ apt-get update -qq");
        let updated = Command::new("apt-get")
            .args(["update", "-qq"])
            .status()
            .is_ok_and(|s| s.success());
        if updated {
            install();
        }
    }
}

/// Runs `cargo xtask powernv`; returns the exit status (0, 1 or [`UNAVAILABLE`]).
pub fn run(root: &Path, opts: &Options) -> Result<u8> {
    install_missing();
    let missing = missing_tools();
    if !missing.is_empty() {
        eprintln!("powernv: cannot boot the POWER9 guest on this machine; missing:");
        for m in &missing {
            eprintln!("  - {m}");
        }
        return Ok(UNAVAILABLE);
    }
    let target = target_dir(root);
    let work = target.join("powernv");
    std::fs::create_dir_all(&work)?;
    let mut timings = Timings::default();

    let fetched = timings.time("download", || fetch::fetch(&work));
    let sw = match fetched {
        Ok(sw) => sw,
        Err(e) if e.downcast_ref::<fetch::Unavailable>().is_some() => {
            eprintln!("powernv: cannot get the guest's packages here: {e}");
            timings.print();
            return Ok(UNAVAILABLE);
        }
        Err(e) => return Err(e),
    };
    eprintln!("powernv: kernel {} ({})", sw.release, sw.vmlinux.display());

    let initramfs = timings.time("build", || build(root, &target, &work, &sw))?;

    let out = work.join("out");
    let booted = timings.time("boot", || boot(&work, &sw, &initramfs, &out, opts.timeout));
    if let Err(e) = booted {
        eprintln!("powernv: FAILED: the guest did not finish: {e:#}");
        timings.print();
        return Ok(1);
    }

    let native = target.join("debug/lsnvlink");
    let results = timings.time("checks", || Ok(checks(&work, &native, &sw.release, opts)))?;
    let failed: Vec<&(String, Result<(), String>)> =
        results.iter().filter(|(_, r)| r.is_err()).collect();
    for (name, result) in &results {
        match result {
            Ok(()) => eprintln!("  ok    {name}"),
            Err(why) => eprintln!("  FAIL  {name}: {why}"),
        }
    }
    eprintln!(
        "powernv: {} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    eprintln!("powernv: the guest's outputs are in {}", out.display());
    timings.print();
    if !failed.is_empty() {
        return Ok(1);
    }
    if opts.save_capture {
        let dest = root.join(SAVED_CAPTURE);
        std::fs::copy(out.join("live.tar.gz"), &dest)
            .with_context(|| format!("{}", dest.display()))?;
        eprintln!("powernv: wrote {}", dest.display());
    }
    Ok(0)
}

/// Builds both lsnvlink binaries and the initramfs; returns the initramfs's path.
fn build(root: &Path, target: &Path, work: &Path, sw: &fetch::Guest) -> Result<PathBuf> {
    let mut cross = super::cargo();
    ppc64le::cross_env(cross.current_dir(root)).args([
        "build",
        "--locked",
        "-p",
        "lsnvlink-cli",
        "--bin",
        "lsnvlink",
        "--target",
        TARGET,
    ]);
    super::run(&mut cross)?;
    super::run(super::cargo().args([
        "build",
        "--locked",
        "-p",
        "lsnvlink-cli",
        "--bin",
        "lsnvlink",
    ]))?;
    let bin = target.join(TARGET).join("debug/lsnvlink");
    // Without its debug information the binary is a tenth of the size: a smaller initramfs
    // loads faster under emulation. The file is stripped into a copy; without the tool the
    // binary goes in as it is.
    let stripped = work.join("lsnvlink.ppc64le");
    let strip_ok = Command::new("powerpc64le-linux-gnu-strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&bin)
        .status()
        .is_ok_and(|s| s.success());
    let lsnvlink = std::fs::read(if strip_ok { &stripped } else { &bin })
        .with_context(|| format!("{}", bin.display()))?;

    let modules = fetch::modules_in_load_order(&sw.modules, guest::MODULES)?;
    let names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    eprintln!("powernv: modules in load order: {}", names.join(" "));
    let pci_ids = std::fs::read(HOST_PCI_IDS).unwrap_or_else(|_| FALLBACK_PCI_IDS.into());
    std::fs::write(work.join("pci.ids"), &pci_ids)?;

    let mut c = cpio::Cpio::new();
    for dir in ["bin", "dev", "proc", "sys", "tmp", "modules"] {
        c.dir(dir);
    }
    c.file("init", 0o755, guest::init_script(&names).as_bytes());
    c.file(
        "bin/busybox",
        0o755,
        &std::fs::read(&sw.busybox).with_context(|| format!("{}", sw.busybox.display()))?,
    );
    c.symlink("bin/sh", "busybox");
    c.file("bin/lsnvlink", 0o755, &lsnvlink);
    for (name, path) in &modules {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        c.file(&format!("modules/{name}.ko"), 0o644, &bytes);
    }
    c.file("pci.ids", 0o644, &pci_ids);
    c.file("guest.xml", 0o644, guest::DOMAIN_XML.as_bytes());
    let path = work.join("initramfs.cpio");
    let bytes = c.finish();
    std::fs::write(&path, &bytes).with_context(|| format!("{}", path.display()))?;
    eprintln!(
        "powernv: initramfs {} ({:.1} MB)",
        path.display(),
        bytes.len() as f64 / 1e6
    );
    Ok(path)
}

/// Boots the guest, waits for it to power off (at most `timeout` seconds), and unpacks the tar
/// it wrote to its drive into `out`.
fn boot(work: &Path, sw: &fetch::Guest, initramfs: &Path, out: &Path, timeout: u64) -> Result<()> {
    let disk = work.join("out.img");
    // A fresh, zeroed drive each run: nothing of an earlier run can be read back.
    let _ = std::fs::remove_file(&disk);
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(DISK_BYTES))
        .with_context(|| format!("{}", disk.display()))?;
    let console = work.join("console.log");
    let log = std::fs::File::create(&console)?;
    let mut cmd = Command::new(QEMU);
    cmd.args(guest::qemu_args(
        &sw.vmlinux.to_string_lossy(),
        &initramfs.to_string_lossy(),
        &disk.to_string_lossy(),
    ))
    .stdin(Stdio::null())
    .stdout(log.try_clone()?)
    .stderr(log);
    eprintln!("$ {cmd:?}");
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {QEMU}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(timeout) {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "still running after {timeout} s; console: {}\n{}",
                console.display(),
                tail(&console)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "powernv: the guest powered off after {:.1} s ({status}); console: {}",
        started.elapsed().as_secs_f64(),
        console.display()
    );
    if !status.success() {
        bail!("{QEMU} exited with {status}\n{}", tail(&console));
    }
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let image = std::fs::File::open(&disk)?;
    tar::Archive::new(image)
        .unpack(out)
        .with_context(|| format!("the guest's drive {} holds no tar", disk.display()))?;
    if !out.join(guest::DONE).exists() {
        bail!("the guest's /init did not finish\n{}", tail(&console));
    }
    Ok(())
}

/// The last lines of the console log.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(30);
    lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
}

fn read(out: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(out.join(name)).map_err(|e| format!("{name}: {e}"))
}

/// Runs `program args`, returns its stdout (stderr is passed through on failure only).
fn output(cmd: &mut Command) -> Result<String, String> {
    let o = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    String::from_utf8(o.stdout).map_err(|e| format!("{cmd:?}: not UTF-8: {e}"))
}

fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

/// Every check, by name, in order, on the guest's outputs in `work/out` (`work` also holds
/// the `pci.ids` the guest was given).
fn checks(
    work: &Path,
    native: &Path,
    release: &str,
    opts: &Options,
) -> Vec<(String, Result<(), String>)> {
    let out = &work.join("out");
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    let mut add = |name: &str, r: Result<(), String>| results.push((name.to_owned(), r));

    for (name, _) in guest::COMMANDS {
        let r = read(out, &format!("{name}.rc")).and_then(|rc| {
            if rc.trim() == "0" {
                Ok(())
            } else {
                Err(format!(
                    "exit {}: {}",
                    rc.trim(),
                    read(out, &format!("{name}.err")).unwrap_or_default().trim()
                ))
            }
        });
        add(&format!("guest: lsnvlink {name} exits 0"), r);
    }
    add(
        "guest: kernel release",
        read(out, "kernel-release").and_then(|k| check::same_text("uname -r", k.trim(), release)),
    );
    let expected = opts.expect_devices.unwrap_or(guest::FUNCTIONS.len());
    add(
        &format!("guest: {expected} PCI functions, their ids and drivers"),
        read(out, "pci-vmm.out").and_then(|v| check::devices(&v, guest::FUNCTIONS, expected)),
    );

    let capture = out.join("live.tar.gz");
    let extracted = out.join("live");
    let unpacked = std::fs::File::open(&capture)
        .map_err(|e| format!("{}: {e}", capture.display()))
        .and_then(|f| {
            tar::Archive::new(flate2::read::GzDecoder::new(f))
                .unpack(&extracted)
                .map_err(|e| format!("cannot extract {}: {e}", capture.display()))
        });
    add("capture: extracts", unpacked.clone());
    let ids = work.join("pci.ids");
    let lspci = |args: &[&str]| {
        output(
            Command::new("lspci")
                .args(["-A", "linux-sysfs", "-O"])
                .arg(format!("sysfs.path={}/sys/bus/pci", extracted.display()))
                .args(["-O", "hwdb.disable=1", "-i"])
                .arg(&ids)
                .args(args),
        )
    };
    if unpacked.is_ok() {
        add(
            "pci = lspci -nnD over the capture",
            read(out, "pci.out")
                .and_then(|o| lspci(&["-nnD"]).and_then(|t| check::same_text("pci", &o, &t))),
        );
        add(
            "pci -t = lspci -t over the capture",
            read(out, "pci-tree.out")
                .and_then(|o| lspci(&["-t"]).and_then(|t| check::same_text("pci -t", &o, &t))),
        );
        add(
            "pci --format vmm = lspci -vmmnnDk over the capture",
            read(out, "pci-vmm.out").and_then(|o| {
                lspci(&["-vmmnnDk"]).and_then(|t| {
                    let t = check::lspci_vmm_as_ours(&t, &extracted.to_string_lossy());
                    check::same_text("pci --format vmm", &o, &t)
                })
            }),
        );
    }

    // dtc -I fs over the raw copy, and our dump through dtc: both as sorted source.
    let raw = out.join("device-tree");
    let dt = std::fs::File::open(out.join("device-tree.tar"))
        .map_err(|e| format!("device-tree.tar: {e}"))
        .and_then(|f| {
            tar::Archive::new(f)
                .unpack(&raw)
                .map_err(|e| format!("device-tree.tar: {e}"))
        })
        .and_then(|()| {
            let theirs = dtc_sorted(&["-I", "fs"], &raw.join("base").to_string_lossy())?;
            let dump = out.join("dt.out");
            let ours = dtc_sorted(&["-I", "dts"], &dump.to_string_lossy())?;
            check::same_text("dt dump (sorted through dtc)", &ours, &theirs)
        });
    add("dt dump = dtc -I fs over the raw /proc/device-tree", dt);

    // The native binary replays the live capture: the same outputs.
    let cap = capture.to_string_lossy().into_owned();
    let ids_arg = ids.to_string_lossy().into_owned();
    let xml = work.join("guest.xml");
    let _ = std::fs::write(&xml, guest::DOMAIN_XML);
    let xml_arg = xml.to_string_lossy().into_owned();
    let replay = |args: &[&str]| output(Command::new(native).args(args));
    let replays: [(&str, &str, Vec<&str>); 6] = [
        ("report", "report.out", vec!["--capture", &cap]),
        (
            "report --format json",
            "report-json.out",
            vec!["--capture", &cap, "--format", "json"],
        ),
        (
            "report --format matrix",
            "report-matrix.out",
            vec!["--capture", &cap, "--format", "matrix"],
        ),
        ("dt dump", "dt.out", vec!["dt", "dump", "--capture", &cap]),
        (
            "memlock",
            "memlock.out",
            vec!["memlock", "--capture", &cap, "--domain", &xml_arg],
        ),
        (
            "memlock --format json",
            "memlock-json.out",
            vec![
                "memlock",
                "--capture",
                &cap,
                "--domain",
                &xml_arg,
                "--format",
                "json",
            ],
        ),
    ];
    for (what, file, args) in replays {
        add(
            &format!("{what}: live = replay of the live capture"),
            read(out, file)
                .and_then(|live| replay(&args).and_then(|r| check::same_text(what, &live, &r))),
        );
    }
    add(
        "pci --format json: live = replay of the live capture",
        read(out, "pci-json.out").and_then(|live| {
            let r = replay(&[
                "pci",
                "--capture",
                &cap,
                "--format",
                "json",
                "--pci-ids",
                &ids_arg,
            ])?;
            let strip = |v: Value| check::without(check::without(v, "source"), "pci_ids");
            let (a, b) = (strip(json(&live)?), strip(json(&r)?));
            if a == b {
                Ok(())
            } else {
                Err("the device lists differ".into())
            }
        }),
    );

    let root = fsroot::Root::archive(&capture).map_err(|e| format!("{}: {e}", capture.display()));
    add(
        "memlock: isolation PHBs from the guest's IOMMU groups",
        root.as_ref().map_err(Clone::clone).and_then(|r| {
            let groups = check::iommu_groups(r)?;
            let m = json(&read(out, "memlock-json.out")?)?;
            check::isolation(&m, &groups)?;
            if guest::ASSIGNED.iter().all(|a| groups.contains_key(*a)) {
                Ok(())
            } else {
                Err(format!(
                    "not every assigned device {:?} has an IOMMU group",
                    guest::ASSIGNED
                ))
            }
        }),
    );
    add(
        "prom: valid exposition text naming the kernel",
        read(out, "metrics.prom").and_then(|t| check::prom(&t, release)),
    );
    add(
        "capture: manifest complete, nothing unreadable",
        root.and_then(|r| {
            let m = r
                .read(lsnvlink::capture::MANIFEST_NAME)
                .map_err(|e| format!("manifest: {e}"))?;
            let m = lsnvlink::capture::Manifest::from_json(&m).map_err(|e| e.to_string())?;
            if m.kernel_release.as_deref() != Some(release) {
                return Err(format!("kernel_release {:?}", m.kernel_release));
            }
            if m.hostname.as_deref() != Some(guest::HOSTNAME) {
                return Err(format!("hostname {:?}", m.hostname));
            }
            if !m.unreadable.is_empty() {
                return Err(format!("unreadable: {:?}", m.unreadable));
            }
            if !r.skipped().is_empty() {
                return Err(format!("skipped entries: {:?}", r.skipped()));
            }
            Ok(())
        }),
    );
    results
}

/// `dtc -q -O dtb FORMAT INPUT`, then back to source sorted (`-s`): the same tree gives the
/// same text whatever order it was read in.
fn dtc_sorted(input_format: &[&str], input: &str) -> Result<String, String> {
    let blob = std::env::temp_dir().join(format!(
        "lsnvlink-powernv-{}-{}.dtb",
        std::process::id(),
        input_format.join("")
    ));
    output(
        Command::new("dtc")
            .arg("-q")
            .args(input_format)
            .args(["-O", "dtb", "-o"])
            .arg(&blob)
            .arg(input),
    )?;
    let sorted = output(
        Command::new("dtc")
            .args(["-q", "-s", "-I", "dtb", "-O", "dts"])
            .arg(&blob),
    );
    let _ = std::fs::remove_file(&blob);
    sorted
}

/// A `pci.ids` naming the guest's devices, for a build host without one.
const FALLBACK_PCI_IDS: &str = "\
1014  IBM
\t04c1  POWER9 Host Bridge (PHB4)
104c  Texas Instruments
\t8232  XIO3130 PCI Express Switch (Upstream)
\t8233  XIO3130 PCI Express Switch (Downstream)
1b36  Red Hat, Inc.
\t000d  QEMU XHCI Host Controller
\t0010  QEMU NVM Express Controller
8086  Intel Corporation
\t10d3  82574L Gigabit Network Connection
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 02  Network controller
\t00  Ethernet controller
C 06  Bridge
\t04  PCI bridge
\t\t00  Normal decode
C 0c  Serial bus controller
\t03  USB controller
\t\t30  XHCI
";
