//! Device-tree reader for IBM POWER9 NVLink2 hosts: flattened blobs (`.dtb`, firmware and
//! QEMU dumps) and the `/proc/device-tree` directory form, one tree model for both, a phandle
//! index, and typed access to the properties that tie GPUs, NVLink bridges, links and GPU
//! memory together.
//!
//! - [`Tree::from_blob`] reads a blob without copying (names and values borrow from it) and
//!   checks it as libfdt's `fdt_check_header` and `fdt_check_full` do: versions 16 and 17, the
//!   blocks in any order, the memory reservation map, `FDT_NOP` between tags until the root
//!   node closes (after it only `FDT_END` may come), the sequential-write magic refused, at
//!   most [`MAX_DEPTH`] levels. A bad blob gives a
//!   [`BlobError`] with the byte offset and what was expected there. No alignment of the
//!   input buffer is assumed.
//! - [`Tree::from_root`] reads the directory form through an [`fsroot::Root`] (the live
//!   system, a copied root, a capture archive). Children and properties come sorted by name;
//!   an entry that cannot be read is recorded on its node ([`Node::errors`]) and the rest is
//!   still read.
//! - Names that break dtc's naming rules, duplicate and malformed phandles are
//!   [`Tree::problems`], not errors.
//! - Typed accessors of the generic model ([`Node::u32`], [`Node::reg`], [`Node::follow`],
//!   [`Node::strings`], …) return a [`PropError`] on a missing property or a wrong length.
//!   Nothing here panics on any input.
//! - The POWER9 NVLink2 properties and walks (GPU → NVLink bridges → links → NPU PHB, GPU
//!   memory, ATSD registers, `ibm,chip-id`, `ibm,associativity`) are an extension:
//!   [`power9::Power9Node`], a trait implemented for [`Node`].
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let base = dir.path().join("sys/firmware/devicetree/base");
//! # let gpu = base.join("pciex@600c3c0400000/3d-controller@0");
//! # let bridge = base.join("pciex@6030200000000/unknown-bridge@0");
//! # std::fs::create_dir_all(&gpu)?;
//! # std::fs::create_dir_all(&bridge)?;
//! # std::fs::write(gpu.join("phandle"), 0x1c5u32.to_be_bytes())?;
//! # std::fs::write(gpu.join("ibm,npu"), 0x200u32.to_be_bytes())?;
//! # std::fs::write(bridge.join("phandle"), 0x200u32.to_be_bytes())?;
//! # std::fs::write(bridge.join("ibm,gpu"), 0x1c5u32.to_be_bytes())?;
//! # std::fs::write(bridge.join("ibm,nvlink-speed"), 8u32.to_be_bytes())?;
//! # std::fs::create_dir_all(dir.path().join("proc"))?;
//! # std::os::unix::fs::symlink("/sys/firmware/devicetree/base", dir.path().join("proc/device-tree"))?;
//! use devtree::Tree;
//! use devtree::power9::{NvlinkSpeed, Power9Node as _};
//!
//! let root = fsroot::Root::open(dir.path())?; // or fsroot::Root::live()
//! let tree = Tree::from_proc(&root)?;
//! let gpu = tree.find("/pciex@600c3c0400000/3d-controller@0").ok_or("no GPU node")?;
//! let bridges = gpu.nvlink_bridges()?;
//! assert_eq!(bridges[0].path(), "/pciex@6030200000000/unknown-bridge@0");
//! assert_eq!(bridges[0].nvlink_gpu()?, gpu);
//! assert_eq!(bridges[0].nvlink_speed()?, NvlinkSpeed::Gbps25_78125);
//! assert!(bridges[0].device_tgt_addr().unwrap_err().is_missing());
//!
//! // A blob: the same model, borrowing from the bytes.
//! let blob = std::fs::read("/nonexistent.dtb").unwrap_or_default();
//! assert!(Tree::from_blob(&blob).is_err());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blob;
mod dir;
pub mod dts;
mod error;
mod names;
pub mod power9;
mod prop;
mod tree;

use std::path::Path;

pub use blob::{MAGIC, SW_MAGIC};
pub use dir::PROC_DEVICE_TREE;
pub use error::{
    BlobError, BlobProblem, Block, DirError, EntryError, Problem, PropError, PropProblem,
};
/// The former name of [`power9`] (`devtree::nvlink::names::…` still compiles).
#[doc(hidden)]
pub use power9 as nvlink;
/// The POWER9 types at the crate root, where they were before [`power9`] held them.
pub use power9::{Associativity, NvlinkSpeed};
pub use prop::{Property, RegEntry, ValueKind, decode};
pub use tree::{Header, Node, NodeId, Phandle, Reservation, Tree};

/// How deep nodes may nest (the root is level 1). Real trees stay under 16; the limit keeps
/// recursion over a hostile input bounded.
pub const MAX_DEPTH: usize = 256;

impl<'a> Tree<'a> {
    /// Reads and checks a flattened blob. Names and values borrow from `blob`; bytes after the
    /// header's `totalsize` are ignored.
    pub fn from_blob(blob: &'a [u8]) -> Result<Tree<'a>, BlobError> {
        blob::parse(blob)
    }
}

impl Tree<'static> {
    /// Reads the directory form at `path` inside `root` (every symlink on the way followed
    /// inside the root; symlinks inside the tree are not followed).
    pub fn from_root(
        root: &fsroot::Root,
        path: impl AsRef<Path>,
    ) -> Result<Tree<'static>, DirError> {
        dir::read(root, path.as_ref())
    }

    /// Reads `/proc/device-tree` inside `root`.
    pub fn from_proc(root: &fsroot::Root) -> Result<Tree<'static>, DirError> {
        dir::read(root, Path::new(PROC_DEVICE_TREE))
    }
}

/// Only checks a blob: the header as libfdt's `fdt_check_header` does.
pub fn check_header(blob: &[u8]) -> Result<Header, BlobError> {
    blob::parse_header(blob)
}
