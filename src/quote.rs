//! Quoting outside text (a query, a response body) into error messages and
//! logs, bounded so a hostile or huge body cannot flood either. Each boundary
//! (kube, prom) picks its own limit.

/// `text` as a string literal with control characters escaped, cut to `limit`
/// characters; what was cut is counted.
pub(crate) fn quote(text: &str, limit: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(limit).collect();
    let rest = chars.count();
    if rest == 0 {
        format!("{head:?}")
    } else {
        format!("{head:?}... ({rest} more characters)")
    }
}

/// The start of a body, at most `4 * limit` bytes, lossy for non-UTF-8 bytes.
pub(crate) fn excerpt(body: &[u8], limit: usize) -> String {
    let cut = body.len().min(limit.saturating_mul(4));
    let mut text = String::from_utf8_lossy(&body[..cut]).into_owned();
    if cut < body.len() {
        text.push_str(&format!(" [{} more bytes]", body.len() - cut));
    }
    text
}

/// Defines a boundary's `quote(text)` and `excerpt(body)` at its `limit`, so
/// each boundary's messages are cut alike without passing the limit around.
macro_rules! at_limit {
    ($limit:expr) => {
        /// Quotes outside text for a message, cut to the boundary's limit.
        pub(crate) fn quote(text: &str) -> String {
            $crate::quote::quote(text, $limit)
        }

        /// The start of a response body, at most four times the limit in bytes.
        pub(crate) fn excerpt(body: &[u8]) -> String {
            $crate::quote::excerpt(body, $limit)
        }
    };
}
pub(crate) use at_limit;

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(quote("up", 10), "\"up\"");
    }

    #[test]
    fn long_text_is_cut_and_the_rest_counted() {
        let quoted = quote(&"x".repeat(15), 10);
        assert_eq!(
            quoted,
            format!("{:?}... (5 more characters)", "x".repeat(10))
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quote("a\nb\u{1b}", 10), "\"a\\nb\\u{1b}\"");
    }

    #[test]
    fn excerpt_is_lossy_and_bounded() {
        let mut body = vec![0xff, b'o', b'k'];
        body.extend(std::iter::repeat(b'b').take(50));
        let text = excerpt(&body, 2);
        assert!(text.starts_with("\u{fffd}ok"), "{text}");
        assert!(text.ends_with(" [45 more bytes]"), "{text}");
    }
}
