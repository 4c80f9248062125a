//! Label selectors as the Scale's `status.selector` carries them (the string
//! form of `metav1.LabelSelector`), matched here against the pod cache so
//! that a reconcile needs no pod LIST. The grammar is apimachinery's
//! `labels.Parse`: comma-separated requirements, each `key`, `!key`,
//! `key=value`, `key==value`, `key!=value`, `key in (a,b)` or
//! `key notin (a,b)`. A selector the parser refuses is refused by the
//! server too (400), and both become the same InvalidSelector decision.

use std::collections::BTreeMap;

/// One parsed requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    Absent(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Why a selector does not parse, naming the part at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    pub selector: String,
    pub detail: String,
}

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "label selector {}: {}",
            crate::quote::quote(&self.selector, SELECTOR_QUOTE_LIMIT),
            self.detail
        )
    }
}

impl std::error::Error for SelectorError {}

const SELECTOR_QUOTE_LIMIT: usize = 200;

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let fail = |detail: String| SelectorError {
            selector: text.to_string(),
            detail,
        };
        let mut requirements = Vec::new();
        for part in split_top_level(text).map_err(fail)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(fail("an empty requirement".into()));
            }
            requirements.push(requirement(part).map_err(fail)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` satisfy every requirement. An empty selector matches
    /// everything, as on the server; the client refuses one before it gets
    /// here.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::Absent(k) => label(k).is_none(),
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, set) => label(k).is_some_and(|l| set.iter().any(|v| v == l)),
            Requirement::NotIn(k, set) => !label(k).is_some_and(|l| set.iter().any(|v| v == l)),
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' if depth > 0 => return Err("nested parentheses".into()),
            '(' => depth += 1,
            ')' if depth == 0 => return Err("a ')' without its '('".into()),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("a '(' without its ')'".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::Absent(key_of(key)?));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(key_of(key)?, value_of(value)?));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key_of(key)?, value_of(value)?));
    }
    if let Some(open) = part.find('(') {
        let head = part[..open].trim_end();
        let Some(body) = part[open + 1..].trim_end().strip_suffix(')') else {
            return Err(format!("{part:?}: text after the closing ')'"));
        };
        let values = body
            .split(',')
            .map(value_of)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(key) = head.strip_suffix(" notin") {
            return Ok(Requirement::NotIn(key_of(key)?, values));
        }
        if let Some(key) = head.strip_suffix(" in") {
            return Ok(Requirement::In(key_of(key)?, values));
        }
        return Err(format!("{part:?}: expected `in` or `notin` before '('"));
    }
    Ok(Requirement::Exists(key_of(part)?))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 characters of alphanumerics, `-`, `_` and `.`.
fn key_of(text: &str) -> Result<String, String> {
    let key = text.trim();
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty()
                || prefix.len() > 253
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            {
                return Err(format!("invalid label key prefix in {key:?}"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() || name.len() > 63 || !is_label_text(name) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(key.to_string())
}

/// A label value: empty, or up to 63 of the key name's characters, starting
/// and ending alphanumeric.
fn value_of(text: &str) -> Result<String, String> {
    let value = text.trim();
    if !value.is_empty() && (value.len() > 63 || !is_label_text(value)) {
        return Err(format!("invalid label value {value:?}"));
    }
    Ok(value.to_string())
}

fn is_label_text(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edge(text.chars().next())
        && edge(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod test {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .expect("selector parses")
            .matches(&labels(pairs))
    }

    #[test]
    fn equality_requirements() {
        assert!(matches("app=web", &[("app", "web"), ("x", "y")]));
        assert!(matches("app==web", &[("app", "web")]));
        assert!(!matches("app=web", &[("app", "api")]));
        assert!(!matches("app=web", &[]));
        assert!(matches("app!=web", &[]));
        assert!(matches("app!=web", &[("app", "api")]));
        assert!(!matches("app!=web", &[("app", "web")]));
        assert!(matches(
            "app=web,tier=front",
            &[("app", "web"), ("tier", "front")]
        ));
        assert!(!matches("app=web,tier=front", &[("app", "web")]));
    }

    #[test]
    fn set_and_existence_requirements() {
        let sel = "app=web,tier in (a, b),!canary,example.com/team,env notin (prod)";
        let base = [("app", "web"), ("tier", "b"), ("example.com/team", "x")];
        assert!(matches(sel, &base));
        assert!(!matches(
            sel,
            &[("app", "web"), ("tier", "c"), ("example.com/team", "x")]
        ));
        assert!(!matches(sel, &[("app", "web"), ("tier", "a")]));
        let mut canary = base.to_vec();
        canary.push(("canary", ""));
        assert!(!matches(sel, &canary));
        let mut prod = base.to_vec();
        prod.push(("env", "prod"));
        assert!(!matches(sel, &prod));
        assert!(matches("env notin (prod)", &[]));
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_input_quoted() {
        for bad in [
            "app=web,",
            "tier in (a,b",
            "tier in a,b)",
            "tier within (a)",
            "app=-web",
            "=web",
            "a((b))",
            "/app=web",
        ] {
            let err = LabelSelector::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("label selector"), "{err}");
        }
    }
}
