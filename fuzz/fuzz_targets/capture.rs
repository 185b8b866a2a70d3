//! The capture writer: an arbitrary capture tree (files, directories, symlinks with any text,
//! long names) written as a `.tar.gz` is replayed by fsroot entry for entry, and written
//! again gives the same bytes; sanitized, it still replays. Then the same tree written to
//! disk is collected by `capture::collect` (taking everything) and must replay as the tree
//! it found.
//!
//! Input layout: a sequence of entries, each `op` (0 directory, 1 file, 2 symlink), a length
//! byte and that many bytes of path, then for files and symlinks a length byte and that many
//! bytes of content or link text.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use fsroot::{EntryKind, Root};
use libfuzzer_sys::fuzz_target;
use lsnvlink::capture::{Capture, Entry, Kind, Manifest, Options, Rule, Tree, collect, sanitize};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn chunk<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n).min(rest.len());
    let (c, rest) = rest.split_at(n);
    *data = rest;
    Some(c)
}

fn tree_of(mut data: &[u8]) -> Tree {
    let mut tree = Tree::new();
    let mut entries = 0;
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let Some(path) = chunk(&mut data) else { break };
        entries += 1;
        if entries > 64 {
            break;
        }
        // Names may be long: repeat a short path to reach past 100 and 255 bytes.
        let mut path = String::from_utf8_lossy(path).replace('\0', "");
        if path.ends_with('+') {
            path = path.repeat(20);
        }
        let _ = match op % 3 {
            0 => tree.insert_dir(&path),
            1 => tree.insert_file(&path, chunk(&mut data).unwrap_or_default().to_vec()),
            _ => {
                let text = String::from_utf8_lossy(chunk(&mut data).unwrap_or_default());
                let text = text.replace('\0', "");
                if text.is_empty() {
                    continue;
                }
                tree.insert_symlink(&path, &text)
            }
        };
    }
    tree
}

/// Every entry of `tree` is in `root`, as it is in the tree.
fn replays(tree: &Tree, root: &Root) {
    for (path, entry) in tree.iter() {
        if path == lsnvlink::capture::MANIFEST_NAME {
            continue;
        }
        let p = format!("/{path}");
        match entry {
            Entry::Dir => assert_eq!(root.kind(&p).ok(), Some(EntryKind::Dir), "{path}"),
            Entry::File(data) => {
                assert_eq!(root.kind(&p).ok(), Some(EntryKind::File), "{path}");
                assert_eq!(root.read_link(&p).ok(), None, "{path}");
                // Read without following: the parent chain holds no symlink in a tree.
                if let Ok(found) = root.read(&p) {
                    assert_eq!(&found[..], &data[..], "{path}");
                }
            }
            Entry::Symlink(text) => {
                assert_eq!(root.kind(&p).ok(), Some(EntryKind::Symlink), "{path}");
                assert_eq!(
                    root.read_link(&p).ok().map(|t| t.display().to_string()),
                    Some(text.clone()),
                    "{path}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let tree = tree_of(data);
    let capture = Capture {
        tree,
        manifest: Manifest::fixed("fuzz"),
    };
    let Ok(bytes) = capture.to_tar_gz() else {
        return;
    };
    assert_eq!(
        capture.to_tar_gz().ok().as_deref(),
        Some(&bytes[..]),
        "not deterministic"
    );
    let root = Root::archive_from_bytes("fuzz", &bytes, fsroot::Limits::default())
        .expect("a written capture replays");
    replays(&capture.tree, &root);
    let mut sanitized = capture.tree.clone();
    sanitize(&mut sanitized);
    let again = Capture {
        tree: sanitized,
        manifest: Manifest::fixed("fuzz"),
    };
    if let Ok(b) = again.to_tar_gz() {
        let r = Root::archive_from_bytes("fuzz", &b, fsroot::Limits::default())
            .expect("a sanitized capture replays");
        replays(&again.tree, &r);
    }

    // The tree on disk, collected as a host.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("lsnvlink-fuzz-capture-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for (path, entry) in capture.tree.iter() {
        let target = dir.join(path);
        let _ = match entry {
            Entry::Dir => std::fs::create_dir_all(&target),
            Entry::File(data) => std::fs::write(&target, data),
            Entry::Symlink(text) => std::os::unix::fs::symlink(text, &target),
        };
    }
    let options = Options {
        rules: vec![Rule {
            pattern: "**".into(),
            kind: Kind::Tree,
        }],
        ..Options::default()
    };
    if let Ok(collected) = collect(&dir, &options)
        && let Ok(b) = collected.to_tar_gz()
    {
        let r = Root::archive_from_bytes("fuzz", &b, fsroot::Limits::default())
            .expect("a collected capture replays");
        replays(&collected.tree, &r);
    }
    let _ = std::fs::remove_dir_all(&dir);
});
