//! Symlink resolution inside a root, shared by the archive backend and the directory backend's
//! fallback (kernels without `openat2`).
//!
//! The walk follows Linux's path walk with `RESOLVE_IN_ROOT`: an absolute symlink target starts
//! again at the root, `..` at the root stays at the root, and more than [`MAX_SYMLINK_HOPS`]
//! symlinks end the walk with `ELOOP`.

use std::io;

use crate::EntryKind;

/// Symlinks followed in one resolution before giving up, as Linux's `MAXSYMLINKS` (40).
pub const MAX_SYMLINK_HOPS: u32 = 40;

/// What the resolver needs from a tree: `lstat` of a child and the text of a link.
pub(crate) trait Lookup {
    /// A handle on one entry of the tree.
    type Node: Clone;
    /// The root directory.
    fn root(&self) -> Self::Node;
    /// The child `name` of directory `dir`, without following it; `None` when absent.
    fn child(&self, dir: &Self::Node, name: &str) -> io::Result<Option<(Self::Node, EntryKind)>>;
    /// The target text of symlink `node`.
    fn link_text(&self, node: &Self::Node) -> io::Result<String>;
}

/// A path resolved inside the root.
pub(crate) struct Resolved<N> {
    /// The canonical components from the root.
    pub components: Vec<String>,
    /// The entry the path names.
    pub node: N,
    /// Its kind (a symlink only when the final link was not followed).
    pub kind: EntryKind,
}

/// Splits a path into the components a walk consumes: empty and `.` components are dropped,
/// `..` is kept (it needs the resolved parent to mean anything).
pub(crate) fn split(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Resolves `path` inside the tree. With `follow_last` false, a final symlink is returned as
/// itself (as `lstat` and `readlink` see it).
pub(crate) fn resolve<L: Lookup>(
    tree: &L,
    path: &str,
    follow_last: bool,
) -> io::Result<Resolved<L::Node>> {
    // Components still to walk, last one first (a stack, so link targets are pushed in front).
    let mut pending: Vec<String> = split(path).rev().map(str::to_owned).collect();
    // Components walked so far, each with its entry (always directories).
    let mut walked: Vec<(String, L::Node)> = Vec::new();
    let root = tree.root();
    let mut hops = 0u32;
    let mut current: Option<(L::Node, EntryKind)> = None;

    while let Some(name) = pending.pop() {
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
                if hops > MAX_SYMLINK_HOPS {
                    return Err(rustix::io::Errno::LOOP.into());
                }
                let target = tree.link_text(&node)?;
                if target.starts_with('/') {
                    walked.clear();
                }
                pending.extend(split(&target).rev().map(str::to_owned));
                current = None;
            }
            EntryKind::Dir => {
                walked.push((name, node.clone()));
                current = Some((node, kind));
            }
            _ if last => {
                walked.push((name, node.clone()));
                current = Some((node, kind));
            }
            _ => return Err(rustix::io::Errno::NOTDIR.into()),
        }
    }
    let (node, kind) = match current {
        Some(found) => found,
        // The walk ended on `..` or a followed link to a directory: the last walked directory.
        None => match walked.last() {
            Some((_, node)) => (node.clone(), EntryKind::Dir),
            None => (root, EntryKind::Dir),
        },
    };
    Ok(Resolved {
        components: walked.into_iter().map(|(name, _)| name).collect(),
        node,
        kind,
    })
}
