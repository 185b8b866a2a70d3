//! Error types of `devtree`.

use std::fmt;
use std::io;
#[cfg(feature = "dir")]
use std::path::PathBuf;

/// A flattened blob is not well-formed: where (byte offset from the start of the blob) and what
/// was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device-tree blob, byte offset {offset} ({offset:#x}): {problem}")]
pub struct BlobError {
    /// Byte offset from the start of the blob where the problem was found.
    pub offset: usize,
    /// What is wrong there.
    pub problem: BlobProblem,
}

/// One of the header blocks of a flattened blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// The memory reservation map (`off_mem_rsvmap`).
    MemReserve,
    /// The structure block (`off_dt_struct`, `size_dt_struct`).
    Struct,
    /// The strings block (`off_dt_strings`, `size_dt_strings`).
    Strings,
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Block::MemReserve => "memory reservation map",
            Block::Struct => "structure block",
            Block::Strings => "strings block",
        })
    }
}

/// What is wrong in a flattened blob (see [`BlobError`] for where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobProblem {
    /// The input ends (or the enclosing block ends) before an item that must be there.
    #[error("expected {expected} ({needed} bytes), but only {available} bytes are left")]
    Truncated {
        /// What was expected.
        expected: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the input or block.
        available: usize,
    },
    /// The first word is not the blob magic `0xd00dfeed`.
    #[error("expected the magic 0xd00dfeed, found {found:#010x}")]
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// The magic says a blob still being written with libfdt's sequential-write functions.
    #[error(
        "found the sequential-write magic 0x2ff20112: an unfinished blob (fdt_finish was never called)"
    )]
    SequentialWrite,
    /// Version outside what this reader (like libfdt) accepts.
    #[error(
        "expected version 16 or 17 (or a later one compatible with 17), found version {version} compatible back to {last_comp_version}"
    )]
    UnsupportedVersion {
        /// `version` field.
        version: u32,
        /// `last_comp_version` field.
        last_comp_version: u32,
    },
    /// `totalsize` smaller than the header or larger than `INT_MAX`.
    #[error("expected totalsize between the header size {header} and 2^31-1, found {totalsize}")]
    BadTotalSize {
        /// `totalsize` field.
        totalsize: u32,
        /// Size of the header for this version.
        header: usize,
    },
    /// The buffer is shorter than the header's `totalsize`.
    #[error("expected {totalsize} bytes as the header's totalsize says, the input has {len}")]
    ShorterThanTotalSize {
        /// `totalsize` field.
        totalsize: u32,
        /// Input length.
        len: usize,
    },
    /// A block starts or ends outside the blob (`header..=totalsize`), or its end overflows.
    #[error(
        "expected the {block} inside bytes {header}..={totalsize}, found offset {start} size {size}"
    )]
    BlockOutOfBounds {
        /// Which block.
        block: Block,
        /// Its offset.
        start: u64,
        /// Its size (0 when the header has no size for it).
        size: u64,
        /// Header size.
        header: usize,
        /// `totalsize`.
        totalsize: u32,
    },
    /// A block offset is not aligned as libfdt requires.
    #[error("expected the {block} at a multiple of {align} bytes, found offset {start}")]
    Misaligned {
        /// Which block.
        block: Block,
        /// Its offset.
        start: u32,
        /// Required alignment.
        align: u32,
    },
    /// The memory reservation map runs past totalsize without its (0, 0) terminator.
    #[error(
        "expected a 16-byte memory reservation entry or the (0, 0) terminator before totalsize"
    )]
    UnterminatedReservations,
    /// A tag value that is none of the five structure tags.
    #[error("expected a structure tag (1, 2, 3, 4 or 9), found {found:#x}")]
    UnknownTag {
        /// The word found.
        found: u32,
    },
    /// A node name without its NUL inside the structure block.
    #[error("expected a NUL-terminated node name inside the structure block")]
    UnterminatedNodeName,
    /// The root node has a name.
    #[error("expected the root node's name to be empty, found {name:?}")]
    NamedRoot {
        /// The name found.
        name: String,
    },
    /// A second top-level node after the root closed.
    #[error("expected FDT_END after the root node, found a second root (FDT_BEGIN_NODE)")]
    SecondRoot,
    /// A property after the root closed.
    #[error("expected FDT_END after the root node, found {found}")]
    AfterRoot {
        /// The tag found.
        found: &'static str,
    },
    /// A property outside any node.
    #[error("expected FDT_BEGIN_NODE for the root node, found {found}")]
    OutsideRoot {
        /// The tag found.
        found: &'static str,
    },
    /// `FDT_END` while nodes are still open.
    #[error("expected FDT_END_NODE ({depth} nodes still open), found FDT_END")]
    EndInsideNode {
        /// Nodes still open.
        depth: usize,
    },
    /// The structure block has no root node at all.
    #[error("expected a root node before FDT_END")]
    NoRoot,
    /// A property's name offset falls outside the strings block.
    #[error("expected a property name offset below {limit} (strings block size), found {nameoff}")]
    NameOffset {
        /// The `nameoff` field.
        nameoff: u32,
        /// Strings block size.
        limit: u64,
    },
    /// A property name without its NUL inside the strings block.
    #[error("expected a NUL-terminated property name at strings offset {nameoff}")]
    UnterminatedPropertyName {
        /// The `nameoff` field.
        nameoff: u32,
    },
    /// Bytes follow `FDT_END` inside a version 17 structure block.
    #[error(
        "expected FDT_END to be the last tag of the structure block, which ends at {struct_end}"
    )]
    DataAfterEnd {
        /// Where the structure block ends (`off_dt_struct + size_dt_struct`).
        struct_end: u64,
    },
    /// Nodes nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("expected nodes nested at most {limit} deep")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// A typed property could not be read: it is missing, or its value has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{node}: property {property:?}: {problem}")]
pub struct PropError {
    /// Path of the node.
    pub node: String,
    /// Name of the property.
    pub property: String,
    /// What is wrong.
    pub problem: PropProblem,
}

impl PropError {
    /// True when the property is simply absent.
    pub fn is_missing(&self) -> bool {
        self.problem == PropProblem::Missing
    }
}

/// What is wrong with a property's value (see [`PropError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PropProblem {
    /// The node has no such property.
    #[error("missing")]
    Missing,
    /// The value's length does not fit the type.
    #[error("expected {expected}, found {found} bytes")]
    Length {
        /// What length was expected, in words.
        expected: String,
        /// The value's length.
        found: usize,
    },
    /// The value is not a NUL-terminated UTF-8 string (list).
    #[error("expected {expected}")]
    NotString {
        /// What was expected.
        expected: &'static str,
    },
    /// A cell count property (`#address-cells`, `#size-cells`) is out of range.
    #[error("{which} = {value} is more than this reader decodes (at most 4)")]
    Cells {
        /// The cell-count property.
        which: &'static str,
        /// Its value.
        value: u32,
    },
    /// A phandle value that no node has, or 0 / 0xffffffff.
    #[error("phandle {0:#x} does not name any node")]
    DanglingPhandle(u32),
    /// The value breaks an encoding rule of the property.
    #[error("{0}")]
    Encoding(String),
}

/// Reading the directory form failed before any node could be read (feature `dir`).
#[cfg(feature = "dir")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirError {
    /// The top directory cannot be read.
    #[error("cannot read the device-tree directory {}: {source}", path.display())]
    Top {
        /// The directory asked for, inside the root.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: fsroot::Error,
    },
}

/// Something in a tree that is readable but not right; the tree is still usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A node or property name breaks the device-tree naming rules (dtc's checks fail it).
    BadName {
        /// Path of the node (for a node name: the node itself).
        node: String,
        /// The property, when a property name is at fault.
        property: Option<String>,
        /// Why.
        reason: String,
    },
    /// Two nodes claim the same phandle.
    DuplicatePhandle {
        /// The phandle value.
        phandle: u32,
        /// The node indexed first.
        first: String,
        /// The node that claims it again.
        second: String,
    },
    /// A `phandle` / `linux,phandle` value that is not one valid cell.
    BadPhandle {
        /// Path of the node.
        node: String,
        /// The property.
        property: String,
        /// Why.
        reason: String,
    },
    /// A node has both `phandle` and `linux,phandle` with different values.
    PhandleMismatch {
        /// Path of the node.
        node: String,
        /// `phandle`.
        phandle: u32,
        /// `linux,phandle`.
        linux_phandle: u32,
    },
    /// An entry of the directory form could not be read (recorded on its node too).
    Unreadable {
        /// Path of the node.
        node: String,
        /// The entry's name.
        entry: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadName {
                node,
                property: Some(p),
                reason,
            } => write!(f, "{node}: property name {p:?}: {reason}"),
            Problem::BadName {
                node,
                property: None,
                reason,
            } => write!(f, "{node}: node name: {reason}"),
            Problem::DuplicatePhandle {
                phandle,
                first,
                second,
            } => write!(
                f,
                "phandle {phandle:#x} claimed by {first} and again by {second} (the first is kept)"
            ),
            Problem::BadPhandle {
                node,
                property,
                reason,
            } => write!(f, "{node}: {property}: {reason}"),
            Problem::PhandleMismatch {
                node,
                phandle,
                linux_phandle,
            } => write!(
                f,
                "{node}: phandle {phandle:#x} and linux,phandle {linux_phandle:#x} differ"
            ),
            Problem::Unreadable {
                node,
                entry,
                reason,
            } => write!(f, "{node}: {entry}: unreadable: {reason}"),
        }
    }
}

/// A directory entry of the directory form that could not be read as a property or node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// The entry's name (the property name, when it is a file).
    pub name: String,
    /// The error kind the file system gave (`Other` for an entry that is neither file nor
    /// directory).
    pub kind: io::ErrorKind,
    /// The message.
    pub message: String,
}
