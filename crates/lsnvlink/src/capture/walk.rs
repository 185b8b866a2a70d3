//! Collecting a capture from a live root or a copied root directory.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::allowlist::{self, Allowlist, Kind, Rule};
use super::manifest::{Manifest, Unreadable, rfc3339_utc};
use super::{Capture, CaptureError, Tree, sanitize};

/// The largest file a capture reads; a longer one is listed as unreadable. A POWER9
/// `/proc/cpuinfo` with 176 threads is about 10 KiB; a PCI `config` at most 4 KiB.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// How to take a capture.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to take (default: [`allowlist::rules`]).
    pub rules: Vec<Rule>,
    /// Drop the host name and serial numbers ([`super::sanitize()`]).
    pub sanitize: bool,
    /// The time to record; `None` for now.
    pub time: Option<SystemTime>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rules: allowlist::rules(),
            sanitize: false,
            time: None,
        }
    }
}

/// Collects what the allowlist names under `root` (`/` for the live system, or a directory
/// holding a copied root).
///
/// Directories are walked without following any symlink; symlinks are recorded with their
/// text; files are read by content (one read until end of file; their size on `stat` is not
/// used). A file or directory that cannot be read is left out and listed in the manifest's
/// `unreadable`. Fails only when `root` itself cannot be read.
pub fn collect(root: &Path, options: &Options) -> Result<Capture, CaptureError> {
    let list = Allowlist::new(&options.rules)?;
    std::fs::read_dir(root).map_err(|source| CaptureError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut tree = Tree::new();
    let mut unreadable = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry.file_type().is_dir()
                || list.enters(&components(root, entry.path()))
        });
    for item in walker {
        let entry = match item {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                unreadable.push(Unreadable {
                    path: inside(root, &path),
                    error: err
                        .io_error()
                        .map_or_else(|| err.to_string(), ToString::to_string),
                });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let parts = components(root, entry.path());
        let rel = parts.join("/");
        let file_type = entry.file_type();
        let result = if file_type.is_symlink() {
            if !list.takes(&parts, Kind::Symlink) {
                continue;
            }
            std::fs::read_link(entry.path())
                .map(|target| tree.insert_symlink(&rel, &target.to_string_lossy()))
        } else if file_type.is_dir() {
            if !list.takes(&parts, Kind::Dir) {
                continue;
            }
            Ok(tree.insert_dir(&rel))
        } else if file_type.is_file() {
            if !list.takes(&parts, Kind::File) {
                continue;
            }
            read_content(entry.path()).map(|data| tree.insert_file(&rel, data))
        } else {
            continue; // device nodes, FIFOs, sockets: never read
        };
        match result {
            Ok(inserted) => inserted?,
            Err(err) => unreadable.push(Unreadable {
                path: inside(root, entry.path()),
                error: err.to_string(),
            }),
        }
    }
    let hostname = text(&tree, "proc/sys/kernel/hostname");
    let kernel_release = text(&tree, "proc/sys/kernel/osrelease");
    if options.sanitize {
        sanitize::sanitize(&mut tree);
    }
    unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    let now = options.time.unwrap_or_else(SystemTime::now);
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let manifest = Manifest {
        tool: "lsnvlink capture".to_owned(),
        kernel_release,
        hostname: if options.sanitize { None } else { hostname },
        time: rfc3339_utc(secs),
        sanitized: options.sanitize,
        allowlist: options.rules.iter().map(|r| r.pattern.clone()).collect(),
        unreadable,
        ..Manifest::fixed("lsnvlink capture")
    };
    Ok(Capture { tree, manifest })
}

/// The components of `path` below `root`.
fn components(root: &Path, path: &Path) -> Vec<String> {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// `path` as seen inside the captured root (`/sys/...`).
fn inside(root: &Path, path: &Path) -> String {
    let rel: PathBuf = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    format!("/{}", rel.display()).replace("//", "/")
}

/// Reads a whole file, refusing one longer than [`MAX_FILE_BYTES`].
fn read_content(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut data = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(data)
}

/// A captured text file, trimmed, when present and UTF-8.
fn text(tree: &Tree, path: &str) -> Option<String> {
    match tree.get(path) {
        Some(super::Entry::File(data)) => std::str::from_utf8(data)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Entry;

    #[test]
    fn unreadable_files_are_listed_links_kept_and_nothing_else_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
        std::fs::create_dir_all(root.join("sys/devices/pci0000:00/0000:00:01.0/power")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        let big = vec![b'x'; usize::try_from(MAX_FILE_BYTES).unwrap() + 1];
        std::fs::write(root.join("proc/cpuinfo"), big).unwrap();
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "5.10.0\n").unwrap();
        std::fs::write(root.join("outside/secret"), "no").unwrap();
        let dev = root.join("sys/devices/pci0000:00/0000:00:01.0");
        std::fs::write(dev.join("vendor"), "0x10de\n").unwrap();
        std::fs::write(dev.join("vpd"), "serial").unwrap();
        std::fs::write(dev.join("power/control"), "auto\n").unwrap();
        // A link out of the allowlist is kept as a link, never followed.
        std::os::unix::fs::symlink("/outside", dev.join("of_node")).unwrap();
        std::os::unix::fs::symlink(
            "../../../devices/pci0000:00/0000:00:01.0",
            root.join("sys/bus/pci/devices/0000:00:01.0"),
        )
        .unwrap();
        let capture = collect(root, &Options::default()).unwrap();
        let m = &capture.manifest;
        assert_eq!(m.kernel_release.as_deref(), Some("5.10.0"));
        assert_eq!(m.unreadable.len(), 1, "{:?}", m.unreadable);
        assert_eq!(m.unreadable[0].path, "/proc/cpuinfo");
        let paths: Vec<&str> = capture.tree.iter().map(|(p, _)| p).collect();
        assert!(
            !paths
                .iter()
                .any(|p| p.contains("outside") || p.ends_with("vpd") || p.contains("power")),
            "{paths:?}"
        );
        assert_eq!(
            capture
                .tree
                .get("sys/devices/pci0000:00/0000:00:01.0/of_node"),
            Some(&Entry::Symlink("/outside".into()))
        );
        assert_eq!(
            capture
                .tree
                .get("sys/devices/pci0000:00/0000:00:01.0/vendor"),
            Some(&Entry::File(b"0x10de\n".to_vec()))
        );
        let missing = collect(&root.join("nope"), &Options::default());
        assert!(matches!(missing, Err(CaptureError::Root { .. })));
    }
}
