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
//! - `Tree::from_root` (feature `dir`) reads the directory form through an `fsroot::Root`
//!   (the live system, a copied root, a capture archive). Children and properties come
//!   sorted by name; an entry that cannot be read is recorded on its node ([`Node::errors`])
//!   and the rest is still read.
//! - Names that break dtc's naming rules, duplicate and malformed phandles are
//!   [`Tree::problems`], not errors.
//! - Typed accessors of the generic model ([`Node::u32`], [`Node::reg`], [`Node::follow`],
//!   [`Node::strings`], …) return a [`PropError`] on a missing property or a wrong length.
//!   Nothing here panics on any input.
//! - The POWER9 NVLink2 properties and walks (GPU → NVLink bridges → links → NPU PHB, GPU
//!   memory, ATSD registers, `ibm,chip-id`, `ibm,associativity`) are an extension:
//!   [`power9::Power9Node`], a trait implemented for [`Node`].
//!
//! # Features
//!
//! - `dir` (default): the directory form, read through an `fsroot::Root` —
//!   `Tree::from_root`, `Tree::from_proc`, `DirError`, `PROC_DEVICE_TREE` — and the `fsroot`
//!   dependency. Without it (`default-features = false`) the crate reads blobs only, with no
//!   file-system code at all, and builds for any target `std` supports (`wasm32-unknown-unknown`
//!   included).
//!
//! # Example
//!
//! A blob, with no file system involved (here a tiny one written by hand; on a POWER9 host
//! `/sys/firmware/fdt` holds the firmware's), and a POWER9 property read through the
//! extension trait:
//!
//! ```
//! use devtree::Tree;
//! use devtree::power9::{NvlinkSpeed, Power9Node as _};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let blob = tiny_blob();
//! let tree = Tree::from_blob(&blob)?;
//! let bridge = tree.find("/pciex@6030200000000/unknown-bridge@0").ok_or("no bridge")?;
//! assert_eq!(bridge.u32("ibm,nvlink-speed")?, 8); // the generic model
//! assert_eq!(bridge.nvlink_speed()?, NvlinkSpeed::Gbps25_78125); // the POWER9 extension
//! assert!(bridge.nvlink_gpu().unwrap_err().is_missing());
//! assert!(Tree::from_blob(&blob[..20]).is_err()); // truncated: an error, never a panic
//! # Ok(()) }
//!
//! /// A version 17 blob: `/pciex@6030200000000/unknown-bridge@0 { ibm,nvlink-speed = <8>; }`.
//! fn tiny_blob() -> Vec<u8> {
//!     let words = |ws: &[u32]| -> Vec<u8> { ws.iter().flat_map(|w| w.to_be_bytes()).collect() };
//!     let (begin_node, end_node, prop, end) = (1, 2, 3, 9); // the structure tags
//!     let mut structure = words(&[begin_node, 0]); // the root: an empty name, NUL-padded
//!     structure.extend(words(&[begin_node]));
//!     structure.extend(b"pciex@6030200000000\0"); // 20 bytes: a multiple of 4 already
//!     structure.extend(words(&[begin_node]));
//!     structure.extend(b"unknown-bridge@0\0\0\0\0"); // 17 bytes, NUL-padded to 20
//!     structure.extend(words(&[prop, 4, 0, 8])); // 4 bytes, name at strings offset 0, <8>
//!     structure.extend(words(&[end_node, end_node, end_node, end]));
//!     let strings = b"ibm,nvlink-speed\0";
//!     // The header (40 bytes), the empty memory reservation map (16), structure, strings.
//!     let off_struct = 40 + 16;
//!     let off_strings = off_struct + structure.len() as u32;
//!     let totalsize = off_strings + strings.len() as u32;
//!     let mut blob = words(&[
//!         devtree::MAGIC,
//!         totalsize,
//!         off_struct,
//!         off_strings,
//!         40, // off_mem_rsvmap
//!         17, // version
//!         16, // last_comp_version
//!         0,  // boot_cpuid_phys
//!         strings.len() as u32,
//!         structure.len() as u32,
//!     ]);
//!     blob.extend([0; 16]);
//!     blob.extend(structure);
//!     blob.extend(strings);
//!     blob
//! }
//! ```
//!
//! The directory form (feature `dir`) gives the same model: see `Tree::from_proc`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blob;
#[cfg(feature = "dir")]
mod dir;
pub mod dts;
mod error;
mod names;
pub mod power9;
mod prop;
mod tree;

#[cfg(feature = "dir")]
use std::path::Path;

pub use blob::{MAGIC, SW_MAGIC};
#[cfg(feature = "dir")]
pub use dir::PROC_DEVICE_TREE;
#[cfg(feature = "dir")]
pub use error::DirError;
pub use error::{BlobError, BlobProblem, Block, EntryError, Problem, PropError, PropProblem};
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

#[cfg(feature = "dir")]
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let base = dir.path().join("sys/firmware/devicetree/base");
    /// # let gpu = base.join("pciex@600c3c0400000/3d-controller@0");
    /// # let bridge = base.join("pciex@6030200000000/unknown-bridge@0");
    /// # std::fs::create_dir_all(&gpu)?;
    /// # std::fs::create_dir_all(&bridge)?;
    /// # std::fs::write(gpu.join("phandle"), 0x1c5u32.to_be_bytes())?;
    /// # std::fs::write(gpu.join("ibm,npu"), 0x200u32.to_be_bytes())?;
    /// # std::fs::write(bridge.join("phandle"), 0x200u32.to_be_bytes())?;
    /// # std::fs::write(bridge.join("ibm,gpu"), 0x1c5u32.to_be_bytes())?;
    /// # std::fs::write(bridge.join("ibm,nvlink-speed"), 8u32.to_be_bytes())?;
    /// # std::fs::create_dir_all(dir.path().join("proc"))?;
    /// # std::os::unix::fs::symlink("/sys/firmware/devicetree/base", dir.path().join("proc/device-tree"))?;
    /// use devtree::Tree;
    /// use devtree::power9::{NvlinkSpeed, Power9Node as _};
    ///
    /// let root = fsroot::Root::open(dir.path())?; // or fsroot::Root::live()
    /// let tree = Tree::from_proc(&root)?;
    /// let gpu = tree.find("/pciex@600c3c0400000/3d-controller@0").ok_or("no GPU node")?;
    /// let bridges = gpu.nvlink_bridges()?;
    /// assert_eq!(bridges[0].path(), "/pciex@6030200000000/unknown-bridge@0");
    /// assert_eq!(bridges[0].nvlink_gpu()?, gpu);
    /// assert_eq!(bridges[0].nvlink_speed()?, NvlinkSpeed::Gbps25_78125);
    /// assert!(bridges[0].device_tgt_addr().unwrap_err().is_missing());
    /// # Ok(()) }
    /// ```
    pub fn from_proc(root: &fsroot::Root) -> Result<Tree<'static>, DirError> {
        dir::read(root, Path::new(PROC_DEVICE_TREE))
    }
}

/// The examples of `README.md`, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Only checks a blob: the header as libfdt's `fdt_check_header` does.
pub fn check_header(blob: &[u8]) -> Result<Header, BlobError> {
    blob::parse_header(blob)
}
