//! Properties and their typed decoders. Every decoder checks the length first and returns a
//! [`PropError`] on a wrong shape; none panics.

use std::borrow::Cow;

use byteorder::{BigEndian, ByteOrder};

use crate::error::{PropError, PropProblem};
use crate::tree::{Node, Phandle};

/// One property: a name and a value of raw bytes (big-endian cells, strings, …). For a blob
/// both borrow from the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) value: Cow<'a, [u8]>,
}

impl<'a> Property<'a> {
    /// A property from a name and a value.
    pub fn new(name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, [u8]>>) -> Property<'a> {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The property's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// An owned copy.
    pub fn into_owned(self) -> Property<'static> {
        Property {
            name: Cow::Owned(self.name.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }

    pub(crate) fn value_u32(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.value.as_ref().try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// How `dtc` would show the value (see [`ValueKind`]).
    pub fn kind(&self) -> ValueKind {
        ValueKind::guess(&self.value)
    }
}

/// The shape of a value as `dtc -O dts` guesses it (dtc `treesource.c`, `guess_value_type`):
/// printable NUL-terminated strings, else 32-bit cells when the length is a multiple of 4,
/// else bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// No bytes (a boolean property).
    Empty,
    /// One or more NUL-terminated printable strings.
    Strings,
    /// Big-endian 32-bit cells.
    Cells,
    /// Anything else.
    Bytes,
}

impl ValueKind {
    /// The shape `dtc` would print `value` as.
    pub fn guess(value: &[u8]) -> ValueKind {
        let Some(&last) = value.last() else {
            return ValueKind::Empty;
        };
        let mut nul = 0usize;
        let mut not_string = false;
        for &b in value {
            if b == 0 {
                nul += 1;
            } else if !(b.is_ascii_graphic() || b == b' ' || (7..=13).contains(&b)) {
                not_string = true;
            }
        }
        if last == 0 && !not_string && nul <= value.len() - nul {
            ValueKind::Strings
        } else if value.len().is_multiple_of(4) {
            ValueKind::Cells
        } else {
            ValueKind::Bytes
        }
    }
}

/// Decoders of raw values, independent of any node (the [`Node`] methods add the node and
/// property names to the error).
pub mod decode {
    use super::*;

    fn length(expected: impl Into<String>, found: usize) -> PropProblem {
        PropProblem::Length {
            expected: expected.into(),
            found,
        }
    }

    /// One big-endian 32-bit cell (exactly 4 bytes).
    pub fn u32(value: &[u8]) -> Result<u32, PropProblem> {
        match value.len() {
            4 => Ok(BigEndian::read_u32(value)),
            n => Err(length("4 bytes (one cell)", n)),
        }
    }

    /// One big-endian 64-bit value (exactly 8 bytes, two cells).
    pub fn u64(value: &[u8]) -> Result<u64, PropProblem> {
        match value.len() {
            8 => Ok(BigEndian::read_u64(value)),
            n => Err(length("8 bytes (two cells)", n)),
        }
    }

    /// A list of 32-bit cells (length a multiple of 4).
    pub fn cells(value: &[u8]) -> Result<Vec<u32>, PropProblem> {
        if !value.len().is_multiple_of(4) {
            return Err(length("a multiple of 4 bytes (cells)", value.len()));
        }
        Ok(value.chunks_exact(4).map(BigEndian::read_u32).collect())
    }

    /// A list of 64-bit values (length a multiple of 8).
    pub fn u64s(value: &[u8]) -> Result<Vec<u64>, PropProblem> {
        if !value.len().is_multiple_of(8) {
            return Err(length("a multiple of 8 bytes (64-bit values)", value.len()));
        }
        Ok(value.chunks_exact(8).map(BigEndian::read_u64).collect())
    }

    /// One NUL-terminated UTF-8 string with no NUL inside.
    pub fn string(value: &[u8]) -> Result<&str, PropProblem> {
        let Some((&0, body)) = value.split_last() else {
            return Err(PropProblem::NotString {
                expected: "a NUL-terminated string",
            });
        };
        if body.contains(&0) {
            return Err(PropProblem::NotString {
                expected: "one string (found a NUL inside: a string list?)",
            });
        }
        std::str::from_utf8(body).map_err(|_| PropProblem::NotString {
            expected: "UTF-8 text",
        })
    }

    /// A list of NUL-terminated UTF-8 strings (`compatible`).
    pub fn strings(value: &[u8]) -> Result<Vec<&str>, PropProblem> {
        let Some((&0, body)) = value.split_last() else {
            return Err(PropProblem::NotString {
                expected: "NUL-terminated strings",
            });
        };
        body.split(|&b| b == 0)
            .map(|s| {
                std::str::from_utf8(s).map_err(|_| PropProblem::NotString {
                    expected: "UTF-8 text",
                })
            })
            .collect()
    }

    /// Values of `cells` cells each, joined into one integer (at most 4 cells).
    pub fn wide(cells: &[u32]) -> u128 {
        cells
            .iter()
            .fold(0u128, |acc, &c| (acc << 32) | u128::from(c))
    }
}

/// One `(address, size)` entry of a `reg` property, decoded with the parent's
/// `#address-cells` and `#size-cells`. Up to 4 cells each; a PCI `reg` has a 3-cell address
/// whose top cell holds the bus/device/function (`address >> 64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegEntry {
    /// The address, its cells joined big-endian.
    pub address: u128,
    /// The size, its cells joined big-endian (0 when `#size-cells` is 0).
    pub size: u128,
}

impl<'t, 'a> Node<'t, 'a> {
    fn decode<T>(
        &self,
        name: &str,
        f: impl FnOnce(&'t [u8]) -> Result<T, PropProblem>,
    ) -> Result<T, PropError> {
        let prop = self.require(name)?;
        f(prop.value()).map_err(|p| self.prop_error(name, p))
    }

    /// Property `name` as one 32-bit cell.
    pub fn u32(&self, name: &str) -> Result<u32, PropError> {
        self.decode(name, decode::u32)
    }

    /// Property `name` as one 64-bit value (two cells).
    pub fn u64(&self, name: &str) -> Result<u64, PropError> {
        self.decode(name, decode::u64)
    }

    /// Property `name` as 32-bit cells.
    pub fn cells(&self, name: &str) -> Result<Vec<u32>, PropError> {
        self.decode(name, decode::cells)
    }

    /// Property `name` as 64-bit values.
    pub fn u64s(&self, name: &str) -> Result<Vec<u64>, PropError> {
        self.decode(name, decode::u64s)
    }

    /// Property `name` as one string.
    pub fn string(&self, name: &str) -> Result<&'t str, PropError> {
        self.decode(name, decode::string)
    }

    /// Property `name` as a string list.
    pub fn strings(&self, name: &str) -> Result<Vec<&'t str>, PropError> {
        self.decode(name, decode::strings)
    }

    /// Property `name` as one phandle (one cell), not yet resolved.
    pub fn phandle_prop(&self, name: &str) -> Result<Phandle, PropError> {
        self.u32(name).map(Phandle)
    }

    /// Property `name` as a phandle list, not yet resolved.
    pub fn phandles_prop(&self, name: &str) -> Result<Vec<Phandle>, PropError> {
        self.cells(name)
            .map(|v| v.into_iter().map(Phandle).collect())
    }

    /// Property `name` as one phandle, resolved to its node.
    pub fn follow(&self, name: &str) -> Result<Node<'t, 'a>, PropError> {
        let ph = self.phandle_prop(name)?;
        self.resolve(name, ph)
    }

    /// Property `name` as a phandle list, each resolved to its node (in order).
    pub fn follow_all(&self, name: &str) -> Result<Vec<Node<'t, 'a>>, PropError> {
        self.phandles_prop(name)?
            .into_iter()
            .map(|ph| self.resolve(name, ph))
            .collect()
    }

    pub(crate) fn resolve(&self, name: &str, ph: Phandle) -> Result<Node<'t, 'a>, PropError> {
        self.tree
            .by_phandle(ph)
            .ok_or_else(|| self.prop_error(name, PropProblem::DanglingPhandle(ph.0)))
    }

    /// Whether the node has `compatible` containing `what`.
    pub fn is_compatible(&self, what: &str) -> bool {
        self.strings("compatible")
            .is_ok_and(|list| list.contains(&what))
    }

    /// The `reg` property as `(address, size)` entries, decoded with the parent's
    /// `#address-cells` / `#size-cells` (looked up as [`Node::address_cells`] says).
    pub fn reg(&self) -> Result<Vec<RegEntry>, PropError> {
        let parent = self.parent().unwrap_or(*self);
        let ac = parent.address_cells()? as usize;
        let sc = parent.size_cells()? as usize;
        let cells = self.cells("reg")?;
        let per = ac + sc;
        if per == 0 || cells.len() % per != 0 {
            return Err(self.prop_error(
                "reg",
                PropProblem::Length {
                    expected: format!(
                        "a multiple of {} bytes ({ac} address + {sc} size cells)",
                        per * 4
                    ),
                    found: cells.len() * 4,
                },
            ));
        }
        Ok(cells
            .chunks_exact(per)
            .map(|entry| {
                let (a, s) = entry.split_at(ac);
                RegEntry {
                    address: decode::wide(a),
                    size: decode::wide(s),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn u32_and_u64_decode_exactly_their_length(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            prop_assert_eq!(decode::u32(&bytes).is_ok(), bytes.len() == 4);
            prop_assert_eq!(decode::u64(&bytes).is_ok(), bytes.len() == 8);
            if let Ok(v) = decode::u32(&bytes) {
                prop_assert_eq!(v.to_be_bytes().to_vec(), bytes.clone());
            }
        }

        #[test]
        fn cells_round_trip(values in proptest::collection::vec(any::<u32>(), 0..32), extra in 0usize..4) {
            let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            prop_assert_eq!(decode::cells(&bytes).unwrap(), values.clone());
            bytes.extend(std::iter::repeat_n(0, extra));
            prop_assert_eq!(decode::cells(&bytes).is_ok(), extra == 0);
            prop_assert_eq!(decode::u64s(&bytes).is_ok(), bytes.len().is_multiple_of(8));
        }

        #[test]
        fn string_lists_round_trip(list in proptest::collection::vec("[a-zA-Z0-9,._ -]{0,12}", 1..6)) {
            let mut bytes = Vec::new();
            for s in &list {
                bytes.extend_from_slice(s.as_bytes());
                bytes.push(0);
            }
            prop_assert_eq!(decode::strings(&bytes).unwrap(), list.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(decode::string(&bytes).is_ok(), list.len() == 1);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::string(&bytes);
            let _ = decode::strings(&bytes);
            let _ = decode::cells(&bytes);
            let _ = decode::u64s(&bytes);
            let _ = crate::power9::Associativity::decode(&bytes);
            let _ = ValueKind::guess(&bytes);
        }
    }

    #[test]
    fn value_kinds_follow_dtc() {
        assert_eq!(ValueKind::guess(b""), ValueKind::Empty);
        assert_eq!(ValueKind::guess(b"okay\0"), ValueKind::Strings);
        assert_eq!(ValueKind::guess(b"a\0b\0"), ValueKind::Strings);
        assert_eq!(ValueKind::guess(&[0, 0, 0, 1]), ValueKind::Cells);
        assert_eq!(ValueKind::guess(&[0, 1]), ValueKind::Bytes);
        assert_eq!(ValueKind::guess(b"\0\0\0\0"), ValueKind::Cells);
    }
}
