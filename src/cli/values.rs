//! Small pure parsers for flag values. Each returns the problem as text that says
//! what was expected; the caller adds the flag and the quoted input.

use super::error::quote;
use crate::http::UrlProblem;
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

/// A whole number as every integer flag reads it: ASCII digits with at most
/// one leading `+`, as Go's `strconv.ParseInt` (behind `flag.Int`) and our own
/// durations accept; no `-`, spaces or `_`. `None` past u64.
fn whole(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A TCP port, 1 to 65535.
pub fn port(text: &str) -> Result<u16, String> {
    match whole(text) {
        Some(p @ 1..=65535) => Ok(p as u16),
        _ => Err("expected a port from 1 to 65535".to_string()),
    }
}

/// A whole number in `lo..=hi`.
pub fn count_in(text: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match whole(text).and_then(|n| usize::try_from(n).ok()) {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
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
    let rest = crate::http::base_url_rest(text).map_err(|problem| {
        let why = match problem {
            UrlProblem::Scheme => "the scheme must be http or https",
            UrlProblem::QueryOrSpace => "spaces, a query or a fragment are not allowed",
            UrlProblem::NoHost => "the host is missing",
        };
        format!("{why}; {EXPECTED}")
    })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err("credentials are not allowed in the URL; use a token file".to_string());
    }
    host_port(authority, true, url_port).map_err(|why| format!("{why}; {EXPECTED}"))?;
    Ok(text.trim_end_matches('/').to_string())
}

/// A URL's port is digits only (RFC 3986), not a number flag: no `+`.
fn url_port(text: &str) -> Result<u16, String> {
    if text.starts_with('+') {
        return Err("the port must be digits only".to_string());
    }
    port(text)
}

/// A listen address as Go's `net.Listen` takes it: `[HOST]:PORT`, an IPv6 host
/// in brackets (`:8080`, `0.0.0.0:8080`, `[::1]:8080`).
pub fn listen_addr(text: &str) -> Result<String, String> {
    const EXPECTED: &str =
        "expected [HOST]:PORT such as :8080 or 127.0.0.1:8080 (port 0: any free port)";
    if !text.contains(':') {
        return Err(format!("the port is missing; {EXPECTED}"));
    }
    let port = host_port(text, false, listen_port).map_err(|why| format!("{why}; {EXPECTED}"))?;
    // Canonical, so a `+` the user wrote before the port goes no further.
    let host = text.rsplit_once(':').map_or("", |(host, _)| host);
    Ok(format!("{host}:{}", port.unwrap_or(0)))
}

/// A port to listen on: 0 asks the kernel for a free one (the bound address is
/// logged at start), which tests and ad-hoc runs want.
fn listen_port(text: &str) -> Result<u16, String> {
    match whole(text) {
        Some(0) => Ok(0),
        _ => port(text),
    }
}

/// Checks `host[:port]` (`need_host`) or `[host]:port`, the port with `check`;
/// returns the port, if given.
fn host_port(
    text: &str,
    need_host: bool,
    check: fn(&str) -> Result<u16, String>,
) -> Result<Option<u16>, String> {
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
        Some(p) => check(p).map(Some),
        None if need_host => Ok(None),
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
    //! Every parser's cases in one table: a name, the parser, the input, and
    //! what it must give. One runner checks them all and names each failure.
    use super::*;
    use std::fmt::Debug;

    /// What a case must give.
    enum Want {
        /// Exactly this value (compared by its Debug text).
        Is(String),
        AnyOk,
        AnyErr,
        ErrStarts(&'static str),
        ErrHas(&'static str),
    }
    use Want::*;

    fn is<T: Debug>(value: T) -> Want {
        Is(format!("{value:?}"))
    }

    type Parse = fn(&str) -> Result<String, String>;

    fn shown<T: Debug>(result: Result<T, String>) -> Result<String, String> {
        result.map(|value| format!("{value:?}"))
    }

    const DURATION: Parse = |t| shown(duration(t));
    const BOOLEAN: Parse = |t| shown(boolean(t));
    const PORT: Parse = |t| shown(port(t));
    const COUNT_1_64: Parse = |t| shown(count_in(t, 1, 64));
    const SCHEME: Parse = |t| shown(scheme(t));
    const URL: Parse = |t| shown(http_url(t));
    const LISTEN: Parse = |t| shown(listen_addr(t));
    const LABEL: Parse = |t| shown(dns_label(t));
    const SUBDOMAIN: Parse = |t| shown(dns_subdomain(t));
    const NON_BLANK: Parse = |t| shown(non_blank(t));

    struct Case {
        name: &'static str,
        parse: Parse,
        input: String,
        want: Want,
    }

    fn case(name: &'static str, parse: Parse, input: impl Into<String>, want: Want) -> Case {
        Case {
            name,
            parse,
            input: input.into(),
            want,
        }
    }

    #[rustfmt::skip]
    fn cases() -> Vec<Case> {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let us = Duration::from_micros;
        let text = |t: &str| t.to_string();
        vec![
            case("duration_millis", DURATION, "500ms", is(ms(500))),
            case("duration_seconds", DURATION, "30s", is(secs(30))),
            case("duration_minutes", DURATION, "1m", is(secs(60))),
            case("duration_compound", DURATION, "1m30s", is(secs(90))),
            case("duration_hours", DURATION, "2h", is(secs(7200))),
            case("duration_fraction", DURATION, "1.5s", is(ms(1500))),
            case("duration_leading_point", DURATION, ".5m", is(secs(30))),
            case("duration_micros", DURATION, "7us", is(us(7))),
            case("duration_micro_sign", DURATION, "7µs", is(us(7))),
            case("duration_zero", DURATION, "0", is(Duration::ZERO)),
            case("duration_plus_sign", DURATION, "+2s", is(secs(2))),
            case("invalid_empty", DURATION, "", ErrStarts("empty")),
            case("invalid_negative", DURATION, "-1s", ErrStarts("negative")),
            case("invalid_unknown_unit", DURATION, "30x", ErrStarts("unknown unit \"x\"")),
            case("invalid_day_unit", DURATION, "1d", ErrStarts("unknown unit \"d\"")),
            case("invalid_missing_unit", DURATION, "30", ErrStarts("a unit is missing")),
            case("invalid_missing_number", DURATION, "s", ErrStarts("a number is missing")),
            case("invalid_lone_point", DURATION, ".s", ErrStarts("a number is missing")),
            case("invalid_overflow", DURATION, "9999999999h", ErrStarts("too long")),
            case("invalid_huge_number", DURATION, format!("{}s", "9".repeat(60)), ErrStarts("too long")),
            case("bool_1", BOOLEAN, "1", is(true)),
            case("bool_t", BOOLEAN, "t", is(true)),
            case("bool_T", BOOLEAN, "T", is(true)),
            case("bool_true", BOOLEAN, "true", is(true)),
            case("bool_TRUE", BOOLEAN, "TRUE", is(true)),
            case("bool_True", BOOLEAN, "True", is(true)),
            case("bool_0", BOOLEAN, "0", is(false)),
            case("bool_f", BOOLEAN, "f", is(false)),
            case("bool_F", BOOLEAN, "F", is(false)),
            case("bool_false", BOOLEAN, "false", is(false)),
            case("bool_FALSE", BOOLEAN, "FALSE", is(false)),
            case("bool_False", BOOLEAN, "False", is(false)),
            case("bool_invalid_yes", BOOLEAN, "yes", AnyErr),
            case("port_valid", PORT, "9090", is(9090u16)),
            case("port_zero", PORT, "0", AnyErr),
            case("port_too_big", PORT, "65536", AnyErr),
            case("port_plus_sign", PORT, "+80", is(80u16)),
            case("port_minus_sign", PORT, "-80", AnyErr),
            case("port_two_signs", PORT, "++80", AnyErr),
            case("port_sign_alone", PORT, "+", AnyErr),
            case("port_space", PORT, " 80", AnyErr),
            case("count_in_range", COUNT_1_64, "64", is(64usize)),
            case("count_above_range", COUNT_1_64, "65", AnyErr),
            case("count_negative", COUNT_1_64, "-1", AnyErr),
            case("count_plus_sign", COUNT_1_64, "+4", is(4usize)),
            case("count_huge", COUNT_1_64, "9".repeat(30), AnyErr),
            case("scheme_https", SCHEME, "https", is("https")),
            case("scheme_ftp", SCHEME, "ftp", AnyErr),
            case("url_with_prefix_trims_slash", URL, "https://prom.example:443/prometheus/", is(text("https://prom.example:443/prometheus"))),
            case("url_ipv6", URL, "http://[::1]:9090", AnyOk),
            case("url_bad_scheme", URL, "ftp://x", ErrStarts("the scheme must be http or https")),
            case("url_no_scheme", URL, "prometheus:9090", AnyErr),
            case("url_no_host", URL, "http://:9090", ErrStarts("the host is missing")),
            case("url_bad_port", URL, "http://prom:99999", ErrHas("port")),
            case("url_plus_port", URL, "http://prom:+9090", ErrHas("port")),
            case("url_query", URL, "http://prom:9090/?x=1", AnyErr),
            case("url_credentials", URL, "http://user:pw@prom:9090", ErrStarts("credentials")),
            case("url_space", URL, "http://prom 9090", AnyErr),
            case("listen_port_only", LISTEN, ":8080", is(text(":8080"))),
            case("listen_ipv6", LISTEN, "[::]:9100", AnyOk),
            case("listen_any_free_port", LISTEN, "127.0.0.1:0", is(text("127.0.0.1:0"))),
            case("listen_plus_zero", LISTEN, ":+0", is(text(":0"))),
            case("listen_no_port", LISTEN, "0.0.0.0", AnyErr),
            case("listen_empty_port", LISTEN, "0.0.0.0:", AnyErr),
            case("listen_bare_ipv6", LISTEN, "::1:8080", ErrHas("brackets")),
            case("label_valid", LABEL, "kube-system", is(text("kube-system"))),
            case("label_upper", LABEL, "Demo", AnyErr),
            case("label_empty", LABEL, "", AnyErr),
            case("label_trailing_dash", LABEL, "demo-", AnyErr),
            case("label_too_long", LABEL, "a".repeat(64), AnyErr),
            case("subdomain_dotted", SUBDOMAIN, "memhpa.example.io", AnyOk),
            case("subdomain_empty_label", SUBDOMAIN, "memhpa..io", AnyErr),
            case("blank_query", NON_BLANK, "  ", AnyErr),
        ]
    }

    fn holds(want: &Want, got: &Result<String, String>) -> bool {
        match (want, got) {
            (Is(value), Ok(got)) => value == got,
            (AnyOk, Ok(_)) | (AnyErr, Err(_)) => true,
            (ErrStarts(prefix), Err(e)) => e.starts_with(prefix),
            (ErrHas(part), Err(e)) => e.contains(part),
            _ => false,
        }
    }

    #[test]
    fn table() {
        let cases = cases();
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|c| {
                let got = (c.parse)(&c.input);
                (!holds(&c.want, &got)).then(|| format!("{}: {:?} gave {got:?}", c.name, c.input))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn case_names_are_unique() {
        let cases = cases();
        let names: std::collections::BTreeSet<_> = cases.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), cases.len());
    }

    /// The runner itself fails a case that does not hold.
    #[test]
    fn a_wrong_expectation_fails() {
        assert!(!holds(&is(Duration::from_secs(1)), &DURATION("2s")));
        assert!(!holds(&ErrStarts("negative"), &DURATION("1s")));
        assert!(!holds(&AnyOk, &PORT("0")));
        assert!(!holds(&ErrHas("brackets"), &LISTEN("0.0.0.0")));
    }
}
