//! ARCHITECTURE.md kept true: the invariant that can be read off the source
//! (the algorithm does no I/O) is checked here, and the code map and the data
//! path must name modules and functions that exist, so a rename or a new
//! module fails here until the document follows.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn architecture() -> String {
    fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// Every `.rs` file under `dir`, depth-first, bounded (the tree is small).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        assert!(out.len() < 10_000, "too many files under {dir:?}");
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The text of `file` without its comments, so that a doc comment naming a
/// forbidden path is no false alarm.
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    without_comments(&text)
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the algorithm may not name: I/O, threads, clocks, the environment,
/// logging.
const FORBIDDEN_IN_ALGORITHM: &[&str] = &[
    "std::fs",
    "std::io",
    "std::net",
    "std::thread",
    "std::time",
    "std::env",
    "std::process",
    "std::sync",
    "SystemTime",
    "Instant",
    "log::",
    "println!",
    "eprintln!",
    "print!",
    "dbg!",
    "ureq",
    "rustls",
];

/// The modules of the crate the algorithm may use: `api`, `quote` (pure
/// formatting for its messages) and itself.
const ALLOWED_IN_ALGORITHM: &[&str] = &["api", "quote", "algorithm"];

/// What in `code` (comments removed) the algorithm may not use.
fn io_in(code: &str) -> Vec<String> {
    let mut found: Vec<String> = FORBIDDEN_IN_ALGORITHM
        .iter()
        .filter(|word| code.contains(*word))
        .map(|word| word.to_string())
        .collect();
    for (at, _) in code.match_indices("crate::") {
        let module: String = code[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !ALLOWED_IN_ALGORITHM.contains(&module.as_str()) {
            found.push(format!("crate::{module}"));
        }
    }
    found
}

#[test]
fn the_algorithm_does_no_io() {
    let files = rust_files(&root().join("src/algorithm"));
    assert!(files.len() >= 5, "src/algorithm: {files:?}");
    for file in files {
        let found = io_in(&code_of(&file));
        assert!(found.is_empty(), "{file:?} uses {found:?}");
    }
}

#[test]
fn the_io_check_finds_io_and_ignores_comments() {
    let code = without_comments(
        "use std::fs::File; // std::net is only named here\nlet c = crate::kube::Client::new();\n/// log::info!\nuse crate::api::Basis;\n",
    );
    assert_eq!(io_in(&code), ["std::fs", "crate::kube"]);
}

#[test]
fn the_code_map_names_every_module() {
    let doc = architecture();
    let mut entries: Vec<String> = fs::read_dir(root().join("src"))
        .expect("src")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for entry in entries {
        let named = format!("`src/{entry}`");
        assert!(doc.contains(&named), "ARCHITECTURE.md lacks {named}");
    }
    for file in rust_files(&root().join("src/controller")) {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let named = format!("`{name}`");
        assert!(
            doc.contains(&named),
            "ARCHITECTURE.md's controller entry lacks {named}"
        );
    }
}

/// The spans in backticks of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Every name of a `fn`, `mod`, type or variant in the sources and tests, and
/// every test file's name.
fn names_in_tree() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut files = rust_files(&root().join("src"));
    files.extend(rust_files(&root().join("tests")));
    for file in files {
        if file.parent() == Some(&root().join("tests")) {
            if let Some(stem) = file.file_stem() {
                names.insert(stem.to_string_lossy().into_owned());
            }
        }
        let code = code_of(&file);
        for word in code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !word.is_empty() {
                names.insert(word.to_string());
            }
        }
    }
    names
}

/// The Rust names in a span: `a::B::c` and `f` (`x`, `Y`) give each segment.
fn rust_names(span: &str) -> Vec<&str> {
    span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .flat_map(|path| path.split("::"))
        .filter(|name| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        })
        .collect()
}

#[test]
fn the_data_path_and_the_invariants_name_what_exists() {
    let doc = architecture();
    let start = doc.find("## The data path").expect("a data path section");
    let end = doc[start..]
        .find("## Cross-cutting")
        .map_or(doc.len(), |at| start + at);
    let section = &doc[start..end];
    let names = names_in_tree();
    // The table's last column, and every span of the prose around it.
    let (table, prose): (Vec<&str>, Vec<&str>) =
        section.lines().partition(|line| line.starts_with("| "));
    let prose = prose.join("\n");
    let mut spans = code_spans(&prose);
    for row in table.iter().filter(|row| !row.starts_with("| #")) {
        spans.extend(code_spans(row.rsplit(" | ").next().unwrap_or("")));
    }
    let mut checked = 0;
    for span in spans.into_iter().filter(|s| !s.contains('/')) {
        for name in rust_names(span) {
            checked += 1;
            assert!(
                names.contains(name),
                "ARCHITECTURE.md names {name:?} (in `{span}`), which the code does not have"
            );
        }
    }
    assert!(
        checked >= 40,
        "only {checked} names checked: the section moved?"
    );
}

#[test]
fn the_data_path_has_at_most_ten_steps() {
    let doc = architecture();
    let steps = doc
        .lines()
        .filter(|line| {
            line.strip_prefix("| ")
                .and_then(|rest| rest.split(' ').next())
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count();
    assert!((1..=10).contains(&steps), "{steps} steps");
}
