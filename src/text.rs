//! Text that reaches a terminal or a file a person reads: control characters (ESC, CR, BEL, ...)
//! and bidirectional overrides (U+202E) in resource names are shown, never obeyed, so a name
//! cannot recolour a terminal, rewrite its title, clear the screen, hide a line behind a carriage
//! return or reverse what a reviewer reads.
//!
//! Machine formats (JSON, SARIF, JUnit XML) keep the exact bytes and rely on their own escaping;
//! shell argv is quoted byte-exact by [`crate::findings::quote`].

use std::borrow::Cow;

/// Whether a character must be shown rather than passed to a terminal: every Unicode control
/// character (C0, DEL, C1), the bidi embeddings, overrides, isolates and marks, and the line and
/// paragraph separators that some terminals and editors break lines on.
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// The text with every hazardous character written as a Rust-style escape (`\u{1b}`); text
/// without one is returned as it is, without copying.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hazard(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`visible`] for text whose line breaks are its own layout (multi-line error messages): `\n`
/// stays a line break, every other hazardous character is shown.
pub fn visible_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_hazard(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(visible).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_are_shown_not_obeyed() {
        assert_eq!(visible("mlacr\u{1b}[31mred"), "mlacr\\u{1b}[31mred");
        assert_eq!(visible("a\rb\u{7}"), "a\\u{d}b\\u{7}");
        assert_eq!(visible("evil\u{202E}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(visible("\u{9b}2J"), "\\u{9b}2J");
        assert!(matches!(visible("plain-name_01 ü €"), Cow::Borrowed(_)));
        assert_eq!(
            visible_lines("one\ntwo\u{1b}]0;title\u{7}"),
            "one\ntwo\\u{1b}]0;title\\u{7}"
        );
    }
}
