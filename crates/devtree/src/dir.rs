//! The directory form (`/proc/device-tree`, `/sys/firmware/devicetree/base`) read through
//! [`fsroot::Root`]: directories are nodes, regular files are properties. `name`, `phandle`,
//! `linux,phandle` and `ibm,phandle` are kept as the ordinary properties they are there.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

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

/// What one directory of the tree gave: its properties, its unreadable entries, and its
/// subdirectories (indices of other listings, in name order).
#[derive(Default)]
struct Listing {
    name: String,
    props: Vec<Property<'static>>,
    errors: Vec<EntryError>,
    children: Vec<usize>,
}

/// Directories waiting to be read, listings done, and how many directories are in flight.
struct Work {
    queue: Vec<(usize, PathBuf, usize)>,
    done: Vec<Listing>,
    busy: usize,
}

pub(crate) fn read(root: &Root, top: &Path) -> Result<Tree<'static>, DirError> {
    // Resolve `/proc/device-tree -> /sys/firmware/devicetree/base` once, not in every open.
    let resolved = root.resolve(top).ok();
    let top = resolved.as_deref().unwrap_or(top);
    let names = root.read_dir(top).map_err(|source| DirError::Top {
        path: top.to_path_buf(),
        source,
    })?;
    // The directories are read by a few threads (a tree of 30,000 small files costs system
    // calls, not computation, and a second core halves the wait); the tree is then put
    // together in name order, so the result does not depend on the schedule.
    let work = Mutex::new(Work {
        queue: Vec::new(),
        done: vec![Listing::default()],
        busy: 1,
    });
    let wake = Condvar::new();
    let first = read_listing(root, top, names, 1);
    finish_listing(&work, &wake, 0, first);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| worker(root, &work, &wake));
        }
        worker(root, &work, &wake);
    });
    let done = match work.into_inner() {
        Ok(w) => w.done,
        Err(poisoned) => poisoned.into_inner().done,
    };
    let mut tree = Tree::with_root(done.len());
    let mut done: Vec<Option<Listing>> = done.into_iter().map(Some).collect();
    let mut stack = vec![(0usize, NodeId::ROOT)];
    while let Some((index, id)) = stack.pop() {
        let Some(listing) = done.get_mut(index).and_then(Option::take) else {
            continue;
        };
        if let Some(node) = tree.data_mut(id) {
            node.props = listing.props;
            node.errors = listing.errors;
        }
        let mut pending = Vec::with_capacity(listing.children.len());
        for child in listing.children {
            let name = done
                .get_mut(child)
                .and_then(Option::as_mut)
                .map(|l| std::mem::take(&mut l.name))
                .unwrap_or_default();
            pending.push((child, tree.add_child(id, Cow::Owned(name))));
        }
        stack.extend(pending.into_iter().rev());
    }
    tree.finish(true);
    Ok(tree)
}

/// Takes directories off the queue until none is left and none is being read.
fn worker(root: &Root, work: &Mutex<Work>, wake: &Condvar) {
    loop {
        let job = {
            let mut w = match work.lock() {
                Ok(w) => w,
                Err(_) => return,
            };
            loop {
                if let Some(job) = w.queue.pop() {
                    w.busy += 1;
                    break Some(job);
                }
                if w.busy == 0 {
                    break None;
                }
                w = match wake.wait(w) {
                    Ok(w) => w,
                    Err(_) => return,
                };
            }
        };
        let Some((index, path, depth)) = job else {
            wake.notify_all();
            return;
        };
        let listing = match root.read_dir(&path) {
            Ok(names) => read_listing(root, &path, names, depth),
            Err(e) => ReadListing {
                props: Vec::new(),
                errors: vec![entry_error(".", &e)],
                subdirs: Vec::new(),
            },
        };
        finish_listing(work, wake, index, listing);
    }
}

/// Files and subdirectories of one directory, read.
struct ReadListing {
    props: Vec<Property<'static>>,
    errors: Vec<EntryError>,
    subdirs: Vec<(String, PathBuf, usize)>,
}

/// Stores a directory's listing and queues its subdirectories.
fn finish_listing(work: &Mutex<Work>, wake: &Condvar, index: usize, listing: ReadListing) {
    let Ok(mut w) = work.lock() else {
        return;
    };
    let mut children = Vec::with_capacity(listing.subdirs.len());
    for (name, path, depth) in listing.subdirs {
        let child = w.done.len();
        w.done.push(Listing {
            name,
            ..Listing::default()
        });
        w.queue.push((child, path, depth));
        children.push(child);
    }
    if let Some(slot) = w.done.get_mut(index) {
        slot.props = listing.props;
        slot.errors = listing.errors;
        slot.children = children;
    }
    w.busy = w.busy.saturating_sub(1);
    drop(w);
    wake.notify_all();
}

fn read_listing(root: &Root, dir: &Path, names: Vec<String>, depth: usize) -> ReadListing {
    let mut out = ReadListing {
        props: Vec::new(),
        errors: Vec::new(),
        subdirs: Vec::new(),
    };
    for name in names {
        let path = dir.join(&name);
        // One open and one read per property: the kind of an entry is asked only when the
        // read says "directory" or gives nothing (an empty property; fsroot refuses FIFOs and
        // device nodes before reading them). A symlink to a file reads as the file it
        // points to (inside the root); a symlink to a directory is not followed, so that no
        // loop can make the walk endless.
        match root.read_attr(&path) {
            Ok(value) if !value.is_empty() => out.props.push(prop(name, value.into_owned())),
            Ok(_) => match root.kind(&path) {
                Ok(EntryKind::File | EntryKind::Symlink) => out.props.push(prop(name, Vec::new())),
                Ok(_) => out.errors.push(not_followed(name, "a special file")),
                Err(e) => out.errors.push(entry_error(&name, &e)),
            },
            Err(e) if is_dir_error(&e) => match root.kind(&path) {
                Ok(EntryKind::Dir) if depth >= MAX_DEPTH => out.errors.push(EntryError {
                    name,
                    kind: io::ErrorKind::Other,
                    message: format!("nested deeper than {MAX_DEPTH} nodes, not read"),
                }),
                Ok(EntryKind::Dir) => out.subdirs.push((name, path, depth + 1)),
                Ok(_) => out
                    .errors
                    .push(not_followed(name, "a symlink to a directory")),
                Err(e) => out.errors.push(entry_error(&name, &e)),
            },
            Err(e) => out.errors.push(entry_error(&name, &e)),
        }
    }
    out
}

fn prop(name: String, value: Vec<u8>) -> Property<'static> {
    Property {
        name: Cow::Owned(name),
        value: Cow::Owned(value),
    }
}

fn is_dir_error(e: &fsroot::Error) -> bool {
    e.kind() == io::ErrorKind::IsADirectory
}

fn not_followed(name: String, what: &str) -> EntryError {
    EntryError {
        name,
        kind: io::ErrorKind::Other,
        message: format!("{what}, neither a property file nor a node directory (not followed)"),
    }
}
