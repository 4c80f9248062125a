//! Mutations of a seed input: byte-level damage, hostile tokens, and, for JSON
//! seeds, structural edits of the parsed tree (so the decoders see well-formed
//! documents with the wrong types and edge values, not only syntax errors).

use serde_json::{Map, Number, Value};

use super::rng::Rng;

/// Largest input a mutation grows to; hostile sizes past this only cost time.
pub const MAX_INPUT: usize = 256 * 1024;

/// Numbers and words that break parsers: limits of i64/u64/f64, NaN spellings,
/// signs, exponents, and JSON's other types.
pub const TOKENS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "1e309",
    "1e-400",
    "NaN",
    "nan",
    "+Inf",
    "-Inf",
    "Infinity",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9007199254740993",
    "0.1",
    "1.5",
    "1e6",
    "1E3",
    "0x10",
    "00",
    "1_000",
    "null",
    "true",
    "false",
    "\"\"",
    "[]",
    "{}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\uDFFF\\uD800\"",
    "\"\u{feff}\"",
    "\"\u{1F600}\"",
    " ",
    "\t",
    "\r\n",
    "\n",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "(",
    ")",
    "/",
    "%",
    "%zz",
    "?",
    "#",
    "&",
    "+",
    "\\",
    "Mi",
    "Gi",
    "Ki",
    "Ei",
    "m",
    "e18",
    "e-18",
    "e19",
    "ms",
    "s",
    "h",
    "-h",
    "--",
    "-",
];

/// Bytes that are never valid UTF-8 where they stand: a lone continuation, an
/// overlong NUL, a surrogate, a truncated sequence, and 0xFF.
const BAD_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xE2\x82",
    b"\xFF",
    b"\xF4\x90\x80\x80",
];

/// One to eight stacked mutations of `seed`, sometimes spliced with `other`.
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    if rng.one_in(3) {
        if let Some(edited) = json_edit(rng, &data) {
            data = edited;
        }
    }
    for _ in 0..rng.range(1, 8) {
        byte_edit(rng, &mut data, other);
        data.truncate(MAX_INPUT);
    }
    data
}

fn byte_edit(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let at = rng.below(data.len() + 1);
    match rng.below(12) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = rng.byte();
        }
        2 => {
            let count = rng.range(1, 4);
            let bytes: Vec<u8> = (0..count).map(|_| rng.byte()).collect();
            data.splice(at..at, bytes);
        }
        3 if !data.is_empty() => {
            let end = (at + rng.range(1, 16)).min(data.len());
            data.drain(at.min(end)..end);
        }
        4 => {
            let token = rng.pick(TOKENS).as_bytes();
            data.splice(at..at, token.iter().copied());
        }
        5 => replace_number(rng, data),
        6 => {
            let bad = rng.pick(BAD_UTF8);
            data.splice(at..at, bad.iter().copied());
        }
        7 => {
            let depth = rng.range(1, 300);
            let open = if rng.one_in(2) { "[" } else { "{\"a\":" };
            data.splice(at..at, open.repeat(depth).into_bytes());
        }
        8 => {
            let len = *rng.pick(&[64, 1000, 5000, 70_000]);
            let fill = *rng.pick(b"a0 \n\"\\%");
            data.splice(at..at, std::iter::repeat(fill).take(len));
        }
        9 if !other.is_empty() => {
            let start = rng.below(other.len());
            let end = (start + rng.range(1, 256)).min(other.len());
            data.splice(at..at, other[start..end].iter().copied());
        }
        10 if !data.is_empty() => {
            let start = rng.below(data.len());
            let end = (start + rng.range(1, 64)).min(data.len());
            let copy = data[start..end].to_vec();
            data.splice(at..at, copy);
        }
        _ => data.truncate(at),
    }
}

/// Swaps one run of ASCII digits for a hostile token.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let digits: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if digits.is_empty() {
        return;
    }
    let start = *rng.pick(&digits);
    let end = (start..data.len())
        .find(|&i| !data[i].is_ascii_digit())
        .unwrap_or(data.len());
    let token = rng.pick(TOKENS).as_bytes().to_vec();
    data.splice(start..end, token);
}

/// Parses `data` as JSON, edits one node, and prints it again; `None` when
/// it is not JSON.
fn json_edit(rng: &mut Rng, data: &[u8]) -> Option<Vec<u8>> {
    let mut root: Value = serde_json::from_slice(data).ok()?;
    let mut keys = Vec::new();
    collect_keys(&root, &mut keys);
    let count = count_nodes(&root);
    let target = rng.below(count);
    edit_nth(rng, &mut root, target, &keys, &mut 0);
    serde_json::to_vec(&root).ok()
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn collect_keys(value: &Value, keys: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        Value::Object(map) => {
            for (key, v) in map {
                keys.push(key.clone());
                collect_keys(v, keys);
            }
        }
        _ => {}
    }
}

/// Walks in pre-order to node `target` and edits it there.
fn edit_nth(rng: &mut Rng, value: &mut Value, target: usize, keys: &[String], seen: &mut usize) {
    if *seen == target {
        edit_node(rng, value, keys);
        *seen += count_nodes(value);
        return;
    }
    *seen += 1;
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| edit_nth(rng, v, target, keys, seen)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| edit_nth(rng, v, target, keys, seen)),
        _ => {}
    }
}

fn edit_node(rng: &mut Rng, value: &mut Value, keys: &[String]) {
    match (rng.below(5), &mut *value) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned();
            key.map(|key| map.remove(&key));
        }
        (1, Value::Object(map)) if !keys.is_empty() => {
            map.insert(rng.pick(keys).clone(), random_value(rng, keys, 2));
        }
        (2, Value::Array(items)) if !items.is_empty() => {
            let copy = items[rng.below(items.len())].clone();
            for _ in 0..rng.range(1, 50) {
                items.push(copy.clone());
            }
        }
        _ => *value = random_value(rng, keys, 2),
    }
}

/// A value of any JSON type, numbers and strings from the edge cases.
pub fn random_value(rng: &mut Rng, keys: &[String], depth: usize) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => edge_number(rng),
        3 => Value::String(rng.pick(TOKENS).to_string()),
        4 => Value::String(random_text(rng)),
        5 => Value::String(String::new()),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, keys, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                let key = if keys.is_empty() {
                    random_text(rng)
                } else {
                    rng.pick(keys).clone()
                };
                map.insert(key, random_value(rng, keys, depth - 1));
            }
            Value::Object(map)
        }
    }
}

fn edge_number(rng: &mut Rng) -> Value {
    let ints: &[i64] = &[
        0,
        -1,
        1,
        2,
        i64::MAX,
        i64::MIN,
        i32::MAX as i64,
        -(1 << 53),
        100,
    ];
    match rng.below(4) {
        0 => Value::from(*rng.pick(ints)),
        1 => Value::from(u64::MAX),
        2 => Number::from_f64(*rng.pick(&[1e308, -1e308, 0.5, -0.0, 1e-300, 2.5e18]))
            .map_or(Value::Null, Value::Number),
        _ => Value::from(rng.next_u64() as i64 >> rng.below(64)),
    }
}

/// A short string of printable, control and non-ASCII characters.
pub fn random_text(rng: &mut Rng) -> String {
    let alphabet = [
        'a', 'Z', '0', '-', '.', '/', ' ', '"', '\\', '\u{0}', '\u{7f}', 'é', '\u{FFFF}',
    ];
    (0..rng.below(12)).map(|_| *rng.pick(&alphabet)).collect()
}
