//! Memory sizes: the command line's `SIZE` (`64GiB`, `512M`, bytes when bare) and libvirt's
//! scaled XML values (`<memory unit='GiB'>64</memory>`, KiB when no unit), both to bytes, and
//! bytes to KiB rounded up as libvirt stores them.
//!
//! ```
//! use lsnvlink_memlock::size::{kib_ceil, parse_size};
//!
//! assert_eq!(parse_size("64GiB")?, 64 << 30);
//! assert_eq!(parse_size("2 T")?, 2 << 40);
//! assert_eq!(parse_size("1000")?, 1000);
//! assert_eq!(kib_ceil(1000), 1);
//! assert!(parse_size("64GB").is_err()); // decimal or binary? say which
//! # Ok::<(), lsnvlink_memlock::size::SizeError>(())
//! ```

/// Bytes in a KiB.
pub const KIB: u64 = 1024;

/// Why a size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Nothing given.
    #[error("empty size")]
    Empty,
    /// A minus sign: sizes are never negative.
    #[error("{0:?}: a size cannot be negative")]
    Negative(String),
    /// The number part is not a whole decimal number.
    #[error("{0:?}: not a whole number of units (digits, then an optional unit)")]
    NotANumber(String),
    /// A unit the parser does not know.
    #[error("{text:?}: unknown unit {unit:?} (use B, K or KiB, M or MiB, G or GiB, T or TiB)")]
    UnknownUnit {
        /// The whole size as given.
        text: String,
        /// The unit part.
        unit: String,
    },
    /// `KB`, `MB`, `GB`, `TB` on the command line: decimal in libvirt's XML, binary elsewhere.
    #[error(
        "{text:?}: {unit:?} is ambiguous (libvirt reads it as powers of 1000); write {binary:?} \
         for powers of 1024, or give bytes"
    )]
    Ambiguous {
        /// The whole size as given.
        text: String,
        /// The unit part.
        unit: String,
        /// The binary unit to write instead.
        binary: &'static str,
    },
    /// More bytes than 64 bits hold.
    #[error("{0:?}: too large (more than 2^64 - 1 bytes)")]
    Overflow(String),
}

/// Splits `text` into its digits and its unit, refusing signs and non-digits.
fn split(text: &str) -> Result<(u64, &str), SizeError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SizeError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(SizeError::Negative(text.to_owned()));
    }
    let end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(end);
    if digits.is_empty() {
        return Err(SizeError::NotANumber(text.to_owned()));
    }
    let unit = unit.trim_start();
    if unit.starts_with(|c: char| c == '.' || c == ',' || c.is_ascii_digit()) {
        return Err(SizeError::NotANumber(text.to_owned()));
    }
    let number = digits
        .parse::<u64>()
        .map_err(|_| SizeError::Overflow(text.to_owned()))?;
    Ok((number, unit))
}

fn scale(text: &str, number: u64, factor: u64) -> Result<u64, SizeError> {
    number
        .checked_mul(factor)
        .ok_or_else(|| SizeError::Overflow(text.to_owned()))
}

/// A command-line size in bytes: a whole number, then `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB` or
/// `T`/`TiB` (powers of 1024, any letter case, a space allowed before the unit); a bare number
/// is bytes. `KB`, `MB`, `GB`, `TB` are refused as ambiguous.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let (number, unit) = split(text)?;
    let lower = unit.to_ascii_lowercase();
    let power = match lower.as_str() {
        "" | "b" => 0,
        "k" | "kib" => 1,
        "m" | "mib" => 2,
        "g" | "gib" => 3,
        "t" | "tib" => 4,
        "kb" | "mb" | "gb" | "tb" => {
            let binary = match lower.as_str() {
                "kb" => "KiB",
                "mb" => "MiB",
                "gb" => "GiB",
                _ => "TiB",
            };
            return Err(SizeError::Ambiguous {
                text: text.to_owned(),
                unit: unit.to_owned(),
                binary,
            });
        }
        _ => {
            return Err(SizeError::UnknownUnit {
                text: text.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    scale(text, number, KIB.pow(power))
}

/// A libvirt XML scaled value in bytes, with libvirt's unit rules (`virScaleInteger` in
/// libvirt `src/util/virutil.c`): no unit means `default_scale` (1024 for memory elements);
/// `b`, `byte`, `bytes` are bytes; `k`, `m`, `g`, `t`, `p`, `e` alone or with `iB` are powers
/// of 1024, with `B` powers of 1000; letters in any case.
pub fn parse_scaled(value: &str, unit: Option<&str>, default_scale: u64) -> Result<u64, SizeError> {
    let (number, rest) = split(value)?;
    if !rest.is_empty() {
        return Err(SizeError::NotANumber(value.to_owned()));
    }
    let unit = unit.map(str::trim).unwrap_or("");
    let text = format!("{value} {unit}");
    let lower = unit.to_ascii_lowercase();
    let factor = match lower.as_str() {
        "" => default_scale,
        "b" | "byte" | "bytes" => 1,
        _ => {
            let mut chars = lower.chars();
            let power = match chars.next() {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                Some('p') => 5,
                Some('e') => 6,
                _ => 0,
            };
            let base = match chars.as_str() {
                "" | "ib" => 1024u64,
                "b" => 1000,
                _ => 0,
            };
            if power == 0 || base == 0 {
                return Err(SizeError::UnknownUnit {
                    text,
                    unit: unit.to_owned(),
                });
            }
            base.checked_pow(power)
                .ok_or_else(|| SizeError::Overflow(text.clone()))?
        }
    };
    scale(&text, number, factor)
}

/// Bytes to KiB, rounded up: how libvirt stores memory sizes (`VIR_DIV_UP(bytes, 1024)` in
/// `virDomainParseMemory`, libvirt `src/conf/domain_conf.c`).
pub fn kib_ceil(bytes: u64) -> u64 {
    bytes.div_ceil(KIB)
}

/// Bytes as GiB with two decimals (`344155226112` → `320.52`), for display only.
pub fn gib(bytes: u64) -> String {
    // Exact integer arithmetic, rounded half up at the second decimal.
    let unit = 1u128 << 30;
    let hundredths = (u128::from(bytes) * 100 + unit / 2) / unit;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn command_line_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1b"), Ok(1));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1kib"), Ok(1024));
        assert_eq!(parse_size("3 MiB"), Ok(3 << 20));
        assert_eq!(parse_size(" 64G "), Ok(64 << 30));
        assert_eq!(parse_size("128TiB"), Ok(128 << 40));
        assert_eq!(parse_size("16777215T"), Ok(16_777_215 << 40));
    }

    #[test]
    fn command_line_refusals() {
        assert_eq!(parse_size(""), Err(SizeError::Empty));
        assert!(matches!(parse_size("-1G"), Err(SizeError::Negative(_))));
        assert!(matches!(parse_size("+1G"), Err(SizeError::NotANumber(_))));
        assert!(matches!(parse_size("1.5G"), Err(SizeError::NotANumber(_))));
        assert!(matches!(parse_size("G"), Err(SizeError::NotANumber(_))));
        assert!(matches!(parse_size("1 2G"), Err(SizeError::NotANumber(_))));
        assert!(matches!(
            parse_size("1P"),
            Err(SizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("1 GiBs"),
            Err(SizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("1GB"),
            Err(SizeError::Ambiguous { binary: "GiB", .. })
        ));
        assert!(matches!(
            parse_size("16777216T"),
            Err(SizeError::Overflow(_))
        ));
        assert!(matches!(
            parse_size("18446744073709551616"),
            Err(SizeError::Overflow(_))
        ));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn libvirt_units() {
        assert_eq!(parse_scaled("1048576", None, KIB), Ok(1 << 30));
        assert_eq!(parse_scaled("64", Some("GiB"), KIB), Ok(64 << 30));
        assert_eq!(parse_scaled("64", Some("g"), KIB), Ok(64 << 30));
        assert_eq!(parse_scaled("1", Some("KB"), KIB), Ok(1000));
        assert_eq!(parse_scaled("1", Some("bytes"), KIB), Ok(1));
        assert_eq!(parse_scaled("1", Some("PiB"), KIB), Ok(1 << 50));
        assert_eq!(parse_scaled("15", Some("EiB"), KIB), Ok(15 << 60));
        assert!(matches!(
            parse_scaled("16", Some("E"), KIB),
            Err(SizeError::Overflow(_))
        ));
        assert!(matches!(
            parse_scaled("1", Some("KiBB"), KIB),
            Err(SizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_scaled("1", Some("x"), KIB),
            Err(SizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_scaled("-1", None, KIB),
            Err(SizeError::Negative(_))
        ));
        assert!(matches!(
            parse_scaled("1G", None, KIB),
            Err(SizeError::NotANumber(_))
        ));
    }

    #[test]
    fn kib_and_gib() {
        assert_eq!(kib_ceil(0), 0);
        assert_eq!(kib_ceil(1), 1);
        assert_eq!(kib_ceil(1024), 1);
        assert_eq!(kib_ceil(1025), 2);
        assert_eq!(kib_ceil(u64::MAX), 1 << 54);
        assert_eq!(gib(344_155_226_112), "320.52");
        assert_eq!(gib(69_411_536_896), "64.64");
        assert_eq!(gib(1_103_831_760_896), "1028.02");
        assert_eq!(gib(0), "0.00");
        assert_eq!(gib(u64::MAX), "17179869184.00");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_size(&s);
            let _ = parse_scaled(&s, Some(&s), KIB);
        }

        #[test]
        fn binary_units_scale(n in 0u64..(1 << 24), unit in 0usize..5, spaced: bool, lower: bool) {
            let names = ["B", "KiB", "MiB", "GiB", "TiB"];
            let name = names.get(unit).copied().unwrap_or("B");
            let name = if lower { name.to_ascii_lowercase() } else { name.to_owned() };
            let text = if spaced { format!("{n} {name}") } else { format!("{n}{name}") };
            prop_assert_eq!(parse_size(&text), Ok(n << (10 * unit)));
        }

        #[test]
        fn short_units_equal_long(n in 0u64..(1 << 24), unit in 1usize..5) {
            let short = ["", "K", "M", "G", "T"].get(unit).copied().unwrap_or("");
            let long = ["", "KiB", "MiB", "GiB", "TiB"].get(unit).copied().unwrap_or("");
            prop_assert_eq!(parse_size(&format!("{n}{short}")), parse_size(&format!("{n}{long}")));
        }

        #[test]
        fn bare_numbers_are_bytes(n: u64) {
            prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
        }

        #[test]
        fn overflow_is_an_error_not_a_wrap(n in (1u64 << 24)..=u64::MAX) {
            let text = format!("{n}T");
            prop_assert!(matches!(parse_size(&text), Err(SizeError::Overflow(_))));
        }

        #[test]
        fn negative_is_refused(n: u64, unit in "(|K|M|G|T|KiB|GiB)") {
            let text = format!("-{n}{unit}");
            prop_assert!(matches!(parse_size(&text), Err(SizeError::Negative(_))));
        }

        #[test]
        fn kib_ceil_bounds(b: u64) {
            let k = kib_ceil(b);
            prop_assert!(u128::from(k) * 1024 >= u128::from(b));
            prop_assert!(u128::from(k) * 1024 < u128::from(b) + 1024);
        }
    }
}
