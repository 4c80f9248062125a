//! Percent-decoding of paths and of `application/x-www-form-urlencoded`
//! text (query strings and form bodies).

/// The first parameter `name` of a query string or form body, key and value
/// decoded as Go's url.ParseQuery does.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(key) == name).then(|| form_decode(value))
    })
}

/// Undoes `application/x-www-form-urlencoded` (`+` is a space); bad escapes
/// are kept as they are.
pub fn form_decode(text: &str) -> String {
    decode(text, true)
}

/// Undoes percent-encoding in a path (`+` stays `+`).
pub fn percent_decode(text: &str) -> String {
    decode(text, false)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (b'+', _) if plus_is_space => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (other, _) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
