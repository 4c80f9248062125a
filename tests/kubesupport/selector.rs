//! Label selectors in their string form, as the `labelSelector` query
//! parameter and `Scale.status.selector` carry them (API conventions, "Label,
//! selector, and annotation conventions"; the grammar is apimachinery's
//! `labels.Parse`): comma-joined requirements, each `k=v`, `k==v`, `k!=v`,
//! `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n` or `k<n`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

/// A parsed selector; the empty one matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    Comma,
    Open,
    Close,
    In,
    NotIn,
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "end of string".into(),
        Some(Token::Word(word)) => format!("identifier {word:?}"),
        Some(other) => format!("{other:?}"),
    }
}

fn lex(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let token = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    Token::NotEquals
                } else {
                    Token::Bang
                }
            }
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    Token::DoubleEquals
                } else {
                    Token::Equals
                }
            }
            '>' | '<' | ',' | '(' | ')' => {
                chars.next();
                match c {
                    '>' => Token::Greater,
                    '<' => Token::Less,
                    ',' => Token::Comma,
                    '(' => Token::Open,
                    _ => Token::Close,
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "!=><,()".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Word(word),
                }
            }
        };
        tokens.push(token);
    }
    tokens
}

/// Parses a selector string; the error says what was found where.
pub fn parse(text: &str) -> Result<Selector, String> {
    let tokens = lex(text);
    let mut requirements = Vec::new();
    let mut at = 0;
    if tokens.is_empty() {
        return Ok(Selector::default());
    }
    // Every round consumes at least one token, so the token count bounds it.
    for _ in 0..=tokens.len() {
        let (requirement, next) = parse_requirement(&tokens, at)?;
        requirements.push(requirement);
        match tokens.get(next) {
            None => return Ok(Selector { requirements }),
            Some(Token::Comma) => at = next + 1,
            other => {
                return Err(format!(
                    "found {}, expected: ',' or 'end of string'",
                    describe(other)
                ))
            }
        }
    }
    Err("selector too long".into())
}

fn parse_requirement(tokens: &[Token], at: usize) -> Result<(Requirement, usize), String> {
    if tokens.get(at) == Some(&Token::Bang) {
        let key = key_at(tokens, at + 1)?;
        let requirement = Requirement {
            key,
            op: Op::DoesNotExist,
            values: Vec::new(),
        };
        return Ok((requirement, at + 2));
    }
    let key = key_at(tokens, at)?;
    let op = match tokens.get(at + 1) {
        None | Some(Token::Comma) => {
            return Ok((
                Requirement {
                    key,
                    op: Op::Exists,
                    values: Vec::new(),
                },
                at + 1,
            ));
        }
        Some(Token::Equals | Token::DoubleEquals) => Op::Equals,
        Some(Token::NotEquals) => Op::NotEquals,
        Some(Token::In) => Op::In,
        Some(Token::NotIn) => Op::NotIn,
        Some(Token::Greater) => Op::GreaterThan,
        Some(Token::Less) => Op::LessThan,
        other => {
            return Err(format!(
                "found {}, expected: in, notin, =, ==, !=, gt, lt",
                describe(other)
            ))
        }
    };
    let (values, next) = match op {
        Op::In | Op::NotIn => value_set(tokens, at + 2)?,
        _ => single_value(tokens, at + 2, &op)?,
    };
    Ok((Requirement { key, op, values }, next))
}

fn key_at(tokens: &[Token], at: usize) -> Result<String, String> {
    match tokens.get(at) {
        Some(Token::Word(word)) => {
            check_key(word)?;
            Ok(word.clone())
        }
        other => Err(format!("found {}, expected: identifier", describe(other))),
    }
}

/// `k=` is legal and means the empty value; `k>` is not.
fn single_value(tokens: &[Token], at: usize, op: &Op) -> Result<(Vec<String>, usize), String> {
    let value = match tokens.get(at) {
        Some(Token::Word(word)) => word.clone(),
        None | Some(Token::Comma) if matches!(op, Op::Equals | Op::NotEquals) => {
            return Ok((vec![String::new()], at));
        }
        other => return Err(format!("found {}, expected: identifier", describe(other))),
    };
    if matches!(op, Op::GreaterThan | Op::LessThan) {
        value.parse::<i64>().map_err(|_| {
            format!("for 'gt', 'lt' operators, the value must be an integer, not {value:?}")
        })?;
    } else {
        check_value(&value)?;
    }
    Ok((vec![value], at + 1))
}

fn value_set(tokens: &[Token], at: usize) -> Result<(Vec<String>, usize), String> {
    if tokens.get(at) != Some(&Token::Open) {
        return Err(format!("found {}, expected: '('", describe(tokens.get(at))));
    }
    let mut values = Vec::new();
    let mut i = at + 1;
    for _ in 0..=tokens.len() {
        match tokens.get(i) {
            Some(Token::Word(word)) => {
                check_value(word)?;
                values.push(word.clone());
                i += 1;
            }
            other => return Err(format!("found {}, expected: identifier", describe(other))),
        }
        match tokens.get(i) {
            Some(Token::Comma) => i += 1,
            Some(Token::Close) => return Ok((values, i + 1)),
            other => return Err(format!("found {}, expected: ',' or ')'", describe(other))),
        }
    }
    Err("value set too long".into())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name.
fn check_key(key: &str) -> Result<(), String> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            let prefix_ok = !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            if !prefix_ok {
                return Err(format!("invalid label key {key:?}: bad prefix"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() || !is_label_name(name) {
        return Err(format!(
            "invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn is_label_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_alphanumeric();
    bytes.len() <= 63
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Selector {
    /// Whether an object with `labels` (a JSON object of strings) is selected.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|labels| labels.get(&self.key))
            .and_then(Value::as_str);
        let number = || value.and_then(|v| v.parse::<i64>().ok());
        let bound = || self.values.first().and_then(|v| v.parse::<i64>().ok());
        match self.op {
            Op::Equals | Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotEquals | Op::NotIn => !value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::GreaterThan => matches!((number(), bound()), (Some(n), Some(b)) if n > b),
            Op::LessThan => matches!((number(), bound()), (Some(n), Some(b)) if n < b),
        }
    }
}

/// The string form of a metav1.LabelSelector (`matchLabels` and
/// `matchExpressions`), requirements sorted by key as apimachinery's
/// `LabelSelectorAsSelector(..).String()` prints them; that is what
/// `Scale.status.selector` holds (fixture scale-get: `"app=web"`).
pub fn label_selector_string(selector: &Value) -> String {
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            parts.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or("")),
            ));
        }
    }
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    for expression in expressions.into_iter().flatten() {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let text = match expression.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        };
        parts.push((key.to_string(), text));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

/// The string form of a plain label map (a ReplicationController's `spec.selector`).
pub fn label_map_string(labels: &Value) -> String {
    label_selector_string(&serde_json::json!({ "matchLabels": labels }))
}
