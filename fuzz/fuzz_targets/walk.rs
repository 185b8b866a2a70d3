//! Arbitrary directory trees on disk (directories, files, symlinks with any text: `..`,
//! absolute, loops, long chains) read as a copied root, through `openat2` and through the
//! user-space walk from directory descriptors used without it, and walked as `capture` walks
//! a host (`Root::dir_no_follow`).
//!
//! Checks: nothing outside the root is ever read (a file beside the root holds a marker that
//! no read may return); both resolution paths agree on every answer; a root that follows no
//! symlink never returns what only a symlink leads to.
//!
//! Input layout: a sequence of entries, each `op` (0 directory, 1 file, 2 symlink, 3 a path
//! to look up), a length byte and that many bytes of path, then for files and symlinks a
//! length byte and that many bytes of content or link text.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fsroot::{Limits, Root};
use libfuzzer_sys::fuzz_target;

const MARKER: &[u8] = b"lsnvlink-fuzz-outside-marker";
/// Paths every input is asked for.
const FIXED: &[&str] = &[
    "/",
    "a",
    "a/b",
    "../outside/secret",
    "/../outside/secret",
    "l",
];

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Takes a length-prefixed chunk off the front of `data`.
fn chunk<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n).min(rest.len());
    let (c, rest) = rest.split_at(n);
    *data = rest;
    Some(c)
}

/// A relative path made of at most 6 plain components (no `.`, `..`, NUL, empty).
fn plain(bytes: &[u8]) -> Option<PathBuf> {
    let text = String::from_utf8_lossy(bytes).replace('\0', "");
    let parts: Vec<&str> = text
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .take(6)
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(parts.iter().collect())
}

fn build(root: &Path, mut data: &[u8], lookups: &mut Vec<String>) {
    let mut entries = 0;
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let Some(path) = chunk(&mut data) else { break };
        entries += 1;
        if entries > 64 {
            break;
        }
        if op % 4 == 3 {
            lookups.push(String::from_utf8_lossy(path).into_owned());
            continue;
        }
        let Some(rel) = plain(path) else { continue };
        let target = root.join(&rel);
        if let Some(parent) = target.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        match op % 4 {
            0 => {
                let _ = std::fs::create_dir_all(&target);
            }
            1 => {
                let content = chunk(&mut data).unwrap_or_default();
                let _ = std::fs::write(&target, content);
            }
            _ => {
                let text = chunk(&mut data).unwrap_or_default();
                let text = String::from_utf8_lossy(text).replace('\0', "");
                if !text.is_empty() {
                    let _ = std::os::unix::fs::symlink(&text, &target);
                }
                lookups.push(rel.display().to_string());
            }
        }
    }
}

/// Everything a root answers for `path`, as comparable values.
fn answers(root: &Root, path: &str) -> Vec<String> {
    let data = root.read(path).map(|d| d.into_owned());
    if let Ok(d) = &data {
        assert!(
            !d.windows(MARKER.len()).any(|w| w == MARKER),
            "{path}: read outside the root"
        );
    }
    let mut out = vec![
        format!("{:?}", data.map_err(|e| e.kind())),
        format!("{:?}", root.read_dir(path).map_err(|e| e.kind())),
        format!("{:?}", root.kind(path).map_err(|e| e.kind())),
        format!("{:?}", root.read_link(path).map_err(|e| e.kind())),
    ];
    out.push(format!("{:?}", root.resolve(path).map_err(|e| e.kind())));
    out
}

fuzz_target!(|data: &[u8]| {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("lsnvlink-fuzz-walk-{}-{n}", std::process::id()));
    let root_dir = base.join("root");
    let _ = std::fs::create_dir_all(&root_dir);
    let _ = std::fs::create_dir_all(base.join("outside"));
    let _ = std::fs::write(base.join("outside/secret"), MARKER);
    let mut lookups: Vec<String> = FIXED.iter().map(|s| (*s).to_owned()).collect();
    build(&root_dir, data, &mut lookups);

    let mut limits = Limits::default();
    limits.max_run_walk_steps = 1_000_000;
    if let (Ok(kernel), Ok(walked), Ok(strict)) = (
        Root::dir(&root_dir).map(|r| r.with_limits(limits)),
        Root::dir(&root_dir).map(|r| r.with_limits(limits)),
        Root::dir_no_follow(&root_dir).map(|r| r.with_limits(limits)),
    ) {
        walked.force_walk();
        let strict_walked = Root::dir_no_follow(&root_dir).map(|r| r.with_limits(limits));
        for path in &lookups {
            let a = answers(&kernel, path);
            let b = answers(&walked, path);
            assert_eq!(a, b, "{path}: openat2 and the walk disagree");
            let c = answers(&strict, path);
            if let Ok(sw) = &strict_walked {
                sw.force_walk();
                assert_eq!(c, answers(sw, path), "{path}: no-follow roots disagree");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&base);
});
