//! Capture archives held in memory: decompression by magic bytes, and the tree of entries.

use std::collections::BTreeMap;
use std::io::{self, BufRead};

use crate::errno::Errno;
use crate::error::{ArchiveProblem, OpenError};
use crate::resolve::{self, Budget, Lookup};
use crate::tar::{self, TarEntry, TarKind};
use crate::{EntryKind, Limits};

/// How a capture archive is compressed, as recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Recognises the compression from the first bytes of a file.
    pub fn from_magic(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// A short name: `tar`, `gzip`, `bzip2`, `xz`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// An archive entry that was not taken into the tree, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry's path as the archive names it.
    pub path: String,
    /// Why it is absent from the root.
    pub reason: String,
}

/// One node of the in-memory tree.
#[derive(Debug)]
enum Node {
    Dir(BTreeMap<Box<str>, u32>),
    File(Box<[u8]>),
    Symlink(Box<str>),
}

/// The entries of a capture archive, as a tree.
#[derive(Debug)]
pub(crate) struct ArchiveTree {
    nodes: Vec<Node>,
    skipped: Vec<SkippedEntry>,
    compression: Compression,
    /// Nodes the tree may hold, implicit directories included ([`Limits::max_entries`]).
    max_nodes: u64,
    /// Longest entry path kept ([`Limits::max_path_bytes`]).
    max_path_bytes: u64,
    /// Deepest entry path kept ([`Limits::max_depth`]).
    max_depth: u64,
}

const ROOT: u32 = 0;

/// Why an entry was not inserted.
enum Refused {
    /// The tree is full: the archive is refused.
    TooMany,
    /// This entry is left out (listed in [`ArchiveTree::skipped`]).
    Skip(&'static str),
}

/// Memory the xz decoder may use (KiB): enough for `xz -8` (32 MiB dictionary), refusing the
/// 64 MiB dictionary of `xz -9` and the 1.5 GiB a hostile header may declare.
#[cfg(feature = "xz")]
const XZ_MEMORY_LIMIT_KIB: u32 = 40 * 1024;

/// Largest zstd window accepted: 32 MiB covers every compression level without `--long`
/// (level 19 uses 8 MiB) and refuses the multi-gigabyte windows a hostile frame may declare.
#[cfg(feature = "zstd")]
const ZSTD_MAX_WINDOW_BYTES: u64 = 32 << 20;

impl ArchiveTree {
    /// Reads a whole archive from `input`, recognising its compression by magic bytes.
    pub(crate) fn load<R: BufRead>(
        name: &str,
        mut input: R,
        limits: &Limits,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<ArchiveTree, OpenError> {
        let head = input.fill_buf().map_err(|source| OpenError::Io {
            path: name.into(),
            source,
        })?;
        let compression = Compression::from_magic(head);
        let mut tree = ArchiveTree {
            nodes: vec![Node::Dir(BTreeMap::new())],
            skipped: Vec::new(),
            compression,
            max_nodes: limits.max_entries,
            max_path_bytes: limits.max_path_bytes,
            max_depth: limits.max_depth,
        };
        let emit = |entry: TarEntry| tree.add(entry);
        let format = compression.name();
        let result = match compression {
            Compression::None => tar::read_tar(input, format, limits, keep, emit),
            #[cfg(feature = "gzip")]
            Compression::Gzip => tar::read_tar(
                flate2::bufread::MultiGzDecoder::new(input),
                format,
                limits,
                keep,
                emit,
            ),
            #[cfg(feature = "bzip2")]
            Compression::Bzip2 => tar::read_tar(
                bzip2::bufread::MultiBzDecoder::new(input),
                format,
                limits,
                keep,
                emit,
            ),
            #[cfg(feature = "xz")]
            Compression::Xz => tar::read_tar(
                lzma_rust2::XzReader::new_mem_limit(input, true, XZ_MEMORY_LIMIT_KIB),
                format,
                limits,
                keep,
                emit,
            ),
            #[cfg(feature = "zstd")]
            Compression::Zstd => {
                match ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                    input,
                    ZSTD_MAX_WINDOW_BYTES,
                ) {
                    Ok(decoder) => tar::read_tar(decoder, format, limits, keep, emit),
                    Err(e) => Err(tar::TarError {
                        entry: None,
                        offset: 0,
                        problem: ArchiveProblem::Decompress {
                            format,
                            message: e.to_string(),
                        },
                    }),
                }
            }
            #[allow(
                unreachable_patterns,
                reason = "reached when a decoder's feature is off"
            )]
            _ => Err(tar::TarError {
                entry: None,
                offset: 0,
                problem: ArchiveProblem::NotCompiled { format },
            }),
        };
        result.map_err(|e| OpenError::Archive {
            archive: name.to_owned(),
            entry: e.entry,
            offset: e.offset,
            problem: e.problem,
        })?;
        Ok(tree)
    }

    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }

    pub(crate) fn skipped(&self) -> &[SkippedEntry] {
        &self.skipped
    }

    /// Takes one entry into the tree, or records why it was left out. Fails when the tree
    /// would hold more nodes than [`Limits::max_entries`], counting the directories an entry
    /// creates on its way (a 174 KB archive of long one-letter paths must not become millions
    /// of implicit directories).
    fn add(&mut self, entry: TarEntry) -> Result<(), ArchiveProblem> {
        let node = match entry.kind {
            TarKind::File => Node::File(entry.data.unwrap_or_default().into_boxed_slice()),
            TarKind::Dir => Node::Dir(BTreeMap::new()),
            TarKind::Symlink => Node::Symlink(entry.link.into_boxed_str()),
            other => {
                let reason = match other {
                    TarKind::HardLink => format!("hard link to {:?}: not followed", entry.link),
                    TarKind::CharDevice | TarKind::BlockDevice => "device node".to_owned(),
                    TarKind::Fifo => "FIFO".to_owned(),
                    TarKind::Other(flag) => format!("unsupported entry type {:?}", flag as char),
                    _ => "unsupported entry".to_owned(),
                };
                self.skip(entry.path, reason)?;
                return Ok(());
            }
        };
        let components = normalise(&entry.path);
        let bytes = components.iter().map(|c| c.len() as u64 + 1).sum::<u64>();
        if bytes > self.max_path_bytes || components.len() as u64 > self.max_depth {
            let reason = format!(
                "path of {bytes} bytes and {} components, over the limits of {} bytes and {} components",
                components.len(),
                self.max_path_bytes,
                self.max_depth
            );
            return self.skip(entry.path, reason);
        }
        match self.insert(&components, node) {
            Ok(()) => Ok(()),
            Err(Refused::TooMany) => Err(ArchiveProblem::TooManyEntries {
                limit: self.max_nodes,
            }),
            Err(Refused::Skip(reason)) => self.skip(entry.path, reason.to_owned()),
        }
    }

    /// Nodes (the root aside) and left-out entries held so far.
    fn held(&self) -> u64 {
        (self.nodes.len().saturating_sub(1) + self.skipped.len()) as u64
    }

    /// Records a left-out entry; the list is bounded like the tree.
    fn skip(&mut self, path: String, reason: String) -> Result<(), ArchiveProblem> {
        if self.held() >= self.max_nodes {
            return Err(ArchiveProblem::TooManyEntries {
                limit: self.max_nodes,
            });
        }
        self.skipped.push(SkippedEntry { path, reason });
        Ok(())
    }

    /// Inserts `node` at `components`, creating missing directories on the way. A later entry
    /// replaces an earlier one (as extraction would), except that a directory entry over an
    /// existing directory keeps its children.
    fn insert(&mut self, components: &[&str], node: Node) -> Result<(), Refused> {
        let Some((last, parents)) = components.split_last() else {
            return match node {
                Node::Dir(_) => Ok(()),
                _ => Err(Refused::Skip("names the root directory itself")),
            };
        };
        let mut dir = ROOT;
        for name in parents {
            dir = match self.children(dir)?.get(*name).copied() {
                Some(id) => id,
                None => self.push_child(dir, name, Node::Dir(BTreeMap::new()))?,
            };
        }
        match self.children(dir)?.get(*last).copied() {
            Some(id) => {
                let slot = self
                    .nodes
                    .get_mut(id as usize)
                    .ok_or(Refused::Skip("internal: bad node"))?;
                if !(matches!(slot, Node::Dir(_)) && matches!(node, Node::Dir(_))) {
                    *slot = node;
                }
            }
            None => {
                self.push_child(dir, last, node)?;
            }
        }
        Ok(())
    }

    fn children(&self, dir: u32) -> Result<&BTreeMap<Box<str>, u32>, Refused> {
        match self.nodes.get(dir as usize) {
            Some(Node::Dir(children)) => Ok(children),
            _ => Err(Refused::Skip(
                "a directory on its path is a file or a symlink in the archive",
            )),
        }
    }

    fn push_child(&mut self, dir: u32, name: &str, node: Node) -> Result<u32, Refused> {
        if self.held() >= self.max_nodes {
            return Err(Refused::TooMany);
        }
        let id = u32::try_from(self.nodes.len()).map_err(|_| Refused::TooMany)?;
        match self.nodes.get_mut(dir as usize) {
            Some(Node::Dir(children)) => {
                children.insert(name.into(), id);
            }
            _ => {
                return Err(Refused::Skip(
                    "a directory on its path is a file or a symlink in the archive",
                ));
            }
        }
        self.nodes.push(node);
        Ok(id)
    }

    fn node(&self, id: u32) -> io::Result<&Node> {
        self.nodes
            .get(id as usize)
            .ok_or_else(|| io::Error::other("internal: bad node id"))
    }

    /// The content of the file at `path`, following symlinks.
    pub(crate) fn read(&self, path: &str, budget: Budget<'_>) -> io::Result<&[u8]> {
        let found = resolve::resolve(self, path, true, budget)?;
        match self.node(found.node)? {
            Node::File(data) => Ok(data),
            Node::Dir(_) => Err(Errno::IsDir.into()),
            Node::Symlink(_) => Err(Errno::Loop.into()),
        }
    }

    /// The sorted names in the directory at `path`, following symlinks.
    pub(crate) fn read_dir(&self, path: &str, budget: Budget<'_>) -> io::Result<Vec<String>> {
        let found = resolve::resolve(self, path, true, budget)?;
        match self.node(found.node)? {
            Node::Dir(children) => Ok(children.keys().map(|k| k.to_string()).collect()),
            _ => Err(Errno::NotDir.into()),
        }
    }

    /// The text of the symlink at `path` (the final component is not followed).
    pub(crate) fn read_link(&self, path: &str, budget: Budget<'_>) -> io::Result<String> {
        let found = resolve::resolve(self, path, false, budget)?;
        match self.node(found.node)? {
            Node::Symlink(target) => Ok(target.to_string()),
            _ => Err(Errno::Inval.into()),
        }
    }

    /// The kind of the entry at `path`, without following a final symlink.
    pub(crate) fn kind(&self, path: &str, budget: Budget<'_>) -> io::Result<EntryKind> {
        Ok(resolve::resolve(self, path, false, budget)?.kind)
    }

    /// The canonical path of `path`, every symlink followed.
    pub(crate) fn resolve(&self, path: &str, budget: Budget<'_>) -> io::Result<Vec<String>> {
        Ok(resolve::resolve(self, path, true, budget)?.components)
    }
}

impl Lookup for ArchiveTree {
    type Node = u32;

    fn root(&self) -> io::Result<u32> {
        Ok(ROOT)
    }

    fn child(&self, dir: &u32, name: &str) -> io::Result<Option<(u32, EntryKind)>> {
        let Node::Dir(children) = self.node(*dir)? else {
            return Err(Errno::NotDir.into());
        };
        let Some(&id) = children.get(name) else {
            return Ok(None);
        };
        let kind = match self.node(id)? {
            Node::Dir(_) => EntryKind::Dir,
            Node::File(_) => EntryKind::File,
            Node::Symlink(_) => EntryKind::Symlink,
        };
        Ok(Some((id, kind)))
    }

    fn link_text(&self, node: &u32) -> io::Result<String> {
        match self.node(*node)? {
            Node::Symlink(target) => Ok(target.to_string()),
            _ => Err(Errno::Inval.into()),
        }
    }
}

/// Normalises an archive path inside the root: leading `/` dropped, `.` and empty components
/// dropped, `..` removes the previous component and never climbs above the root.
/// `../../etc/passwd` becomes `etc/passwd`; `/etc/shadow` becomes `etc/shadow`.
pub(crate) fn normalise(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for component in resolve::split(path) {
        if component == ".." {
            out.pop();
        } else {
            out.push(component);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// A build without a decoder refuses that format by name, and still reads plain tar.
    #[cfg(not(feature = "zstd"))]
    #[test]
    fn a_format_whose_decoder_is_left_out_is_refused_by_name() {
        let mut zstd = vec![0x28, 0xb5, 0x2f, 0xfd];
        zstd.resize(1024, 0);
        let err = ArchiveTree::load("x.tar.zst", &zstd[..], &Limits::default(), &|_| true)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("zstd archives are not read by this build"),
            "{err}"
        );
        assert!(
            ArchiveTree::load("x.tar", &[0u8; 1024][..], &Limits::default(), &|_| true).is_ok()
        );
    }

    use super::*;

    #[test]
    fn normalise_clamps_at_root() {
        assert_eq!(normalise("../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(normalise("/etc/shadow"), ["etc", "shadow"]);
        assert_eq!(normalise("./a/./b/../c/"), ["a", "c"]);
        assert!(normalise("/..").is_empty());
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(Compression::from_magic(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::from_magic(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(
            Compression::from_magic(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Compression::Xz
        );
        assert_eq!(
            Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::from_magic(b"sys/"), Compression::None);
        assert_eq!(Compression::from_magic(b""), Compression::None);
    }
}
