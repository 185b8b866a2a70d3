//! Collecting a capture from a live root or a copied root directory.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::allowlist::{self, Allowlist, Kind, Rule};
use super::manifest::{Manifest, Unreadable, rfc3339_utc};
use super::{Capture, CaptureError, Tree, sanitize};

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
/// The walk goes through [`fsroot::Root::dir_no_follow`]: every path is opened inside `root`
/// (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`, or one component at a time from
/// directory descriptors with `O_NOFOLLOW` where the kernel lacks `openat2`), so no symlink
/// is ever followed, not even a directory swapped for a symlink while the walk runs.
/// Symlinks are recorded with their text; regular files are read by content (one read until
/// end of file; their size on `stat` is not used); device nodes, FIFOs and sockets are never
/// opened. A file or directory that cannot be read is left out and listed in the manifest's
/// `unreadable`. The walk is bounded by [`crate::limits::replay`] (what a replay would
/// accept: files of [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES), bytes and entries in all). Fails only when `root`
/// itself cannot be read.
pub fn collect(root: &Path, options: &Options) -> Result<Capture, CaptureError> {
    let list = Allowlist::new(&options.rules)?;
    let fail = |source| CaptureError::Root {
        path: root.to_path_buf(),
        source,
    };
    let host = fsroot::Root::dir_no_follow(root)
        .map_err(|e| match e {
            fsroot::OpenError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        })
        .map_err(fail)?
        .with_limits(crate::limits::replay());
    #[cfg(test)]
    if FORCE_WALK.with(std::cell::Cell::get) {
        host.force_walk();
    }
    host.read_dir("/")
        .map_err(|e| fail(std::io::Error::new(e.kind(), e.to_string())))?;
    let mut walk = Walk {
        host: &host,
        list: &list,
        tree: Tree::new(),
        unreadable: Vec::new(),
        entries: 0,
        max_entries: crate::limits::replay().max_entries,
    };
    walk.dir(&mut Vec::new())?;
    let Walk {
        mut tree,
        mut unreadable,
        ..
    } = walk;
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

#[cfg(test)]
thread_local! {
    /// Tests: walk from directory descriptors, as without `openat2`.
    static FORCE_WALK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The state of one capture walk.
struct Walk<'a> {
    host: &'a fsroot::Root,
    list: &'a Allowlist,
    tree: Tree,
    unreadable: Vec<Unreadable>,
    /// Entries met so far, and the most a replay would accept.
    entries: u64,
    max_entries: u64,
}

impl Walk<'_> {
    fn note(&mut self, path: String, error: impl ToString) {
        self.unreadable.push(Unreadable {
            path,
            error: error.to_string(),
        });
    }

    /// Takes what the allowlist names in the directory at `parts` (components below the
    /// root), and walks the directories it enters.
    fn dir(&mut self, parts: &mut Vec<String>) -> Result<(), CaptureError> {
        let path = format!("/{}", parts.join("/"));
        let names = match self.host.read_dir(&path) {
            Ok(names) => names,
            Err(e) => {
                self.note(path, e.io_error());
                return Ok(());
            }
        };
        for name in names {
            self.entries += 1;
            if self.entries > self.max_entries {
                self.note(
                    path.clone(),
                    format!(
                        "more than {} entries met: the walk stops (see --limits-scale)",
                        self.max_entries
                    ),
                );
                return Ok(());
            }
            parts.push(name);
            let result = self.entry(parts);
            parts.pop();
            result?;
        }
        Ok(())
    }

    fn entry(&mut self, parts: &mut Vec<String>) -> Result<(), CaptureError> {
        let rel = parts.join("/");
        let path = format!("/{rel}");
        let kind = match self.host.kind(&path) {
            Ok(kind) => kind,
            Err(e) => {
                self.note(path, e.io_error());
                return Ok(());
            }
        };
        match kind {
            fsroot::EntryKind::Symlink => {
                if !self.list.takes(parts, Kind::Symlink) {
                    return Ok(());
                }
                match self.host.read_link(&path) {
                    Ok(target) => self.tree.insert_symlink(&rel, &target.to_string_lossy())?,
                    Err(e) => self.note(path, e.io_error()),
                }
            }
            fsroot::EntryKind::Dir => {
                if !self.list.enters(parts) {
                    return Ok(());
                }
                if self.list.takes(parts, Kind::Dir) {
                    self.tree.insert_dir(&rel)?;
                }
                self.dir(parts)?;
            }
            fsroot::EntryKind::File => {
                if !self.list.takes(parts, Kind::File) {
                    return Ok(());
                }
                match self.host.read(&path) {
                    Ok(data) => self.tree.insert_file(&rel, data.into_owned())?,
                    Err(e) => self.note(path, e.io_error()),
                }
            }
            fsroot::EntryKind::Other => {} // device nodes, FIFOs, sockets: never opened
        }
        Ok(())
    }
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
        let big = vec![b'x'; usize::try_from(super::super::MAX_FILE_BYTES).unwrap() + 1];
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

#[cfg(test)]
mod swap_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A directory of the walk swapped for a symlink to a directory outside the root, again
    /// and again while captures run: no capture ever holds a file from outside. (With a walk
    /// that checks a directory's type and then opens it by path, the first few dozen
    /// captures copy the outside file.)
    #[test]
    fn a_directory_swapped_for_a_symlink_mid_walk_is_never_followed() {
        const SECRET: &[u8] = b"outside-secret";
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        let dev = "sys/devices/pci0000:00/0000:00:01.0";
        std::fs::create_dir_all(root.join(dev)).unwrap();
        std::fs::write(root.join(dev).join("vendor"), "0x10de\n").unwrap();
        for i in 0..50 {
            std::fs::write(root.join(dev).join(format!("class{i}")), "x").unwrap();
        }
        std::fs::create_dir_all(outside.join("0000:00:01.0")).unwrap();
        std::fs::write(outside.join("0000:00:01.0/vendor"), SECRET).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let stop = Arc::clone(&stop);
            let real = root.join("sys/devices/pci0000:00");
            let parked = root.join("sys/devices/parked");
            let link = root.join("sys/devices/link");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // real -> parked, link -> real; then back.
                    let _ = std::fs::rename(&real, &parked);
                    let _ = std::fs::rename(&link, &real);
                    std::thread::yield_now();
                    let _ = std::fs::rename(&real, &link);
                    let _ = std::fs::rename(&parked, &real);
                    swaps += 1;
                }
                swaps
            })
        };
        let started = std::time::Instant::now();
        let mut runs = 0;
        while runs < 300 && started.elapsed().as_secs() < 10 {
            for walk in [false, true] {
                // Both resolution paths: openat2 and the descriptor walk.
                let capture = collect_with(&root, walk);
                for (path, entry) in capture.tree.iter() {
                    if let crate::capture::Entry::File(data) = entry {
                        assert_ne!(&data[..], SECRET, "run {runs}: {path} came from outside");
                    }
                }
            }
            runs += 1;
        }
        stop.store(true, Ordering::Relaxed);
        assert!(swapper.join().unwrap() > 0);
        assert!(runs > 10);
    }

    fn collect_with(root: &Path, walk: bool) -> Capture {
        if walk {
            FORCE_WALK.with(|f| f.set(true));
        }
        let capture = collect(root, &Options::default()).unwrap();
        FORCE_WALK.with(|f| f.set(false));
        capture
    }
}
