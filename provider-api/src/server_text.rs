//! Text that a server wrote, made safe to put in an error message.
//!
//! A server's error text is shown to users and lands in CI job logs, so a
//! hostile or careless server must not be able to (a) make it repeat a
//! credential the request carried, or (b) forge log lines: a newline, a
//! carriage return, an ANSI escape or a GitLab `section_start` marker
//! (which needs `\r` and `ESC[0K`) would let it write what looks like our
//! own output. [`ServerText`] masks the credentials (see [`scrub`]), escapes
//! every control character so the text is one line, and cuts it to a
//! bounded length. Every provider builds server-supplied parts of its
//! errors through it.

use std::fmt;

/// Longest server text kept, in characters (after escaping).
const MAX_CHARS: usize = 300;

/// A server-supplied string, safe to show: credentials masked, one line,
/// control characters escaped, at most 300 characters (a cut is marked
/// with `…`).
///
/// ```
/// use ci_secrets_provider_api::ServerText;
///
/// let text = ServerText::new("token t-12345 expired\n\u{1b}[31mFAKE\r", &["t-12345"]);
/// assert_eq!(text.as_str(), r"token [MASKED] expired\n\u{1b}[31mFAKE\r");
/// assert_eq!(text.to_string(), text.as_str());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ServerText(String);

impl ServerText {
    /// `raw`, with each of `secrets` (and its encodings) masked first, then
    /// control characters escaped, then cut.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ServerText;
    /// let long = "x".repeat(1000);
    /// assert_eq!(ServerText::new(&long, &[]).as_str().chars().count(), 301);
    /// ```
    pub fn new(raw: &str, secrets: &[&str]) -> Self {
        let scrubbed = scrub(raw, secrets);
        Self(truncate(&one_line(&scrubbed), MAX_CHARS))
    }

    /// The safe text.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ServerText;
    /// assert_eq!(ServerText::new("plain", &[]).as_str(), "plain");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The safe text, owned.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ServerText;
    /// let text: String = ServerText::new("a\tb", &[]).into_string();
    /// assert_eq!(text, r"a\tb");
    /// ```
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ServerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text is already masked and escaped, so `Debug` may show it.
impl fmt::Debug for ServerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServerText").field(&self.0).finish()
    }
}

impl From<ServerText> for String {
    fn from(text: ServerText) -> Self {
        text.0
    }
}

/// `text` on one line: every control character (C0, DEL, C1), line or
/// paragraph separator and bidirectional override is written as its Rust
/// escape (`\n`, `\r`, `\u{1b}`), and a backslash as `\\` so that an escape
/// in the output always means an escaped character. Other text is kept.
///
/// ```
/// use ci_secrets_provider_api::server_text::one_line;
/// assert_eq!(one_line("a\r\nb"), r"a\r\nb");
/// assert_eq!(one_line("section_start:1:x\r\u{1b}[0K"), r"section_start:1:x\r\u{1b}[0K");
/// assert_eq!(one_line(r"C:\dir é"), r"C:\\dir é");
/// ```
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || c.is_control() || is_invisible_layout(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that are not control characters but still break a line or
/// reorder how a terminal shows the rest of it.
fn is_invisible_layout(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Replaces every occurrence of each secret, and of its encodings, in `text`
/// with `[MASKED]`: the raw form, base64 (standard and URL alphabets, padded
/// or not), the JSON-escaped form, and the percent-encoded form (either
/// case). When a secret is itself base64 of text (a Kubernetes token sent
/// encoded, say), the decoded text is masked too. Use it on any server text
/// before showing it, or build a [`ServerText`], which does this and more: a
/// server may echo a submitted token back in its error. Secrets under 4
/// bytes are left alone (masking them would garble the text and protect
/// nothing).
///
/// ```
/// use ci_secrets_provider_api::scrub;
/// assert_eq!(scrub("token abc123 is expired", &["abc123"]), "token [MASKED] is expired");
/// assert_eq!(scrub(r#"bad key "k\"ey1""#, &["k\"ey1"]), r#"bad key "[MASKED]""#);
/// assert_eq!(scrub("url ?t=a%2Fb%3Dc", &["a/b=c"]), "url ?t=[MASKED]");
/// assert_eq!(scrub("url ?t=a%2fb%3dc", &["a/b=c"]), "url ?t=[MASKED]");
/// // "ZXlKaC5leUppLmMybG4=" is base64 of "eyJh.eyJi.c2ln": both forms are masked.
/// assert_eq!(scrub("got eyJh.eyJi.c2ln", &["ZXlKaC5leUppLmMybG4="]), "got [MASKED]");
/// ```
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out = text.to_string();
    let mut plain: Vec<zeroize::Zeroizing<String>> = Vec::new();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        plain.push(zeroize::Zeroizing::new((*secret).to_string()));
        let decoded = STANDARD
            .decode(secret)
            .or_else(|_| URL_SAFE_NO_PAD.decode(secret))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        // Short decodings would mask ordinary words.
        if let Some(decoded) = decoded.filter(|d| d.len() >= 8) {
            plain.push(zeroize::Zeroizing::new(decoded));
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    plain.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    for secret in &plain {
        let secret = secret.as_str();
        let json = serde_json::Value::String(secret.to_string()).to_string();
        let percent =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let forms = [
            zeroize::Zeroizing::new(secret.to_string()),
            zeroize::Zeroizing::new(STANDARD.encode(secret)),
            zeroize::Zeroizing::new(STANDARD_NO_PAD.encode(secret)),
            zeroize::Zeroizing::new(URL_SAFE.encode(secret)),
            zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(secret)),
            zeroize::Zeroizing::new(json[1..json.len() - 1].to_string()),
            zeroize::Zeroizing::new(percent.to_lowercase_escapes()),
            zeroize::Zeroizing::new(percent),
        ];
        for form in forms.iter().filter(|form| form.len() >= 4) {
            out = out.replace(form.as_str(), "[MASKED]");
        }
    }
    out
}

/// `%2F` → `%2f`, leaving the other characters alone.
trait LowercaseEscapes {
    fn to_lowercase_escapes(&self) -> String;
}

impl LowercaseEscapes for String {
    fn to_lowercase_escapes(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut hex_left = 0;
        for c in self.chars() {
            if c == '%' {
                hex_left = 2;
                out.push(c);
            } else if hex_left > 0 {
                hex_left -= 1;
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_raw_and_base64() {
        let text = "echo c2VjcmV0LXRva2Vu and secret-token";
        assert_eq!(scrub(text, &["secret-token"]), "echo [MASKED] and [MASKED]");
    }

    #[test]
    fn short_secrets_are_not_scrubbed_to_avoid_masking_everything() {
        assert_eq!(scrub("a b c", &["a"]), "a b c");
    }

    #[test]
    fn no_control_character_survives() {
        let hostile: String = (0u32..0x110000)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control())
            .collect();
        let shown = ServerText::new(&hostile, &[]);
        assert!(!shown.as_str().chars().any(char::is_control), "{shown:?}");
        let markers = "ok\r\n\u{1b}[0Ksection_end:1:step_script\r\u{1b}[0K\u{2028}\u{202e}evil";
        let shown = ServerText::new(markers, &[]);
        assert!(
            !shown
                .as_str()
                .chars()
                .any(|c| c.is_control() || is_invisible_layout(c))
        );
        assert!(shown.as_str().starts_with(r"ok\r\n\u{1b}[0Ksection_end:1:"));
    }

    #[test]
    fn a_credential_split_by_escaping_is_masked_before() {
        let secret = "line-one\nline-two";
        let shown = ServerText::new("got line-one\nline-two!", &[secret]);
        assert_eq!(shown.as_str(), "got [MASKED]!");
    }

    #[test]
    fn a_longer_secret_is_masked_whole() {
        assert_eq!(
            scrub("x abcd-efgh-ijkl y", &["abcd", "abcd-efgh-ijkl"]),
            "x [MASKED] y"
        );
    }
}
