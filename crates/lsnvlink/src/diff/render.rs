//! The differences of [`super::diff`] as text ([`write_text`]) or JSON (`write_json`, feature `json`),
//! written to any [`std::io::Write`].

use std::fmt;
use std::io;

use super::{Change, Side};

/// Writes the differences as text: a header, then one line per change (`~` changed, `-` only
/// in the first, `+` only in the second). Control characters from the hosts are shown as
/// escapes ([`crate::render::escape`]).
pub fn write_text<W: io::Write + ?Sized>(
    out: &mut W,
    a: &Side<'_>,
    b: &Side<'_>,
    changes: &[Change],
) -> io::Result<()> {
    crate::render::escape::write_terminal_safe(out, |out| text_raw(out, a, b, changes))
}

fn text_raw<W: fmt::Write + ?Sized>(
    out: &mut W,
    a: &Side<'_>,
    b: &Side<'_>,
    changes: &[Change],
) -> fmt::Result {
    let name = |s: &Side<'_>| match s.hostname {
        Some(h) => format!("{} ({h})", s.source),
        None => s.source.to_owned(),
    };
    wln!(
        out,
        "{} vs {}: {}",
        name(a),
        name(b),
        match changes.len() {
            0 => "no differences".to_owned(),
            1 => "1 difference".to_owned(),
            n => format!("{n} differences"),
        }
    )?;
    for c in changes {
        let what = format!("{} {} {}", c.section, c.subject, c.field);
        match (&c.a, &c.b) {
            (Some(x), Some(y)) => wln!(out, "~ {what}: {x} -> {y}")?,
            (Some(x), None) => wln!(out, "- {what}: {x}")?,
            (None, Some(y)) => wln!(out, "+ {what}: {y}")?,
            (None, None) => {}
        }
    }
    Ok(())
}

/// Writes the differences as JSON (`schema_version`, `a`, `b`, `same`, `changes`),
/// pretty-printed, ending in a newline (feature `json`).
#[cfg(feature = "json")]
pub fn write_json<W: io::Write + ?Sized>(
    out: &mut W,
    a: &Side<'_>,
    b: &Side<'_>,
    changes: &[Change],
) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Doc<'d> {
        schema_version: u32,
        a: &'d Side<'d>,
        b: &'d Side<'d>,
        same: bool,
        changes: &'d [Change],
    }
    let doc = Doc {
        schema_version: super::SCHEMA_VERSION,
        a,
        b,
        same: changes.is_empty(),
        changes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}
