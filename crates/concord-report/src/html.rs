//! Escaping. Every piece of text that reaches the markup goes through
//! [`esc`]; numbers are formatted by the caller.

use std::fmt;

/// Text escaped for an HTML or SVG text node or a quoted attribute value.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
}

pub fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// An id fragment from free text: ASCII letters and digits, the rest `-`.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">Earl's & co</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;Earl&#39;s &amp; co&lt;/a&gt;"
        );
        assert_eq!(esc("plain").to_string(), "plain");
        assert_eq!(slug("Records by ward (2026)"), "records-by-ward-2026");
    }
}
