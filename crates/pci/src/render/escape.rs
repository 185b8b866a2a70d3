//! Untrusted text on its way to a terminal. Names from `pci.ids`, driver and slot names,
//! device-tree paths, host names and messages come from the host or capture being read;
//! printed raw, an escape sequence (`ESC [ …`) would drive the reader's terminal and a newline
//! would forge a line of output (a device, a fleet line, a finding). Text renderers pass each
//! such value through [`esc`] or write it as one line with [`line()`] (the `wln!` macro of the
//! renderers), which show control characters as escapes (`\x1b`, `\n`), and write their whole
//! output through [`TerminalSafe`] (or [`terminal_safe`] on a `String`), which does the same
//! for every control character but the line feeds and tabs the renderer wrote itself. JSON,
//! Prometheus and dot output have their own quoting and are left alone.
//!
//! The rules are shared by every text renderer of lsnvlink (this crate's `lspci`-style
//! renderers, lsnvlink's report, fleet, diff and hwloc renderers, the memlock budget), so that
//! each writes the same escape for the same character.
//!
//! ```
//! use lsnvlink_pci::render::escape::{esc, write_terminal_safe};
//! use std::fmt::Write as _;
//!
//! assert_eq!(esc("host\x1b[2Jname"), "host\\x1b[2Jname");
//! let mut out = Vec::new();
//! write_terminal_safe(&mut out, |w| w.write_str("a\tb\nforged\rline\n"))?;
//! assert_eq!(out, b"a\tb\nforged\\rline\n");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io;

/// Whether `c` must not reach a terminal as it is: C0 controls, DEL, C1 controls, and the
/// Unicode bidirectional overrides and isolates (which reorder what is shown: "Trojan Source",
/// CVE-2021-42574).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes the escape that shows `c`: `\n`, `\r`, `\t`, `\xHH` below U+0100, else `\u{HHHH}`.
fn write_escaped<W: fmt::Write + ?Sized>(out: &mut W, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:04x}}}", c as u32),
    }
}

/// Whether `b` is printable ASCII, or a line feed or tab that `keep` lets through: the fast
/// path of the escaping loops, which look at characters only from the first other byte on.
fn plain_byte(b: u8, keep_lf: bool, keep_tab: bool) -> bool {
    (0x20..0x7f).contains(&b) || (b == b'\n' && keep_lf) || (b == b'\t' && keep_tab)
}

/// `s` with every unsafe character but those `keep` accepts shown as an escape; borrowed when
/// there is none. The one loop behind [`esc`], [`line()`] and [`terminal_safe`].
fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let (keep_lf, keep_tab) = (keep('\n'), keep('\t'));
    let shown = |c: char| is_unsafe(c) && !keep(c);
    if s.bytes().all(|b| plain_byte(b, keep_lf, keep_tab)) || !s.chars().any(shown) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if shown(c) {
            let _ = write_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control character (newlines and tabs included) shown as an escape; borrowed
/// when there is none.
pub fn esc(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// Writes one line: `args` formatted, with every control character but the tab (a column
/// separator in `lspci -vmm` records) shown as an escape, then a line feed. What the `wln!`
/// macro of the text renderers calls.
pub fn line<W: fmt::Write + ?Sized>(out: &mut W, args: fmt::Arguments<'_>) -> fmt::Result {
    let text = match args.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(args.to_string()),
    };
    out.write_str(&escaped(&text, |c| c == '\t'))?;
    out.write_char('\n')
}

/// [`line()`] as a method of any [`fmt::Write`], so that `wln!` takes a `String`, a
/// `&mut String` or a [`TerminalSafe`] as `writeln!` does.
pub trait LineWrite: fmt::Write {
    /// Writes `args` as one escaped line ([`line()`]).
    fn write_line(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        line(self, args)
    }
}

impl<T: fmt::Write + ?Sized> LineWrite for T {}

/// Whether the whole-output pass lets `c` through: the renderer's own line feeds and tabs.
fn kept_in_output(c: char) -> bool {
    c == '\n' || c == '\t'
}

/// A renderer's whole output with every control character but `\n` and `\t` shown as an
/// escape (the renderer's own line and column breaks stay); unchanged, without copying, when
/// there is none. [`TerminalSafe`] does the same on the way to a writer.
pub fn terminal_safe(text: String) -> String {
    match escaped(&text, kept_in_output) {
        Cow::Borrowed(_) => text,
        Cow::Owned(shown) => shown,
    }
}

/// A [`fmt::Write`] over an [`io::Write`] that shows every control character but `\n` and
/// `\t` as an escape on the way, as [`terminal_safe`] does to a whole `String`: a text
/// renderer formats into it and its output reaches the writer as it is made, never held whole.
/// The escaping is done character by character, so the result does not depend on how the text
/// is cut into writes.
///
/// A failed write is kept (the [`fmt::Error`] that [`fmt::Write`] returns carries nothing) and
/// given back by [`TerminalSafe::finish`]; nothing is written after it.
#[derive(Debug)]
pub struct TerminalSafe<W> {
    out: W,
    error: Option<io::Error>,
}

impl<W: io::Write> TerminalSafe<W> {
    /// Writes to `out` (unbuffered: give it a [`std::io::BufWriter`], a locked standard output
    /// or a `Vec<u8>`).
    pub fn new(out: W) -> TerminalSafe<W> {
        TerminalSafe { out, error: None }
    }

    /// The writer back, or the first error writing to it.
    pub fn finish(self) -> io::Result<W> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        self.out.write_all(bytes).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

impl<W: io::Write> fmt::Write for TerminalSafe<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        loop {
            // Printable ASCII, line feeds and tabs go out as they are, in one write.
            let plain = rest
                .bytes()
                .position(|b| !plain_byte(b, true, true))
                .unwrap_or(rest.len());
            // Every byte before `plain` is ASCII: a character boundary.
            let Some((safe, tail)) = rest.split_at_checked(plain) else {
                return self.put(rest.as_bytes());
            };
            if !safe.is_empty() {
                self.put(safe.as_bytes())?;
            }
            let Some(c) = tail.chars().next() else {
                return Ok(());
            };
            if is_unsafe(c) && !kept_in_output(c) {
                let mut shown = String::with_capacity(10);
                let _ = write_escaped(&mut shown, c);
                self.put(shown.as_bytes())?;
            } else {
                let mut utf8 = [0; 4];
                self.put(c.encode_utf8(&mut utf8).as_bytes())?;
            }
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
    }
}

/// Runs a text renderer `render` on a [`TerminalSafe`] over `out`: what it writes reaches
/// `out` with every control character but `\n` and `\t` shown as an escape. The error is the
/// writer's, or [`io::ErrorKind::Other`] when a formatting trait failed without one.
pub fn write_terminal_safe<W, F>(out: &mut W, render: F) -> io::Result<()>
where
    W: io::Write + ?Sized,
    F: FnOnce(&mut TerminalSafe<&mut W>) -> fmt::Result,
{
    let mut safe = TerminalSafe::new(out);
    let rendered = render(&mut safe);
    safe.finish()?;
    rendered.map_err(|_| io::Error::other("a value could not be formatted"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn one_line(s: &str) -> String {
        let mut out = String::new();
        line(&mut out, format_args!("{s}")).unwrap();
        out
    }

    fn streamed(chunks: &[&str]) -> String {
        let mut out = Vec::new();
        write_terminal_safe(&mut out, |w| chunks.iter().try_for_each(|c| w.write_str(c))).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn controls_are_shown_not_sent() {
        assert_eq!(esc("wsp1"), "wsp1");
        assert!(matches!(esc("wsp1"), Cow::Borrowed(_)));
        assert_eq!(esc("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(esc("host\nforged line"), "host\\nforged line");
        assert_eq!(esc("\u{9b}2J"), "\\x9b2J");
        assert_eq!(esc("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(esc("\u{7f}"), "\\x7f");
        assert_eq!(esc("GV100GL [Tesla V100]"), "GV100GL [Tesla V100]");
        assert_eq!(one_line("a\rb"), "a\\rb\n");
        assert_eq!(one_line("x\u{2066}y"), "x\\u{2066}y\n");
    }

    #[test]
    fn a_line_keeps_its_tabs_and_escapes_the_rest() {
        let mut out = String::new();
        line(&mut out, format_args!("Driver:\t{}", "nv\nSlot:\tforged")).unwrap();
        assert_eq!(out, "Driver:\tnv\\nSlot:\tforged\n");
        let mut out = String::new();
        out.write_line(format_args!("plain")).unwrap();
        assert_eq!(out, "plain\n");
    }

    #[test]
    fn whole_output_keeps_its_own_lines() {
        assert_eq!(
            terminal_safe("a\tb\nc\x1b]0;title\x07\n".to_owned()),
            "a\tb\nc\\x1b]0;title\\x07\n"
        );
        assert_eq!(terminal_safe("plain\n".to_owned()), "plain\n");
        assert_eq!(
            streamed(&["a\tb\nc\x1b]0;", "title\x07\n"]),
            "a\tb\nc\\x1b]0;title\\x07\n"
        );
        assert_eq!(streamed(&["plain\n", "", "x\u{202e}"]), "plain\nx\\u{202e}");
    }

    #[test]
    fn a_failed_write_is_given_back() {
        struct Full;
        impl io::Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = write_terminal_safe(&mut Full, |w| w.write_str("x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = write_terminal_safe(&mut Vec::new(), |_| Err(fmt::Error)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Other);
    }

    proptest::proptest! {
        #[test]
        fn nothing_unsafe_survives(s in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a]{0,40}") {
            let e = esc(&s);
            proptest::prop_assert!(!e.chars().any(is_unsafe));
            let l = one_line(&s);
            proptest::prop_assert!(!l.chars().any(|c| is_unsafe(c) && !kept_in_output(c)));
            proptest::prop_assert_eq!(l.matches('\n').count(), 1);
            let t = terminal_safe(s.clone());
            proptest::prop_assert!(!t.chars().any(|c| is_unsafe(c) && !kept_in_output(c)));
            proptest::prop_assert_eq!(t.matches('\n').count(), s.matches('\n').count());
            // Streamed in two pieces cut at any character, the same text.
            let cut = s.char_indices().nth(s.chars().count() / 2).map_or(s.len(), |(i, _)| i);
            let (a, b) = s.split_at(cut);
            proptest::prop_assert_eq!(streamed(&[a, b]), t);
        }
    }
}
