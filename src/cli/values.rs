//! Small pure parsers for flag values. Each returns the problem as text that says
//! what was expected; the caller adds the flag and the quoted input.

use super::error::quote;
use std::time::Duration;

const DURATION_FORM: &str = "expected a duration such as 500ms, 30s, 1m or 1m30s";

/// Go's `time.ParseDuration`, without negatives: a sequence of decimal numbers,
/// each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`), as in `1m30s` or `1.5h`. A bare `0` is allowed, as in Go.
pub fn duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err(format!("empty; {DURATION_FORM}"));
    }
    if text.starts_with('-') {
        return Err(format!("negative; {DURATION_FORM}"));
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = body;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, fraction, after_number) = split_number(rest)?;
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let scale = unit_nanos(unit)?;
        total = total
            .checked_add(term_nanos(whole, fraction, scale)?)
            .ok_or_else(too_long)?;
        rest = after_unit;
    }
    let nanos = u64::try_from(total).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// `12.5xyz` -> ("12", "5", "xyz"). At least one digit on either side of the point.
fn split_number(text: &str) -> Result<(&str, &str, &str), String> {
    let whole_len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (whole, rest) = text.split_at(whole_len);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after_point) => {
            let len = after_point
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_point.len());
            after_point.split_at(len)
        }
        None => ("", rest),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(format!("a number is missing; {DURATION_FORM}"));
    }
    Ok((whole, fraction, rest))
}

fn unit_nanos(unit: &str) -> Result<u128, String> {
    Ok(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err(format!("a unit is missing; {DURATION_FORM}")),
        other => {
            return Err(format!(
                "unknown unit {}; expected ns, us, ms, s, m or h",
                quote(other)
            ))
        }
    })
}

/// `whole.fraction` times `scale` nanoseconds. Digits of the fraction past 18
/// are below a nanosecond for every unit and are dropped.
fn term_nanos(whole: &str, fraction: &str, scale: u128) -> Result<u128, String> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let digits = &fraction[..fraction.len().min(18)];
    let fraction_nanos = if digits.is_empty() {
        0
    } else {
        // At most 18 digits: fits in u128, as does the product with `scale`.
        let numerator: u128 = digits.parse().map_err(|_| too_long())?;
        numerator * scale / 10u128.pow(digits.len() as u32)
    };
    whole
        .checked_mul(scale)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or_else(too_long)
}

fn too_long() -> String {
    "too long; expected at most about 584 years".to_string()
}

/// Go's `strconv.ParseBool`.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

/// A TCP port, 1 to 65535.
pub fn port(text: &str) -> Result<u16, String> {
    const EXPECTED: &str = "expected a port from 1 to 65535";
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED.to_string());
    }
    match text.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(EXPECTED.to_string()),
    }
}

/// A whole number in `lo..=hi`.
pub fn count_in(text: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {lo} to {hi}")),
    }
}

/// `http` or `https`.
pub fn scheme(text: &str) -> Result<&'static str, String> {
    match text {
        "http" => Ok("http"),
        "https" => Ok("https"),
        _ => Err("expected http or https".to_string()),
    }
}

/// `http(s)://host[:port][/prefix]`, returned without a trailing slash. No
/// credentials (tokens go in files), no query or fragment, no spaces.
pub fn http_url(text: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected http://HOST[:PORT][/PATH] or https://...";
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("the scheme must be http or https; {EXPECTED}"))?;
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(format!(
            "spaces, a query or a fragment are not allowed; {EXPECTED}"
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err("credentials are not allowed in the URL; use a token file".to_string());
    }
    host_port(authority, true, port).map_err(|why| format!("{why}; {EXPECTED}"))?;
    Ok(text.trim_end_matches('/').to_string())
}

/// A listen address as Go's `net.Listen` takes it: `[HOST]:PORT`, an IPv6 host
/// in brackets (`:8080`, `0.0.0.0:8080`, `[::1]:8080`).
pub fn listen_addr(text: &str) -> Result<String, String> {
    const EXPECTED: &str =
        "expected [HOST]:PORT such as :8080 or 127.0.0.1:8080 (port 0: any free port)";
    if !text.contains(':') {
        return Err(format!("the port is missing; {EXPECTED}"));
    }
    host_port(text, false, listen_port).map_err(|why| format!("{why}; {EXPECTED}"))?;
    Ok(text.to_string())
}

/// A port to listen on: 0 asks the kernel for a free one (the bound address is
/// logged at start), which tests and ad-hoc runs want.
fn listen_port(text: &str) -> Result<u16, String> {
    if text == "0" {
        Ok(0)
    } else {
        port(text)
    }
}

/// Checks `host[:port]` (`need_host`) or `[host]:port`, the port with `check`.
fn host_port(
    text: &str,
    need_host: bool,
    check: fn(&str) -> Result<u16, String>,
) -> Result<(), String> {
    let (host, port_text) = if let Some(after_bracket) = text.strip_prefix('[') {
        let (inside, after) = after_bracket
            .split_once(']')
            .ok_or_else(|| "an IPv6 host lacks its closing ']'".to_string())?;
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err("the IPv6 host in brackets is not an address".to_string());
        }
        match after {
            "" => (inside, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (inside, Some(p)),
                None => return Err("unexpected text after the IPv6 host".to_string()),
            },
        }
    } else {
        match text.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err("an IPv6 host must be in brackets".to_string())
            }
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() && need_host {
        return Err("the host is missing".to_string());
    }
    let host_chars_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_chars_ok {
        return Err(format!(
            "the host {} is not a name or an address",
            quote(host)
        ));
    }
    match port_text {
        Some(p) => check(p).map(|_| ()),
        None if need_host => Ok(()),
        None => Err("the port is missing".to_string()),
    }
}

/// An RFC 1123 label, as Kubernetes namespaces and Service names are: 1 to 63
/// lowercase letters, digits and '-', starting and ending with a letter or digit.
pub fn dns_label(text: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit";
    if label_ok(text) {
        Ok(text.to_string())
    } else {
        Err(EXPECTED.to_string())
    }
}

/// An RFC 1123 subdomain, as most Kubernetes object names (a Lease's) are.
pub fn dns_subdomain(text: &str) -> Result<String, String> {
    const EXPECTED: &str =
        "expected at most 253 lowercase letters, digits, '-' or '.', in dot-separated labels that start and end with a letter or digit";
    if text.len() <= 253 && text.split('.').all(label_ok) {
        Ok(text.to_string())
    } else {
        Err(EXPECTED.to_string())
    }
}

fn label_ok(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&text.len())
        && text.chars().all(|c| alnum(c) || c == '-')
        && text.starts_with(alnum)
        && text.ends_with(alnum)
}

/// Text that is not only white space (a query template).
pub fn non_blank(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("expected a non-empty value".to_string())
    } else {
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn duration_millis() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn duration_seconds() {
        assert_eq!(duration("30s"), Ok(secs(30)));
    }

    #[test]
    fn duration_minutes() {
        assert_eq!(duration("1m"), Ok(secs(60)));
    }

    #[test]
    fn duration_compound() {
        assert_eq!(duration("1m30s"), Ok(secs(90)));
    }

    #[test]
    fn duration_hours() {
        assert_eq!(duration("2h"), Ok(secs(7200)));
    }

    #[test]
    fn duration_fraction() {
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn duration_leading_point() {
        assert_eq!(duration(".5m"), Ok(secs(30)));
    }

    #[test]
    fn duration_micros() {
        assert_eq!(duration("7us"), Ok(Duration::from_micros(7)));
    }

    #[test]
    fn duration_micro_sign() {
        assert_eq!(duration("7µs"), Ok(Duration::from_micros(7)));
    }

    #[test]
    fn duration_zero() {
        assert_eq!(duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn duration_plus_sign() {
        assert_eq!(duration("+2s"), Ok(secs(2)));
    }

    #[test]
    fn invalid_empty() {
        assert!(duration("").unwrap_err().starts_with("empty"));
    }

    #[test]
    fn invalid_negative() {
        assert!(duration("-1s").unwrap_err().starts_with("negative"));
    }

    #[test]
    fn invalid_unknown_unit() {
        assert!(duration("30x")
            .unwrap_err()
            .starts_with("unknown unit \"x\""));
    }

    #[test]
    fn invalid_day_unit() {
        assert!(duration("1d")
            .unwrap_err()
            .starts_with("unknown unit \"d\""));
    }

    #[test]
    fn invalid_missing_unit() {
        assert!(duration("30").unwrap_err().starts_with("a unit is missing"));
    }

    #[test]
    fn invalid_missing_number() {
        assert!(duration("s")
            .unwrap_err()
            .starts_with("a number is missing"));
    }

    #[test]
    fn invalid_lone_point() {
        assert!(duration(".s")
            .unwrap_err()
            .starts_with("a number is missing"));
    }

    #[test]
    fn invalid_overflow() {
        assert!(duration("9999999999h").unwrap_err().starts_with("too long"));
    }

    #[test]
    fn invalid_huge_number() {
        let text = format!("{}s", "9".repeat(60));
        assert!(duration(&text).unwrap_err().starts_with("too long"));
    }

    #[test]
    fn bool_go_spellings() {
        let all: Vec<_> = ["1", "t", "T", "true", "TRUE", "True"]
            .iter()
            .map(|t| boolean(t))
            .chain(
                ["0", "f", "F", "false", "FALSE", "False"]
                    .iter()
                    .map(|t| boolean(t).map(|b| !b)),
            )
            .collect();
        assert!(all.iter().all(|r| *r == Ok(true)), "{all:?}");
    }

    #[test]
    fn bool_invalid_yes() {
        assert!(boolean("yes").is_err());
    }

    #[test]
    fn port_valid() {
        assert_eq!(port("9090"), Ok(9090));
    }

    #[test]
    fn port_zero() {
        assert!(port("0").is_err());
    }

    #[test]
    fn port_too_big() {
        assert!(port("65536").is_err());
    }

    #[test]
    fn port_signed() {
        assert!(port("+80").is_err());
    }

    #[test]
    fn count_in_range() {
        assert_eq!(count_in("64", 1, 64), Ok(64));
    }

    #[test]
    fn count_above_range() {
        assert!(count_in("65", 1, 64).is_err());
    }

    #[test]
    fn count_negative() {
        assert!(count_in("-1", 1, 64).is_err());
    }

    #[test]
    fn scheme_https() {
        assert_eq!(scheme("https"), Ok("https"));
    }

    #[test]
    fn scheme_ftp() {
        assert!(scheme("ftp").is_err());
    }

    #[test]
    fn url_with_prefix_trims_slash() {
        assert_eq!(
            http_url("https://prom.example:443/prometheus/"),
            Ok("https://prom.example:443/prometheus".to_string())
        );
    }

    #[test]
    fn url_ipv6() {
        assert!(http_url("http://[::1]:9090").is_ok());
    }

    #[test]
    fn url_bad_scheme() {
        assert!(http_url("ftp://x")
            .unwrap_err()
            .starts_with("the scheme must be http or https"));
    }

    #[test]
    fn url_no_scheme() {
        assert!(http_url("prometheus:9090").is_err());
    }

    #[test]
    fn url_no_host() {
        assert!(http_url("http://:9090")
            .unwrap_err()
            .starts_with("the host is missing"));
    }

    #[test]
    fn url_bad_port() {
        assert!(http_url("http://prom:99999").unwrap_err().contains("port"));
    }

    #[test]
    fn url_query() {
        assert!(http_url("http://prom:9090/?x=1").is_err());
    }

    #[test]
    fn url_credentials() {
        assert!(http_url("http://user:pw@prom:9090")
            .unwrap_err()
            .starts_with("credentials"));
    }

    #[test]
    fn url_space() {
        assert!(http_url("http://prom 9090").is_err());
    }

    #[test]
    fn listen_port_only() {
        assert_eq!(listen_addr(":8080"), Ok(":8080".to_string()));
    }

    #[test]
    fn listen_ipv6() {
        assert!(listen_addr("[::]:9100").is_ok());
    }

    #[test]
    fn listen_any_free_port() {
        assert_eq!(listen_addr("127.0.0.1:0"), Ok("127.0.0.1:0".to_string()));
    }

    #[test]
    fn listen_no_port() {
        assert!(listen_addr("0.0.0.0").is_err());
    }

    #[test]
    fn listen_empty_port() {
        assert!(listen_addr("0.0.0.0:").is_err());
    }

    #[test]
    fn listen_bare_ipv6() {
        assert!(listen_addr("::1:8080").unwrap_err().contains("brackets"));
    }

    #[test]
    fn label_valid() {
        assert_eq!(dns_label("kube-system"), Ok("kube-system".to_string()));
    }

    #[test]
    fn label_upper() {
        assert!(dns_label("Demo").is_err());
    }

    #[test]
    fn label_empty() {
        assert!(dns_label("").is_err());
    }

    #[test]
    fn label_trailing_dash() {
        assert!(dns_label("demo-").is_err());
    }

    #[test]
    fn label_too_long() {
        assert!(dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn subdomain_dotted() {
        assert!(dns_subdomain("memhpa.example.io").is_ok());
    }

    #[test]
    fn subdomain_empty_label() {
        assert!(dns_subdomain("memhpa..io").is_err());
    }

    #[test]
    fn blank_query() {
        assert!(non_blank("  ").is_err());
    }
}
