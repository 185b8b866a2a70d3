//! Untrusted text on its way to a terminal. Guest names come from a domain XML, warnings quote
//! host error messages and link texts; printed raw, an escape sequence (`ESC [ …`) would drive
//! the reader's terminal and a newline would forge a line of output. The text renderer writes
//! each line through [`line()`] (the `wln!` macro) and passes its whole output through
//! [`terminal_safe`], which show control characters as escapes (`\x1b`, `\n`).
//!
//! The same rules, character for character, as lsnvlink's `render::escape` (this crate does not
//! depend on lsnvlink), so that `lsnvlink memlock` writes what it wrote before the budget moved
//! here.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` must not reach a terminal as it is: C0 controls, DEL, C1 controls, and the
/// Unicode bidirectional overrides and isolates (which reorder what is shown: "Trojan Source",
/// CVE-2021-42574).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

/// `s` with every unsafe character but those `keep` accepts shown as an escape; borrowed when
/// there is none. The one loop behind [`line()`] and [`terminal_safe`].
fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let shown = |c: char| is_unsafe(c) && !keep(c);
    if !s.chars().any(shown) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if shown(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes one line: `args` formatted, with every control character but the tab shown as an
/// escape, then a line feed. What the `wln!` macro calls.
pub(crate) fn line<W: fmt::Write + ?Sized>(out: &mut W, args: fmt::Arguments<'_>) -> fmt::Result {
    let text = match args.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(args.to_string()),
    };
    out.write_str(&escaped(&text, |c| c == '\t'))?;
    out.write_char('\n')
}

/// [`line()`] as a method of any [`fmt::Write`], so that `wln!` takes a `String` or a
/// `&mut String` as `writeln!` does.
pub(crate) trait LineWrite: fmt::Write {
    /// Writes `args` as one escaped line ([`line()`]).
    fn write_line(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        line(self, args)
    }
}

impl<T: fmt::Write + ?Sized> LineWrite for T {}

/// A renderer's whole output with every control character but `\n` and `\t` shown as an
/// escape (the renderer's own line and column breaks stay); unchanged, without copying, when
/// there is none.
pub(crate) fn terminal_safe(text: String) -> String {
    match escaped(&text, |c| c == '\n' || c == '\t') {
        Cow::Borrowed(_) => text,
        Cow::Owned(shown) => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_line(s: &str) -> String {
        let mut out = String::new();
        line(&mut out, format_args!("{s}")).unwrap();
        out
    }

    #[test]
    fn controls_are_shown_not_sent() {
        assert_eq!(one_line("wsp1"), "wsp1\n");
        assert!(matches!(escaped("wsp1", |_| false), Cow::Borrowed(_)));
        assert_eq!(one_line("a\x1b[31mb"), "a\\x1b[31mb\n");
        assert_eq!(one_line("host\nforged line"), "host\\nforged line\n");
        assert_eq!(one_line("a\rb"), "a\\rb\n");
        assert_eq!(one_line("\u{9b}2J"), "\\x9b2J\n");
        assert_eq!(one_line("x\u{202e}y"), "x\\u{202e}y\n");
        assert_eq!(one_line("x\u{2066}y"), "x\\u{2066}y\n");
        assert_eq!(one_line("\u{7f}"), "\\x7f\n");
        assert_eq!(one_line("GV100GL [Tesla V100]"), "GV100GL [Tesla V100]\n");
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
    }

    proptest::proptest! {
        #[test]
        fn nothing_unsafe_survives(s in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a]{0,40}") {
            let l = one_line(&s);
            proptest::prop_assert!(!l.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
            proptest::prop_assert_eq!(l.matches('\n').count(), 1);
            let t = terminal_safe(s.clone());
            proptest::prop_assert!(!t.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
            proptest::prop_assert_eq!(t.matches('\n').count(), s.matches('\n').count());
        }
    }
}
