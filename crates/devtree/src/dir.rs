//! The directory form (`/proc/device-tree`, `/sys/firmware/devicetree/base`) read through
//! [`fsroot::Root`]: directories are nodes, regular files are properties. `name`, `phandle`,
//! `linux,phandle` and `ibm,phandle` are kept as the ordinary properties they are there.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

use fsroot::{EntryKind, Root};

use crate::MAX_DEPTH;
use crate::error::{DirError, EntryError};
use crate::prop::Property;
use crate::tree::{NodeId, Tree};

/// Where the kernel shows the device tree (a link to `/sys/firmware/devicetree/base` on
/// current kernels).
pub const PROC_DEVICE_TREE: &str = "/proc/device-tree";

fn entry_error(name: &str, e: &fsroot::Error) -> EntryError {
    EntryError {
        name: name.to_owned(),
        kind: e.kind(),
        message: e.io_error().to_string(),
    }
}

pub(crate) fn read(root: &Root, top: &Path) -> Result<Tree<'static>, DirError> {
    let names = root.read_dir(top).map_err(|source| DirError::Top {
        path: top.to_path_buf(),
        source,
    })?;
    let mut tree = Tree::with_root(64);
    let mut work: Vec<(NodeId, PathBuf, Vec<String>, usize)> =
        vec![(NodeId::ROOT, top.to_path_buf(), names, 1)];
    while let Some((id, dir, names, depth)) = work.pop() {
        let mut subdirs = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let kind = match root.kind(&path) {
                Ok(k) => k,
                Err(e) => {
                    push_error(&mut tree, id, entry_error(&name, &e));
                    continue;
                }
            };
            match kind {
                EntryKind::File => match root.read(&path) {
                    Ok(value) => {
                        if let Some(node) = tree.data_mut(id) {
                            node.props.push(Property {
                                name: Cow::Owned(name),
                                value: Cow::Owned(value.into_owned()),
                            });
                        }
                    }
                    Err(e) => push_error(&mut tree, id, entry_error(&name, &e)),
                },
                EntryKind::Dir => subdirs.push((name, path)),
                EntryKind::Symlink | EntryKind::Other => push_error(
                    &mut tree,
                    id,
                    EntryError {
                        name,
                        kind: io::ErrorKind::Other,
                        message: format!(
                            "{} is neither a property file nor a node directory (not followed)",
                            if kind == EntryKind::Symlink {
                                "a symlink"
                            } else {
                                "a special file"
                            }
                        ),
                    },
                ),
            }
        }
        // Children are added in name order; their own contents are read afterwards (the work
        // list is a stack, so push them reversed to read them in order).
        let mut pending = Vec::with_capacity(subdirs.len());
        for (name, path) in subdirs {
            if depth >= MAX_DEPTH {
                push_error(
                    &mut tree,
                    id,
                    EntryError {
                        name,
                        kind: io::ErrorKind::Other,
                        message: format!("nested deeper than {MAX_DEPTH} nodes, not read"),
                    },
                );
                continue;
            }
            match root.read_dir(&path) {
                Ok(listing) => {
                    let child = tree.add_child(id, Cow::Owned(name));
                    pending.push((child, path, listing, depth + 1));
                }
                Err(e) => {
                    let child = tree.add_child(id, Cow::Owned(name.clone()));
                    push_error(&mut tree, child, entry_error(".", &e));
                }
            }
        }
        work.extend(pending.into_iter().rev());
    }
    tree.finish(true);
    Ok(tree)
}

fn push_error(tree: &mut Tree<'_>, id: NodeId, e: EntryError) {
    if let Some(node) = tree.data_mut(id) {
        node.errors.push(e);
    }
}
