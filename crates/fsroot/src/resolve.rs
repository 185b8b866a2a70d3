//! Symlink resolution inside a root, shared by the archive backend and the directory backend's
//! fallback (kernels without `openat2`).
//!
//! The walk follows Linux's path walk with `RESOLVE_IN_ROOT`: an absolute symlink target starts
//! again at the root, `..` at the root stays at the root, and more than [`MAX_SYMLINK_HOPS`]
//! symlinks end the walk with `ELOOP`. Its cost is bounded by what it does, not only by the
//! hops: every component walked (link targets' components included) is one step, a lookup
//! may take at most [`Limits::max_walk_steps`](crate::Limits::max_walk_steps) and a root over
//! its life [`Limits::max_run_walk_steps`](crate::Limits::max_run_walk_steps); a link text is
//! at most [`Limits::max_path_bytes`](crate::Limits::max_path_bytes) long.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::EntryKind;
use crate::errno::Errno;

/// Symlinks followed in one resolution before giving up, as Linux's `MAXSYMLINKS` (40).
pub const MAX_SYMLINK_HOPS: u32 = 40;

/// What the resolver needs from a tree: `lstat` of a child and the text of a link.
pub(crate) trait Lookup {
    /// A handle on one entry of the tree.
    type Node: Clone;
    /// The root directory.
    fn root(&self) -> io::Result<Self::Node>;
    /// The child `name` of directory `dir`, without following it; `None` when absent.
    fn child(&self, dir: &Self::Node, name: &str) -> io::Result<Option<(Self::Node, EntryKind)>>;
    /// The target text of symlink `node`.
    fn link_text(&self, node: &Self::Node) -> io::Result<String>;
}

/// The bounds of one walk, and the counter of steps a root has spent so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget<'a> {
    /// Steps one lookup may take.
    pub max_steps: u64,
    /// Steps all lookups of the root may take together.
    pub max_run_steps: u64,
    /// Longest link text followed.
    pub max_link_bytes: u64,
    /// Whether a symlink may be followed at all (a capture walk follows none: `ELOOP`).
    pub follow: bool,
    /// Steps spent by the root so far.
    pub spent: &'a AtomicU64,
}

/// A path resolved inside the root.
pub(crate) struct Resolved<N> {
    /// The canonical components from the root.
    pub components: Vec<String>,
    /// The entry the path names.
    pub node: N,
    /// Its kind (a symlink only when the final link was not followed).
    pub kind: EntryKind,
    /// The directory holding it (the root for the root itself): what a host root opens the
    /// entry from.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub parent: N,
}

/// Splits a path into the components a walk consumes: empty and `.` components are dropped,
/// `..` is kept (it needs the resolved parent to mean anything).
pub(crate) fn split(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// `ELOOP`, or the quota error once a root has spent its whole walking budget.
fn over_budget(run: bool) -> io::Error {
    if run {
        io::Error::new(
            io::ErrorKind::QuotaExceeded,
            "symlink resolution budget of this root is spent (see fsroot::Limits)",
        )
    } else {
        Errno::Loop.into()
    }
}

/// Resolves `path` inside the tree. With `follow_last` false, a final symlink is returned as
/// itself (as `lstat` and `readlink` see it).
pub(crate) fn resolve<L: Lookup>(
    tree: &L,
    path: &str,
    follow_last: bool,
    budget: Budget<'_>,
) -> io::Result<Resolved<L::Node>> {
    if budget.spent.load(Ordering::Relaxed) > budget.max_run_steps {
        return Err(over_budget(true));
    }
    let mut steps = 0u64;
    let result = walk(tree, path, follow_last, budget, &mut steps);
    let before = budget.spent.fetch_add(steps, Ordering::Relaxed);
    if before.saturating_add(steps) > budget.max_run_steps {
        return Err(over_budget(true));
    }
    result
}

/// Components still to walk: a stack of texts (the path, then each link target followed),
/// each with the ranges of its components left, last one first. Nothing is allocated per
/// component.
struct Pending {
    segments: Vec<Segment>,
}

/// One text and the byte ranges of its components still to walk, last one first.
type Segment = (Box<str>, Vec<(usize, usize)>);

impl Pending {
    fn push(&mut self, text: &str) -> usize {
        let mut parts = Vec::new();
        let mut start = 0;
        for piece in text.split('/') {
            let end = start + piece.len();
            if !piece.is_empty() && piece != "." {
                parts.push((start, end));
            }
            start = end + 1;
        }
        parts.reverse();
        let n = parts.len();
        if n > 0 {
            self.segments.push((text.into(), parts));
        }
        n
    }

    /// The next component, owned only as long as the caller needs it.
    fn pop(&mut self) -> Option<String> {
        let (text, parts) = self.segments.last_mut()?;
        let (a, b) = parts.pop()?;
        let name = text.get(a..b).unwrap_or_default().to_owned();
        if parts.is_empty() {
            self.segments.pop();
        }
        Some(name)
    }

    fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

fn walk<L: Lookup>(
    tree: &L,
    path: &str,
    follow_last: bool,
    budget: Budget<'_>,
    steps: &mut u64,
) -> io::Result<Resolved<L::Node>> {
    let mut pending = Pending {
        segments: Vec::new(),
    };
    pending.push(path);
    // Components walked so far, each with its entry (always directories).
    let mut walked: Vec<(String, L::Node)> = Vec::new();
    let root = tree.root()?;
    let mut hops = 0u32;
    let mut current: Option<(L::Node, EntryKind)> = None;
    let mut parent = root.clone();

    while let Some(name) = pending.pop() {
        *steps += 1;
        if *steps > budget.max_steps {
            return Err(over_budget(false));
        }
        if name == ".." {
            walked.pop();
            current = None;
            continue;
        }
        let dir = walked
            .last()
            .map_or_else(|| root.clone(), |(_, n)| n.clone());
        let Some((node, kind)) = tree.child(&dir, &name)? else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let last = pending.is_empty();
        match kind {
            EntryKind::Symlink if !last || follow_last => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS || !budget.follow {
                    return Err(Errno::Loop.into());
                }
                let target = tree.link_text(&node)?;
                if target.len() as u64 > budget.max_link_bytes {
                    return Err(Errno::NameTooLong.into());
                }
                if target.starts_with('/') {
                    walked.clear();
                }
                let pushed = pending.push(&target);
                // Pushed components are paid for when walked; a link text that alone exceeds
                // what is left of the budget is refused before its components are walked.
                if steps.saturating_add(pushed as u64) > budget.max_steps {
                    return Err(over_budget(false));
                }
                current = None;
            }
            EntryKind::Dir => {
                parent = dir;
                walked.push((name, node.clone()));
                current = Some((node, kind));
            }
            _ if last => {
                parent = dir;
                walked.push((name, node.clone()));
                current = Some((node, kind));
            }
            _ => return Err(Errno::NotDir.into()),
        }
    }
    let (node, kind, parent) = match current {
        Some((node, kind)) => (node, kind, parent),
        // The walk ended on `..` or a followed link to a directory: the last walked directory.
        None => {
            let node = walked
                .last()
                .map_or_else(|| root.clone(), |(_, n)| n.clone());
            let parent = match walked.len().checked_sub(2) {
                Some(i) => walked
                    .get(i)
                    .map_or_else(|| root.clone(), |(_, n)| n.clone()),
                None => root.clone(),
            };
            (node, EntryKind::Dir, parent)
        }
    };
    Ok(Resolved {
        components: walked.into_iter().map(|(name, _)| name).collect(),
        node,
        kind,
        parent,
    })
}
