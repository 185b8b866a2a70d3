//! Parsing sysfs attribute values: `0x10de\n`, `0x030200\n`, `-1\n`.
//!
//! The kernel prints ids as `0x%04x`, classes as `0x%06x`, the revision as `0x%02x` and
//! `numa_node` as a signed decimal (`drivers/pci/pci-sysfs.c` in torvalds/linux). These
//! functions accept exactly that, with surrounding ASCII whitespace, and say precisely why
//! anything else is refused.

use std::fmt;

/// Why an attribute's content is not the value it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The file is empty (or only whitespace).
    #[error("empty")]
    Empty,
    /// The content is not a number of the expected form.
    #[error("{} is not {expected}", Shown(.text))]
    Malformed {
        /// The content, trimmed, at most 64 bytes of it (lossy UTF-8).
        text: String,
        /// What was expected, e.g. "a hex number like 0x10de".
        expected: &'static str,
    },
    /// The number does not fit the attribute's width.
    #[error("{} is larger than {max:#x}", Shown(.text))]
    TooLarge {
        /// The content, trimmed, at most 64 bytes of it.
        text: String,
        /// The largest value the attribute may hold.
        max: u64,
    },
}

/// Shows a value quoted, so an empty or odd text stays visible in a message.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn shown(bytes: &[u8]) -> String {
    let cut = bytes.get(..64).unwrap_or(bytes);
    String::from_utf8_lossy(cut).into_owned()
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Parses a hex attribute (`0x` prefix optional, as `strtoul(…, 16)` takes it) holding at most
/// `max`.
pub fn parse_hex(bytes: &[u8], max: u64) -> Result<u64, ValueError> {
    let text = trim(bytes);
    if text.is_empty() {
        return Err(ValueError::Empty);
    }
    let digits = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(ValueError::Malformed {
            text: shown(text),
            expected: "a hex number like 0x10de",
        });
    }
    // Leading zeros do not make a number larger.
    let significant = {
        let start = digits
            .iter()
            .position(|&b| b != b'0')
            .unwrap_or(digits.len());
        digits.get(start..).unwrap_or_default()
    };
    let too_large = || ValueError::TooLarge {
        text: shown(text),
        max,
    };
    if significant.len() > 16 {
        return Err(too_large());
    }
    let mut value: u64 = 0;
    for &b in significant {
        let digit = char::from(b).to_digit(16).ok_or_else(too_large)?;
        value = value
            .checked_mul(16)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or_else(too_large)?;
    }
    if value > max {
        return Err(too_large());
    }
    Ok(value)
}

/// Parses a 16-bit hex id (`vendor`, `device`, `subsystem_vendor`, `subsystem_device`).
pub fn parse_id(bytes: &[u8]) -> Result<u16, ValueError> {
    parse_hex(bytes, u64::from(u16::MAX)).and_then(|v| u16::try_from(v).map_err(|_| overflow()))
}

/// Parses an 8-bit hex value (`revision`).
pub fn parse_u8(bytes: &[u8]) -> Result<u8, ValueError> {
    parse_hex(bytes, u64::from(u8::MAX)).and_then(|v| u8::try_from(v).map_err(|_| overflow()))
}

/// Parses the 24-bit `class` attribute (base class, subclass, programming interface).
pub fn parse_class(bytes: &[u8]) -> Result<u32, ValueError> {
    parse_hex(bytes, 0xff_ffff).and_then(|v| u32::try_from(v).map_err(|_| overflow()))
}

/// Unreachable in practice (the range was checked), but typed rather than panicking.
fn overflow() -> ValueError {
    ValueError::TooLarge {
        text: String::new(),
        max: 0,
    }
}

/// Parses `numa_node`: `None` for `-1` (the kernel's "no node"), an error for any other
/// negative number.
pub fn parse_numa_node(bytes: &[u8]) -> Result<Option<u32>, ValueError> {
    match parse_i32(bytes)? {
        -1 => Ok(None),
        node => u32::try_from(node)
            .map(Some)
            .map_err(|_| ValueError::Malformed {
                text: node.to_string(),
                expected: "a node number or -1",
            }),
    }
}

/// Parses a signed decimal attribute (`numa_node`: `-1` means no node).
pub fn parse_i32(bytes: &[u8]) -> Result<i32, ValueError> {
    let text = trim(bytes);
    if text.is_empty() {
        return Err(ValueError::Empty);
    }
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ValueError::Malformed {
            text: shown(text),
            expected: "a decimal number like 0 or -1",
        });
    }
    // All ASCII digits with an optional sign: only the range can fail now.
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .ok_or_else(|| ValueError::TooLarge {
            text: shown(text),
            max: i32::MAX as u64,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id(b"0x10de\n"), Ok(0x10de));
        assert_eq!(parse_id(b"0X1DB1"), Ok(0x1db1));
        assert_eq!(parse_id(b"  1014 \n"), Ok(0x1014));
        assert_eq!(parse_id(b"0x00000000ffff"), Ok(0xffff));
        assert_eq!(parse_id(b""), Err(ValueError::Empty));
        assert_eq!(parse_id(b"\n"), Err(ValueError::Empty));
        assert!(matches!(
            parse_id(b"0xzz"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(parse_id(b"0x"), Err(ValueError::Malformed { .. })));
        assert!(matches!(
            parse_id(b"-0x1"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            parse_id(b"0x1 0x2"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            parse_id(b"0x10000"),
            Err(ValueError::TooLarge { max: 0xffff, .. })
        ));
        assert!(matches!(
            parse_id(b"0xffffffffffffffffff"),
            Err(ValueError::TooLarge { .. })
        ));
    }

    #[test]
    fn class_and_revision() {
        assert_eq!(parse_class(b"0x068001\n"), Ok(0x068001));
        assert!(matches!(
            parse_class(b"0x1000000"),
            Err(ValueError::TooLarge { .. })
        ));
        assert_eq!(parse_u8(b"0xa1\n"), Ok(0xa1));
        assert!(matches!(
            parse_u8(b"0x100"),
            Err(ValueError::TooLarge { .. })
        ));
    }

    #[test]
    fn numa_node() {
        assert_eq!(parse_i32(b"-1\n"), Ok(-1));
        assert_eq!(parse_i32(b"255\n"), Ok(255));
        assert_eq!(parse_i32(b""), Err(ValueError::Empty));
        assert!(matches!(parse_i32(b"-"), Err(ValueError::Malformed { .. })));
        assert!(matches!(
            parse_i32(b"0x1"),
            Err(ValueError::Malformed { .. })
        ));
        assert!(matches!(
            parse_i32(b"99999999999"),
            Err(ValueError::TooLarge { .. })
        ));
    }

    #[test]
    fn numa_node_minus_one_is_none_other_negatives_are_errors() {
        assert_eq!(parse_numa_node(b"-1\n"), Ok(None));
        assert_eq!(parse_numa_node(b"255\n"), Ok(Some(255)));
        assert_eq!(
            parse_numa_node(b"-2\n"),
            Err(ValueError::Malformed {
                text: "-2".to_owned(),
                expected: "a node number or -1",
            })
        );
        assert_eq!(parse_numa_node(b""), Err(ValueError::Empty));
    }

    #[test]
    fn messages_name_the_text() {
        let e = parse_id(b"0xzz\n").unwrap_err();
        assert_eq!(e.to_string(), "\"0xzz\" is not a hex number like 0x10de");
        let e = parse_id(b"0x12345").unwrap_err();
        assert_eq!(e.to_string(), "\"0x12345\" is larger than 0xffff");
    }
}
