//! The flattened blob reader: header, memory reservation map and structure block, checked as
//! libfdt's `fdt_check_header` and `fdt_check_full` check them (dtc `libfdt/fdt.c`,
//! `libfdt/fdt_check.c`), into a [`Tree`] that borrows names and values from the blob.
//!
//! Layout facts (Devicetree Specification v0.4, chapter 5): all words big-endian; header
//! fields in this order: magic, totalsize, off_dt_struct, off_dt_strings, off_mem_rsvmap,
//! version, last_comp_version, boot_cpuid_phys, size_dt_strings, size_dt_struct (version 17).

use std::borrow::Cow;

use byteorder::{BigEndian, ByteOrder};
use nom::Parser;
use nom::number::complete::{be_u32, be_u64};

use crate::MAX_DEPTH;
use crate::error::{BlobError, BlobProblem, Block};
use crate::prop::Property;
use crate::tree::{Header, NodeId, Reservation, Tree};

/// `FDT_MAGIC`.
pub const MAGIC: u32 = 0xd00d_feed;
/// `FDT_SW_MAGIC`: libfdt's magic for a blob still being built by `fdt_create` (it is
/// `~FDT_MAGIC`), dtc `libfdt/fdt.h`.
pub const SW_MAGIC: u32 = !MAGIC;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// The header up to `boot_cpuid_phys` (libfdt's `FDT_V2_SIZE`), which tells the version.
const V2_SIZE: usize = 32;
/// Header size of versions 2..=16 and of 17 (`FDT_V16_SIZE`, `FDT_V17_SIZE` are 36 and 40).
const V16_SIZE: usize = 36;
const V17_SIZE: usize = 40;

/// Header field offsets, for error positions.
const AT_TOTALSIZE: usize = 4;
const AT_OFF_STRUCT: usize = 8;
const AT_OFF_STRINGS: usize = 12;
const AT_OFF_MEMRSV: usize = 16;
const AT_VERSION: usize = 20;

fn err<T>(offset: usize, problem: BlobProblem) -> Result<T, BlobError> {
    Err(BlobError { offset, problem })
}

fn truncated(expected: &'static str, needed: usize, available: usize) -> BlobProblem {
    BlobProblem::Truncated {
        expected,
        needed,
        available,
    }
}

/// Reads the header and checks it as `fdt_check_header` does, plus the buffer length and the
/// alignment of the reservation map (8) and structure block (4).
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, BlobError> {
    let Some(magic) = blob.get(..4).map(BigEndian::read_u32) else {
        return err(0, truncated("the magic 0xd00dfeed", 4, blob.len()));
    };
    if magic == SW_MAGIC {
        return err(0, BlobProblem::SequentialWrite);
    }
    if magic != MAGIC {
        return err(0, BlobProblem::BadMagic { found: magic });
    }
    if blob.len() < V2_SIZE {
        return err(0, truncated("the header", V2_SIZE, blob.len()));
    }
    let words = (
        be_u32::<&[u8], ()>,
        be_u32,
        be_u32,
        be_u32,
        be_u32,
        be_u32,
        be_u32,
    )
        .parse(blob.get(4..V2_SIZE).unwrap_or_default());
    let (totalsize, off_struct, off_strings, off_memrsv, version, last_comp, boot) = match words {
        Ok((_, w)) => w,
        Err(nom::Err::Error(()) | nom::Err::Failure(()) | nom::Err::Incomplete(_)) => {
            return err(0, truncated("the header", V2_SIZE, blob.len()));
        }
    };
    // libfdt accepts versions from 2; this reader, like the issue asks, reads 16 and 17 (and
    // later versions that say they are compatible with 17).
    if version < 16 || last_comp > 17 || version < last_comp {
        return err(
            AT_VERSION,
            BlobProblem::UnsupportedVersion {
                version,
                last_comp_version: last_comp,
            },
        );
    }
    let hdr = if version >= 17 { V17_SIZE } else { V16_SIZE };
    let Some(tail) = blob.get(32..hdr) else {
        return err(0, truncated("the header", hdr, blob.len()));
    };
    let size_strings = BigEndian::read_u32(tail);
    let size_struct =
        (version >= 17).then(|| BigEndian::read_u32(tail.get(4..).unwrap_or(&[0; 4])));
    if (totalsize as usize) < hdr || totalsize > i32::MAX as u32 {
        return err(
            AT_TOTALSIZE,
            BlobProblem::BadTotalSize {
                totalsize,
                header: hdr,
            },
        );
    }
    if blob.len() < totalsize as usize {
        return err(
            AT_TOTALSIZE,
            BlobProblem::ShorterThanTotalSize {
                totalsize,
                len: blob.len(),
            },
        );
    }
    let in_bounds = |off: u64| off >= hdr as u64 && off <= u64::from(totalsize);
    let block = |at: usize, block: Block, start: u32, size: Option<u32>| {
        let end = u64::from(start) + u64::from(size.unwrap_or(0));
        if in_bounds(u64::from(start)) && in_bounds(end) {
            Ok(())
        } else {
            err(
                at,
                BlobProblem::BlockOutOfBounds {
                    block,
                    start: u64::from(start),
                    size: u64::from(size.unwrap_or(0)),
                    header: hdr,
                    totalsize,
                },
            )
        }
    };
    block(AT_OFF_MEMRSV, Block::MemReserve, off_memrsv, None)?;
    block(AT_OFF_STRUCT, Block::Struct, off_struct, size_struct)?;
    block(
        AT_OFF_STRINGS,
        Block::Strings,
        off_strings,
        Some(size_strings),
    )?;
    if off_memrsv % 8 != 0 {
        return err(
            AT_OFF_MEMRSV,
            BlobProblem::Misaligned {
                block: Block::MemReserve,
                start: off_memrsv,
                align: 8,
            },
        );
    }
    if off_struct % 4 != 0 {
        return err(
            AT_OFF_STRUCT,
            BlobProblem::Misaligned {
                block: Block::Struct,
                start: off_struct,
                align: 4,
            },
        );
    }
    Ok(Header {
        totalsize,
        off_dt_struct: off_struct,
        off_dt_strings: off_strings,
        off_mem_rsvmap: off_memrsv,
        version,
        last_comp_version: last_comp,
        boot_cpuid_phys: boot,
        size_dt_strings: size_strings,
        size_dt_struct: size_struct.unwrap_or(0),
    })
}

/// The reservation map: 16-byte (address, size) entries up to the (0, 0) terminator, which
/// must come before `totalsize` (libfdt `fdt_num_mem_rsv`).
fn parse_reservations(blob: &[u8], h: &Header) -> Result<Vec<Reservation>, BlobError> {
    let start = h.off_mem_rsvmap as usize;
    let mut input = blob.get(start..h.totalsize as usize).unwrap_or_default();
    let mut out = Vec::new();
    loop {
        let at = start + out.len() * 16;
        match (be_u64::<&[u8], ()>, be_u64).parse(input) {
            Ok((_, (0, 0))) => return Ok(out),
            Ok((rest, (address, size))) => {
                out.push(Reservation { address, size });
                input = rest;
            }
            Err(_) => return err(at, BlobProblem::UnterminatedReservations),
        }
    }
}

fn tag_name(tag: u32) -> &'static str {
    match tag {
        FDT_BEGIN_NODE => "FDT_BEGIN_NODE",
        FDT_END_NODE => "FDT_END_NODE",
        FDT_PROP => "FDT_PROP",
        FDT_NOP => "FDT_NOP",
        FDT_END => "FDT_END",
        _ => "an unknown tag",
    }
}

/// Reads and checks a whole blob into a tree.
pub(crate) fn parse(blob: &[u8]) -> Result<Tree<'_>, BlobError> {
    let mut header = parse_header(blob)?;
    let reservations = parse_reservations(blob, &header)?;
    let total = header.totalsize as usize;
    let s_start = header.off_dt_struct as usize;
    let v17 = header.version >= 17;
    // Version 16 headers have no structure size: the block runs to FDT_END within totalsize.
    let s_end = if v17 {
        s_start + header.size_dt_struct as usize
    } else {
        total
    };
    let structure = blob.get(..s_end).unwrap_or_default();
    // Property names: inside the strings block for version 17; for older versions libfdt
    // bounds them by totalsize only (`fdt_get_string`).
    let str_start = header.off_dt_strings as usize;
    let str_end = if v17 {
        str_start + header.size_dt_strings as usize
    } else {
        total
    };
    let strings = blob.get(str_start..str_end).unwrap_or_default();

    // A rough size guess keeps reallocation down: one node per ~600 blob bytes.
    let mut tree = Tree::with_root(structure.len() / 600);
    let mut stack: Vec<NodeId> = Vec::with_capacity(16);
    let mut root_done = false;
    let mut pos = s_start;
    let mut names = NameCache::new(strings.len());
    let mut bad_props: Vec<(NodeId, String, String)> = Vec::new();
    loop {
        let tag_at = pos;
        let Some(tag) = structure.get(pos..pos + 4).map(BigEndian::read_u32) else {
            return err(
                tag_at,
                truncated("a structure tag", 4, structure.len().saturating_sub(pos)),
            );
        };
        pos += 4;
        match tag {
            FDT_BEGIN_NODE => {
                if root_done {
                    return err(tag_at, BlobProblem::SecondRoot);
                }
                let rest = structure.get(pos..).unwrap_or_default();
                let Some(len) = rest.iter().position(|&b| b == 0) else {
                    return err(pos, BlobProblem::UnterminatedNodeName);
                };
                let raw = rest.get(..len).unwrap_or_default();
                let name = match std::str::from_utf8(raw) {
                    Ok(s) => Cow::Borrowed(s),
                    Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
                };
                match stack.last() {
                    None => {
                        if !name.is_empty() {
                            return err(
                                pos,
                                BlobProblem::NamedRoot {
                                    name: name.into_owned(),
                                },
                            );
                        }
                        stack.push(NodeId::ROOT);
                    }
                    Some(&parent) => {
                        if stack.len() >= MAX_DEPTH {
                            return err(tag_at, BlobProblem::TooDeep { limit: MAX_DEPTH });
                        }
                        let id = tree.add_child(parent, name);
                        stack.push(id);
                    }
                }
                pos = align4(pos + len + 1);
            }
            FDT_END_NODE => {
                if stack.pop().is_none() {
                    let found = tag_name(tag);
                    let problem = if root_done {
                        BlobProblem::AfterRoot { found }
                    } else {
                        BlobProblem::OutsideRoot { found }
                    };
                    return err(tag_at, problem);
                }
                if stack.is_empty() {
                    root_done = true;
                }
            }
            FDT_PROP => {
                let Some(&node) = stack.last() else {
                    return err(
                        tag_at,
                        if root_done {
                            BlobProblem::AfterRoot {
                                found: tag_name(tag),
                            }
                        } else {
                            BlobProblem::OutsideRoot {
                                found: tag_name(tag),
                            }
                        },
                    );
                };
                let Some(head) = structure.get(pos..pos + 8) else {
                    return err(
                        pos,
                        truncated(
                            "a property's length and name offset",
                            8,
                            structure.len().saturating_sub(pos),
                        ),
                    );
                };
                let len = BigEndian::read_u32(head) as usize;
                let nameoff = BigEndian::read_u32(head.get(4..).unwrap_or_default());
                let v_start = pos + 8;
                let Some(value) = structure.get(v_start..v_start.saturating_add(len)) else {
                    return err(
                        v_start,
                        truncated(
                            "a property value as long as its length field says",
                            len,
                            structure.len().saturating_sub(v_start),
                        ),
                    );
                };
                let (name, name_ok) = names.get(strings, nameoff, pos + 4)?;
                if !name_ok {
                    let reason = crate::names::check_property_name(&name).err();
                    bad_props.push((node, name.to_string(), reason.unwrap_or_default()));
                }
                if let Some(n) = tree.data_mut(node) {
                    n.props.push(Property {
                        name,
                        value: Cow::Borrowed(value),
                    });
                }
                pos = align4(v_start + len);
            }
            // libfdt's fdt_check_full lets only FDT_END follow the root node (dtc refuses a
            // NOP there too: "doesn't end with FDT_END").
            FDT_NOP if root_done => {
                return err(
                    tag_at,
                    BlobProblem::AfterRoot {
                        found: tag_name(tag),
                    },
                );
            }
            FDT_NOP => {}
            FDT_END => {
                if !stack.is_empty() {
                    return err(tag_at, BlobProblem::EndInsideNode { depth: stack.len() });
                }
                if !root_done {
                    return err(tag_at, BlobProblem::NoRoot);
                }
                if v17 && pos != s_end {
                    return err(
                        pos,
                        BlobProblem::DataAfterEnd {
                            struct_end: s_end as u64,
                        },
                    );
                }
                if !v17 {
                    header.size_dt_struct = u32::try_from(pos - s_start).unwrap_or(u32::MAX);
                }
                break;
            }
            other => return err(tag_at, BlobProblem::UnknownTag { found: other }),
        }
    }
    tree.header = Some(header);
    tree.reservations = reservations;
    tree.finish(false);
    tree.bad_property_names(bad_props);
    Ok(tree)
}

/// Property names seen so far, by strings-block offset: most properties share a few dozen
/// names, so each is found, checked as UTF-8 and against the naming rules once.
struct NameCache<'a> {
    seen: Vec<Option<(&'a str, bool)>>,
}

impl<'a> NameCache<'a> {
    /// Blocks larger than this (never seen in real trees) are not cached.
    const MAX: usize = 1 << 16;

    fn new(strings_len: usize) -> NameCache<'a> {
        NameCache {
            seen: if strings_len <= Self::MAX {
                vec![None; strings_len]
            } else {
                Vec::new()
            },
        }
    }

    /// The name at `nameoff`, and whether it follows the naming rules.
    fn get(
        &mut self,
        strings: &'a [u8],
        nameoff: u32,
        at: usize,
    ) -> Result<(Cow<'a, str>, bool), BlobError> {
        if let Some(Some((name, ok))) = self.seen.get(nameoff as usize) {
            return Ok((Cow::Borrowed(name), *ok));
        }
        let name = property_name(strings, nameoff, at)?;
        let ok = crate::names::check_property_name(&name).is_ok();
        if let (Cow::Borrowed(s), Some(slot)) = (&name, self.seen.get_mut(nameoff as usize)) {
            *slot = Some((s, ok));
        }
        Ok((name, ok))
    }
}

fn property_name(strings: &[u8], nameoff: u32, at: usize) -> Result<Cow<'_, str>, BlobError> {
    let Some(rest) = strings.get(nameoff as usize..).filter(|r| !r.is_empty()) else {
        return err(
            at,
            BlobProblem::NameOffset {
                nameoff,
                limit: strings.len() as u64,
            },
        );
    };
    let Some(len) = rest.iter().position(|&b| b == 0) else {
        return err(at, BlobProblem::UnterminatedPropertyName { nameoff });
    };
    let raw = rest.get(..len).unwrap_or_default();
    Ok(match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
    })
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}
