//! The guest's software, from Debian's ppc64el archive with Debian's own tools: the kernel
//! (`linux-image-powerpc64le`, the package it depends on) and `busybox-static`, fetched with
//! `apt-get download` into `target/powernv/debs` (kept there: a second run downloads nothing)
//! and unpacked with `dpkg-deb -x`. The drivers of the emulated devices are modules in
//! Debian's kernel (`CONFIG_BLK_DEV_NVME=m`, `CONFIG_E1000E=m`, `CONFIG_USB_XHCI_PCI=m`); they
//! go into the initramfs with the modules they depend on, in load order, read from each
//! module's `depends=` field (the package has no `modules.dep`: `depmod` makes it at install).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Debian's architecture name for powerpc64le.
pub const ARCH: &str = "ppc64el";
/// The kernel's metapackage (it depends on the versioned image package).
const KERNEL_META: &str = "linux-image-powerpc64le";
/// A statically linked busybox: the guest's shell, `insmod`, `tar`, `poweroff`.
const BUSYBOX: &str = "busybox-static";

/// Why the packages could not be had: the caller turns this into exit status 3.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// The unpacked guest software.
pub struct Guest {
    /// The kernel as an ELF `vmlinux` (QEMU loads it with `-kernel`).
    pub vmlinux: PathBuf,
    /// The kernel release (`6.1.0-57-powerpc64le`).
    pub release: String,
    /// `/lib/modules/RELEASE/kernel` of the unpacked package.
    pub modules: PathBuf,
    /// The static busybox binary.
    pub busybox: PathBuf,
}

fn quiet(cmd: &mut Command) -> Result<std::process::Output> {
    cmd.output()
        .with_context(|| format!("cannot start {cmd:?}"))
}

/// Whether dpkg knows the foreign architecture and apt has its package lists.
fn apt_knows_arch() -> bool {
    quiet(Command::new("apt-cache").args(["show", &format!("{BUSYBOX}:{ARCH}")]))
        .is_ok_and(|o| o.status.success())
}

/// Adds the ppc64el architecture to dpkg and refreshes apt's lists, when missing (needs root,
/// as `.ci/run` has). Fails with [`Unavailable`] when apt still does not know the packages.
fn ensure_arch() -> Result<()> {
    if apt_knows_arch() {
        return Ok(());
    }
    let foreign = quiet(Command::new("dpkg").arg("--print-foreign-architectures"))
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !foreign.lines().any(|l| l.trim() == ARCH) {
        eprintln!("$ dpkg --add-architecture {ARCH}");
        let added = Command::new("dpkg")
            .args(["--add-architecture", ARCH])
            .status()
            .is_ok_and(|s| s.success());
        if !added {
            return Err(Unavailable(format!(
                "`dpkg --add-architecture {ARCH}` failed (not root, or not Debian)"
            ))
            .into());
        }
    }
    eprintln!("$ apt-get update -qq");
    let updated = Command::new("apt-get")
        .args(["update", "-qq"])
        .status()
        .is_ok_and(|s| s.success());
    if !updated || !apt_knows_arch() {
        return Err(Unavailable(format!(
            "apt cannot see {BUSYBOX}:{ARCH} (`apt-get update` failed, or the mirror is \
             unreachable, or has no {ARCH})"
        ))
        .into());
    }
    Ok(())
}

/// The versioned kernel package the metapackage depends on (`linux-image-6.1.0-57-…`).
fn kernel_package() -> Result<String> {
    let out = quiet(Command::new("apt-cache").args(["depends", &format!("{KERNEL_META}:{ARCH}")]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_kernel_depends(&text).ok_or_else(|| {
        Unavailable(format!(
            "apt-cache depends {KERNEL_META}:{ARCH} names no kernel image"
        ))
        .into()
    })
}

/// The first `Depends: linux-image-…` of an `apt-cache depends` listing, without `:arch`.
pub fn parse_kernel_depends(listing: &str) -> Option<String> {
    listing.lines().find_map(|l| {
        let dep = l.trim().strip_prefix("Depends:")?.trim();
        let name = dep.split(':').next()?.trim();
        (name.starts_with("linux-image-") && name != KERNEL_META).then(|| name.to_owned())
    })
}

/// The cached `.deb` in `dir` of a package whose name `wanted` accepts, if any (`apt-get
/// download` names files `NAME_VERSION_ARCH.deb`); the last in name order when several are.
fn cached(dir: &Path, wanted: impl Fn(&str) -> bool) -> Option<PathBuf> {
    let suffix = format!("_{ARCH}.deb");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .is_some_and(|n| n.ends_with(&suffix) && n.split('_').next().is_some_and(&wanted))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Whether `name` is a versioned powerpc64le kernel image package.
fn is_kernel_image(name: &str) -> bool {
    name.starts_with("linux-image-") && name.ends_with("-powerpc64le") && name != KERNEL_META
}

/// Downloads (or finds in the cache) the kernel and busybox packages into `work/debs`, and
/// unpacks them into `work/guest`.
pub fn fetch(work: &Path) -> Result<Guest> {
    let debs = work.join("debs");
    std::fs::create_dir_all(&debs)?;
    let mut kernel_deb = cached(&debs, is_kernel_image);
    let mut busybox_deb = cached(&debs, |n| n == BUSYBOX);
    if kernel_deb.is_none() || busybox_deb.is_none() {
        ensure_arch()?;
        let kernel = kernel_package()?;
        // One kernel in the cache: an older one left there would be picked by name order.
        for entry in std::fs::read_dir(&debs)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".deb") && !name.starts_with(&format!("{BUSYBOX}_")) {
                std::fs::remove_file(entry.path())?;
            }
        }
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(&debs)
            .arg("download")
            .arg(format!("{kernel}:{ARCH}"))
            .arg(format!("{BUSYBOX}:{ARCH}"));
        eprintln!("$ {cmd:?}");
        let ok = cmd.status().is_ok_and(|s| s.success());
        kernel_deb = cached(&debs, |n| n == kernel);
        busybox_deb = cached(&debs, |n| n == BUSYBOX);
        if !ok || kernel_deb.is_none() || busybox_deb.is_none() {
            return Err(Unavailable(format!(
                "apt-get download {kernel}:{ARCH} {BUSYBOX}:{ARCH} failed"
            ))
            .into());
        }
    }
    let (Some(kernel_deb), Some(busybox_deb)) = (kernel_deb, busybox_deb) else {
        bail!("no kernel or busybox package in {}", debs.display());
    };
    // Unpacked once per pair of packages: a stamp names the packages the tree came from.
    let unpacked = work.join("guest");
    let stamp = work.join("guest.from");
    let from = format!("{}\n{}\n", kernel_deb.display(), busybox_deb.display());
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(from.as_str()) {
        let _ = std::fs::remove_file(&stamp);
        if unpacked.exists() {
            std::fs::remove_dir_all(&unpacked)?;
        }
        for deb in [&kernel_deb, &busybox_deb] {
            crate::run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&unpacked))?;
        }
        std::fs::write(&stamp, &from)?;
    }
    let boot = unpacked.join("boot");
    let vmlinux = std::fs::read_dir(&boot)
        .with_context(|| format!("{}", boot.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinux-"))
        })
        .with_context(|| format!("no vmlinux-* in {}", boot.display()))?;
    let release = vmlinux
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_start_matches("vmlinux-")
                .to_owned()
        })
        .unwrap_or_default();
    let modules = unpacked.join("lib/modules").join(&release).join("kernel");
    let busybox = unpacked.join("bin/busybox");
    if !busybox.is_file() {
        bail!("{} is not in {}", busybox.display(), busybox_deb.display());
    }
    Ok(Guest {
        vmlinux,
        release,
        modules,
        busybox,
    })
}

/// A module's name as the kernel knows it: the file stem with `-` as `_`.
fn module_name(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_string_lossy().into_owned();
    Some(name.strip_suffix(".ko")?.replace('-', "_"))
}

/// The `depends=` field of a module's `.modinfo` section (comma-separated module names; empty
/// when it depends on none), found as the NUL-delimited string in the file.
pub fn module_depends(ko: &[u8]) -> Vec<String> {
    ko.split(|&b| b == 0)
        .find_map(|s| s.strip_prefix(b"depends="))
        .map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .map(|d| d.trim().replace('-', "_"))
                .filter(|d| !d.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Every `.ko` under `dir`, by module name.
fn index_modules(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut index = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if let Some(name) = module_name(&path) {
                index.insert(name, path);
            }
        }
    }
    Ok(index)
}

/// The modules to load for `wanted`, each after the modules it depends on: (name, file).
pub fn modules_in_load_order(dir: &Path, wanted: &[&str]) -> Result<Vec<(String, PathBuf)>> {
    let index = index_modules(dir)?;
    let mut order: Vec<(String, PathBuf)> = Vec::new();
    // Depth-first, dependencies first; `visiting` catches a cycle instead of recursing forever.
    fn visit(
        name: &str,
        index: &BTreeMap<String, PathBuf>,
        order: &mut Vec<(String, PathBuf)>,
        visiting: &mut Vec<String>,
    ) -> Result<()> {
        if order.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        if visiting.iter().any(|n| n == name) {
            bail!("module dependency cycle through {name}");
        }
        let Some(path) = index.get(name) else {
            bail!("no module {name} in the kernel package");
        };
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        visiting.push(name.to_owned());
        for dep in module_depends(&bytes) {
            visit(&dep, index, order, visiting)?;
        }
        visiting.pop();
        order.push((name.to_owned(), path.clone()));
        Ok(())
    }
    let mut visiting = Vec::new();
    for name in wanted {
        visit(&name.replace('-', "_"), &index, &mut order, &mut visiting)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kernel_package_from_apt_cache_depends() {
        let listing = "linux-image-powerpc64le:ppc64el\n  Depends: linux-image-6.1.0-57-powerpc64le:ppc64el\n";
        assert_eq!(
            parse_kernel_depends(listing).as_deref(),
            Some("linux-image-6.1.0-57-powerpc64le")
        );
        assert_eq!(parse_kernel_depends("nothing\n"), None);
    }

    #[test]
    fn depends_field_of_a_module() {
        let ko = b"\x7fELF...\0license=GPL\0depends=nvme-core,t10_pi\0vermagic=6.1\0";
        assert_eq!(module_depends(ko), ["nvme_core", "t10_pi"]);
        assert!(module_depends(b"\0depends=\0").is_empty());
        assert!(module_depends(b"no modinfo").is_empty());
    }

    #[test]
    fn load_order_puts_dependencies_first() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/nvme.ko"), b"\0depends=nvme-core\0").unwrap();
        std::fs::write(dir.join("a/b/nvme-core.ko"), b"\0depends=t10-pi\0").unwrap();
        std::fs::write(dir.join("t10-pi.ko"), b"\0depends=\0").unwrap();
        std::fs::write(dir.join("loop1.ko"), b"\0depends=loop2\0").unwrap();
        std::fs::write(dir.join("loop2.ko"), b"\0depends=loop1\0").unwrap();
        let order = modules_in_load_order(&dir, &["nvme"]).unwrap();
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["t10_pi", "nvme_core", "nvme"]);
        assert!(modules_in_load_order(&dir, &["loop1"]).is_err());
        assert!(modules_in_load_order(&dir, &["absent"]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-powernv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
