//! The captured kube-apiserver 1.24 answers in ../shared/fixtures: the first
//! line is `HTTP <status> [note]`, the rest the body.

use std::path::PathBuf;

use serde_json::Value;

/// One captured answer.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub status: u16,
    pub body: String,
}

impl Fixture {
    /// The body as one JSON value; panics naming the fixture if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.body.trim())
            .unwrap_or_else(|err| panic!("fixture body is not one JSON value: {err}"))
    }

    /// The body as JSON lines (a watch stream).
    pub fn lines(&self) -> Vec<Value> {
        self.body
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("fixture line is not JSON: {err}: {line}"))
            })
            .collect()
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kube-apiserver-1.24")
}

/// Loads `name` (e.g. `"scale-get.txt"`); panics with the path if unreadable.
pub fn load(name: &str) -> Fixture {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let (first, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let status = first
        .strip_prefix("HTTP ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: first line {first:?} is not `HTTP <status>`",
                path.display()
            )
        });
    Fixture {
        status,
        body: body.to_string(),
    }
}
