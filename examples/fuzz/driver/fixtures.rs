//! The captured server answers in ../shared/fixtures, read at run time as
//! seeds. Without the directory the targets fall back to their hand-written
//! seeds, and the run says so.

use std::fs;
use std::path::PathBuf;

/// One captured answer: its HTTP status and body.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub status: u16,
    pub body: Vec<u8>,
}

/// `FUZZ_FIXTURES`, or ../shared/fixtures beside the repository.
pub fn dir() -> PathBuf {
    std::env::var_os("FUZZ_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    )
}

/// Every fixture of `server` (`kube-apiserver-1.24`, `prometheus-2.42`),
/// sorted by name so seeds come in a fixed order.
pub fn load(server: &str) -> Vec<Fixture> {
    let Ok(entries) = fs::read_dir(dir().join(server)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            parse(name, &fs::read(&path).ok()?)
        })
        .collect()
}

/// `HTTP <status>[ note]`, an optional `# request` line, then the body.
fn parse(name: String, bytes: &[u8]) -> Option<Fixture> {
    let (head, mut body) = split_line(bytes);
    let status = std::str::from_utf8(head)
        .ok()?
        .strip_prefix("HTTP ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    if body.starts_with(b"# ") {
        body = split_line(body).1;
    }
    Some(Fixture {
        name,
        status,
        body: body.to_vec(),
    })
}

fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// The bodies of the fixtures whose names start with one of `prefixes`.
pub fn bodies(fixtures: &[Fixture], prefixes: &[&str]) -> Vec<Vec<u8>> {
    fixtures
        .iter()
        .filter(|f| prefixes.iter().any(|p| f.name.starts_with(p)))
        .map(|f| f.body.clone())
        .collect()
}
