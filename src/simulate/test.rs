//! Tests of `simulate::run`, through its public entry point only.

use super::*;
use serde_json::Value;
use std::path::PathBuf;

/// A scratch directory unique to one test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("memhpa-simulate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_text(
    scenario: Option<&Path>,
    json: bool,
    svg: Option<&Path>,
) -> Result<String, SimulateError> {
    run_with(scenario, json, false, svg)
}

fn run_with(
    scenario: Option<&Path>,
    json: bool,
    all: bool,
    svg: Option<&Path>,
) -> Result<String, SimulateError> {
    let mut out = Vec::new();
    run(scenario, json, all, svg, &mut out)?;
    Ok(String::from_utf8(out).expect("output is UTF-8"))
}

fn json_rows(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON: {e}")))
        .collect()
}

/// The step lines of `-json` output, and the summary object of its last line.
fn json_steps(text: &str) -> (Vec<Value>, Value) {
    let mut lines = json_rows(text);
    let last = lines.pop().expect("at least the summary line");
    let obj = last.as_object().expect("the summary line is an object");
    assert_eq!(obj.len(), 1, "only the summary key: {last}");
    for line in &lines {
        assert!(
            line.get("summary").is_none() && line.get("t").is_some(),
            "{line}"
        );
    }
    (lines, obj["summary"].clone())
}

const KEYS: [&str; 7] = [
    "t",
    "currentReplicas",
    "utilizationPercentage",
    "recommendedReplicas",
    "desiredReplicas",
    "reason",
    "limitPercentage",
];

#[test]
fn one_step_three_pods_at_90_percent() {
    let dir = Scratch::new("one-step");
    let path = dir.file(
        "s.json",
        r#"{"spec": {"maxReplicas": 10, "targetUtilizationPercentage": 50},
            "replicas": 3,
            "steps": [{"t": 0, "pods": [
                {"name": "a", "usageBytes": 900, "limitBytes": 1000},
                {"name": "b", "usageBytes": 900, "limitBytes": 1000},
                {"name": "c", "usageBytes": 900, "limitBytes": 1000}]}]}"#,
    );
    let text = run_text(Some(&path), true, None).expect("runs");
    let (rows, _) = json_steps(&text);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["recommendedReplicas"], 6);
    assert_eq!(row["desiredReplicas"], 6);
    assert_eq!(row["utilizationPercentage"], 90);
    assert_eq!(row["currentReplicas"], 3);
    assert_eq!(row["t"], 0);
    assert_eq!(row["reason"], "AboveTarget");
    assert_eq!(row["limitPercentage"], 90.0);
}

#[test]
fn example_rises_and_falls() {
    let text = run_text(None, true, None).expect("built-in example runs");
    let (rows, _) = json_steps(&text);
    assert!(
        rows.len() > 200,
        "a day at 5-minute steps, got {}",
        rows.len()
    );
    for row in &rows {
        let obj = row.as_object().expect("each line is an object");
        for key in KEYS {
            assert!(obj.contains_key(key), "missing {key} in {row}");
        }
        assert_eq!(obj.len(), KEYS.len(), "extra keys in {row}");
    }
    let replicas: Vec<i64> = rows
        .iter()
        .map(|r| r["currentReplicas"].as_i64().expect("integer"))
        .collect();
    let start = replicas[0];
    let (peak_at, peak) = replicas
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|&(i, r)| (r, std::cmp::Reverse(i)))
        .expect("rows");
    assert!(
        peak >= start + 3,
        "replicas must visibly rise: start {start}, peak {peak}"
    );
    let end = *replicas.last().expect("rows");
    assert!(
        end <= peak - 3,
        "replicas must visibly fall after the peak at row {peak_at}: end {end}"
    );
    // Stabilization: some scale-down was held back by the window.
    assert!(
        rows.iter().any(|r| r["reason"] == "ScaleDownStabilized"),
        "the example should show stabilization delaying a scale-down"
    );
}

/// The table's step lines: those whose first column is a number.
fn step_lines(table: &str) -> Vec<&str> {
    table
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|t| t.parse::<i64>().is_ok())
        })
        .collect()
}

#[test]
fn example_text_table() {
    let text = run_with(None, false, true, None).expect("runs");
    let mut lines = text.lines();
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("# target 70% of limits")));
    assert!(lines
        .next()
        .is_some_and(|l| l.contains("replicas") && l.contains("reason")));
    let first = lines.next().expect("a first step");
    assert!(first.contains("00:00"), "{first}");
    assert!(text.contains("12:00"), "hh:mm column");
    assert_eq!(step_lines(&text).len(), 289, "-all shows every step");
    assert!(!text.contains("not shown"), "{text}");
    assert!(text.contains("\nsummary "), "{text}");
}

#[test]
fn example_file_is_the_builtin() {
    let parsed: Value = serde_json::from_str(EXAMPLE).expect("example.json is JSON");
    assert!(parsed["steps"].as_array().is_some_and(|s| s.len() == 289));
}

#[test]
fn svg_is_well_formed() {
    let dir = Scratch::new("svg");
    let path = dir.0.join("chart.svg");
    run_text(None, false, Some(&path)).expect("runs");
    let svg = std::fs::read_to_string(&path).expect("svg written");
    assert!(svg.starts_with("<svg "), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.matches("<polyline").count() >= 2,
        "replicas and utilization lines"
    );
    assert!(svg.contains("stroke-dasharray"), "dashed target");
    assert!(
        svg.contains("time (hh:mm)")
            && svg.contains("replicas")
            && svg.contains("memory utilization")
    );
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "no non-finite numbers"
    );
    check_tags_balanced(&svg);
}

/// A minimal XML check: every opened element is closed, in order.
fn check_tags_balanced(xml: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    for _ in 0..100_000 {
        let Some(open) = rest.find('<') else { break };
        let Some(close) = rest[open..].find('>') else {
            panic!("unterminated tag")
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("");
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn svg_with_single_step_and_no_metrics_has_no_nan() {
    let dir = Scratch::new("svg-one");
    let scenario = dir.file(
        "s.json",
        r#"{"spec": {"maxReplicas": 3}, "replicas": 1,
            "steps": [{"t": 5, "pods": [{"name": "a", "usageBytes": null, "limitBytes": 10}]}]}"#,
    );
    let path = dir.0.join("chart.svg");
    let text = run_text(Some(&scenario), true, Some(&path)).expect("runs");
    assert_eq!(json_rows(&text)[0]["reason"], "FailedGetResourceMetric");
    let svg = std::fs::read_to_string(&path).expect("svg written");
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    check_tags_balanced(&svg);
}

#[test]
fn table_explains_failed_steps() {
    let dir = Scratch::new("detail");
    let scenario = dir.file(
        "s.json",
        r#"{"spec": {"maxReplicas": 3, "basis": "requests"}, "replicas": 1,
            "steps": [{"t": 0, "pods": [{"name": "web-0", "usageBytes": 5, "limitBytes": 10}]}]}"#,
    );
    let text = run_text(Some(&scenario), false, None).expect("runs");
    assert!(text.contains("FailedGetResourceMetric"), "{text}");
    assert!(
        text.contains("pod \"web-0\" container \"app\" has no memory request"),
        "{text}"
    );
}

#[test]
fn svg_write_failure_is_exit_1() {
    let dir = Scratch::new("svg-fail");
    let path = dir.0.join("no-such-dir").join("chart.svg");
    let err = run_text(None, true, Some(&path)).expect_err("cannot write");
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn missing_file_is_exit_1() {
    let err = run_text(
        Some(Path::new("/nonexistent/memhpa/scenario.json")),
        false,
        None,
    )
    .expect_err("no file");
    assert_eq!(err.exit_code(), 1);
    assert!(err
        .to_string()
        .contains("/nonexistent/memhpa/scenario.json"));
}

/// A valid one-pod scenario with `patch` applied at a JSON pointer.
fn scenario_with(pointer: &str, value: Value) -> String {
    let mut doc: Value = serde_json::json!({
        "spec": {"maxReplicas": 5},
        "replicas": 2,
        "limitBytes": 1000,
        "steps": [
            {"t": 0, "totalBytes": 500},
            {"t": 60, "pods": [{"name": "a", "usageBytes": 5, "limitBytes": 10}]}
        ]
    });
    if let Some((parent, key)) = pointer.rsplit_once('/') {
        let target = doc.pointer_mut(parent).expect("parent exists");
        match target {
            Value::Object(m) => {
                m.insert(key.to_string(), value);
            }
            Value::Array(a) => {
                let i: usize = key.parse().expect("index");
                a[i] = value;
            }
            _ => panic!("bad pointer"),
        }
    }
    doc.to_string()
}

fn bad(text: &str) -> String {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Scratch::new(&format!("bad-{n}"));
    let path = dir.file("s.json", text);
    match run_text(Some(&path), false, None) {
        Ok(out) => panic!("accepted a bad scenario; output:\n{out}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{e}");
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "one line: {msg}");
            msg
        }
    }
}

#[test]
fn valid_base_scenario_is_accepted() {
    let dir = Scratch::new("base");
    let path = dir.file("s.json", &scenario_with("", Value::Null));
    let text =
        run_text(Some(&path), true, None).expect("the base of the bad-scenario tests is valid");
    assert_eq!(json_steps(&text).0.len(), 2);
}

#[test]
fn bad_missing_max_replicas() {
    let mut doc: Value = serde_json::from_str(&scenario_with("", Value::Null)).expect("json");
    doc["spec"] = serde_json::json!({"minReplicas": 1});
    assert_eq!(
        bad(&doc.to_string()),
        "scenario: spec.maxReplicas: required but missing"
    );
}

#[test]
fn bad_negative_limit() {
    let text = scenario_with("/steps/1/pods/0/limitBytes", serde_json::json!(-5));
    assert_eq!(
        bad(&text),
        "scenario: steps[1].pods[0].limitBytes: expected a positive integer, got -5"
    );
}

#[test]
fn bad_wrong_type() {
    let text = scenario_with("/replicas", serde_json::json!("two"));
    assert_eq!(
        bad(&text),
        "scenario: replicas: expected an integer from 0 to 10000, got \"two\""
    );
    let text = scenario_with("/steps/1/pods/0/usageBytes", serde_json::json!("5Mi"));
    assert!(bad(&text).starts_with("scenario: steps[1].pods[0].usageBytes: expected"));
    let text = scenario_with("/spec/maxReplicas", serde_json::json!(2.5));
    assert!(bad(&text).starts_with("scenario: spec.maxReplicas: expected an integer"));
}

#[test]
fn bad_unknown_key() {
    let text = scenario_with("/steps/1/pods/0/usage", serde_json::json!(5));
    assert!(bad(&text).starts_with("scenario: steps[1].pods[0].usage: unknown key"));
    let text = scenario_with("/spec/behaviour", serde_json::json!({}));
    assert!(bad(&text).starts_with("scenario: spec.behaviour: unknown key"));
    let text = scenario_with("/extra", serde_json::json!(1));
    assert!(bad(&text).starts_with("scenario: extra: unknown key"));
}

#[test]
fn bad_t_decreasing() {
    let text = scenario_with("/steps/1/t", serde_json::json!(-1));
    assert!(bad(&text).starts_with("scenario: steps[1].t: expected an integer"));
    let mut doc: Value = serde_json::from_str(&scenario_with("", Value::Null)).expect("json");
    doc["steps"][0]["t"] = serde_json::json!(100);
    assert_eq!(
        bad(&doc.to_string()),
        "scenario: steps[1].t: expected at least the previous step's t (100), got 60"
    );
}

#[test]
fn bad_empty_steps() {
    let text = scenario_with("/steps", serde_json::json!([]));
    assert_eq!(
        bad(&text),
        "scenario: steps: expected at least one step, got []"
    );
}

#[test]
fn bad_invalid_json() {
    assert!(bad("{\"spec\": ").starts_with("scenario: invalid JSON"));
    assert!(bad("").starts_with("scenario: invalid JSON"));
    assert_eq!(bad("[1, 2]"), "scenario: expected a JSON object, got [1,2]");
}

#[test]
fn bad_huge_numbers() {
    let text = scenario_with("/steps/1/pods/0/limitBytes", serde_json::json!(1e300));
    assert!(bad(&text).starts_with(
        "scenario: steps[1].pods[0].limitBytes: expected a positive integer of at most"
    ));
    let text = scenario_with("/replicas", serde_json::json!(u64::MAX));
    assert!(bad(&text).starts_with("scenario: replicas: expected an integer from 0 to 10000"));
    let text = scenario_with("/spec/maxReplicas", serde_json::json!(99_999_999_999i64));
    assert!(bad(&text).starts_with("scenario: spec.maxReplicas: expected an integer"));
    let text = scenario_with("/steps/0/totalBytes", serde_json::json!(1e30));
    assert!(bad(&text).starts_with("scenario: steps[0].totalBytes: expected"));
    // Beyond what serde_json reads as a number at all.
    assert!(bad(r#"{"replicas": 1e999}"#).starts_with("scenario: invalid JSON"));
}

#[test]
fn bad_spec_values_are_named() {
    let text = scenario_with("/spec/targetUtilizationPercentage", serde_json::json!(0));
    assert_eq!(
        bad(&text),
        "scenario: spec.targetUtilizationPercentage: expected an integer from 1 to 100, got 0"
    );
    let text = scenario_with(
        "/spec/behavior",
        serde_json::json!({"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}}),
    );
    assert!(bad(&text)
        .starts_with("scenario: spec.behavior.scaleDown.policies[0].periodSeconds: expected"));
}

#[test]
fn bad_step_shapes() {
    let text = scenario_with("/steps/0/pods", serde_json::json!([]));
    assert_eq!(
        bad(&text),
        "scenario: steps[0]: expected either pods or totalBytes, got both"
    );
    let text = scenario_with("/steps/1/pods/0/phase", serde_json::json!("Starting"));
    assert!(bad(&text).starts_with("scenario: steps[1].pods[0].phase: expected one of"));
    let mut doc: Value = serde_json::from_str(&scenario_with("", Value::Null)).expect("json");
    doc.as_object_mut().map(|m| m.remove("limitBytes"));
    assert_eq!(
        bad(&doc.to_string()),
        "scenario: limitBytes: required by steps[0].totalBytes, but missing"
    );
}

#[test]
fn containers_and_totals() {
    let dir = Scratch::new("containers");
    let ok = dir.file(
        "ok.json",
        r#"{"spec": {"maxReplicas": 10, "targetUtilizationPercentage": 50, "container": "app"},
            "replicas": 3,
            "steps": [{"t": 0, "pods": [
              {"name": "a", "usageBytes": 1000, "limitBytes": 2000, "containers": [
                 {"name": "app", "usageBytes": 900, "limitBytes": 1000},
                 {"name": "log", "usageBytes": 100, "limitBytes": 1000}]},
              {"name": "b", "containers": [
                 {"name": "app", "usageBytes": 900, "limitBytes": 1000},
                 {"name": "log", "usageBytes": null, "limitBytes": 1000}]},
              {"name": "c", "phase": "Failed", "deleted": true, "containers": [
                 {"name": "app", "usageBytes": 0, "limitBytes": 1000}]}]}]}"#,
    );
    let rows = json_rows(&run_text(Some(&ok), true, None).expect("runs"));
    // Only "app" counts: 1800/2000 = 90% -> 1.8 * 2 pods = 3.6 -> 4.
    assert_eq!(rows[0]["recommendedReplicas"], 4);
    assert_eq!(rows[0]["utilizationPercentage"], 90);

    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&ok).expect("read")).expect("json");
    doc["steps"][0]["pods"][0]["limitBytes"] = serde_json::json!(1500);
    assert_eq!(
        bad(&doc.to_string()),
        "scenario: steps[0].pods[0].limitBytes: expected the containers' total 2000, got 1500"
    );
}

#[test]
fn total_bytes_follows_decided_replicas() {
    let dir = Scratch::new("total");
    let path = dir.file(
        "s.json",
        r#"{"spec": {"maxReplicas": 10, "targetUtilizationPercentage": 50,
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}},
            "replicas": 2, "limitBytes": 1000, "podBaseBytes": 100,
            "steps": [{"t": 0, "totalBytes": 1600}, {"t": 60, "totalBytes": 1600}, {"t": 120, "totalBytes": 200}]}"#,
    );
    let rows = json_rows(&run_text(Some(&path), true, None).expect("runs"));
    // 2 pods: 800 + 100 = 90% -> ceil(1.8 * 2) = 4.
    assert_eq!(
        (
            rows[0]["utilizationPercentage"].as_i64(),
            rows[0]["desiredReplicas"].as_i64()
        ),
        (Some(90), Some(4))
    );
    // 4 pods: 400 + 100 = 50%: within tolerance.
    assert_eq!(rows[1]["currentReplicas"], 4);
    assert_eq!(
        (
            rows[1]["utilizationPercentage"].as_i64(),
            rows[1]["reason"].as_str()
        ),
        (Some(50), Some("WithinTolerance"))
    );
    // 4 pods: 50 + 100 = 15% -> ceil(0.3 * 4) = 2.
    assert_eq!(
        (
            rows[2]["utilizationPercentage"].as_i64(),
            rows[2]["desiredReplicas"].as_i64()
        ),
        (Some(15), Some(2))
    );
}

#[test]
fn the_starting_count_holds_a_scale_down_for_one_window() {
    let dir = Scratch::new("first-window");
    let pods = r#"[{"name": "a", "usageBytes": 100, "limitBytes": 1000},
                   {"name": "b", "usageBytes": 100, "limitBytes": 1000}]"#;
    let path = dir.file(
        "s.json",
        &format!(
            r#"{{"spec": {{"maxReplicas": 10, "targetUtilizationPercentage": 50}},
                "replicas": 2,
                "steps": [{{"t": 0, "pods": {pods}}}, {{"t": 299, "pods": {pods}}},
                          {{"t": 300, "pods": {pods}}}]}}"#
        ),
    );
    let (rows, _) = json_steps(&run_text(Some(&path), true, None).expect("runs"));
    let desired: Vec<i64> = rows
        .iter()
        .map(|r| r["desiredReplicas"].as_i64().expect("integer"))
        .collect();
    // The start counts as a recommendation of 2 at t=0, as in the controller:
    // the default 300 s window keeps it until the window has passed it.
    assert_eq!(desired, vec![2, 2, 1]);
    assert_eq!(rows[0]["recommendedReplicas"], 1);
    assert_eq!(rows[0]["reason"], "ScaleDownStabilized");
}

/// The valid base scenario as text, with `key: value` text spliced in right
/// after the opening brace of the object that `anchor` opens (JSON text, since
/// `serde_json::Value` cannot hold a repeated key).
fn spliced(anchor: &str, extra: &str) -> String {
    let text = scenario_with("", Value::Null);
    let at = text.find(anchor).expect("anchor in the base scenario") + anchor.len();
    format!("{}{extra},{}", &text[..at], &text[at..])
}

#[test]
fn bad_duplicate_keys_are_named_with_their_path() {
    let cases = [
        ("{", r#""replicas": 3"#, "replicas"),
        (r#""spec":{"#, r#""maxReplicas": 7"#, "spec.maxReplicas"),
        (r#"{"t":0,"#, r#""t": 5"#, "steps[0].t"),
        (
            r#""pods":[{"#,
            r#""usageBytes": 6"#,
            "steps[1].pods[0].usageBytes",
        ),
        (r#""pods":[{"#, r#""name": "b""#, "steps[1].pods[0].name"),
    ];
    for (anchor, extra, path) in cases {
        let text = spliced(anchor, extra);
        assert_eq!(
            bad(&text),
            format!("scenario: {path}: duplicate key (each key may appear once)"),
            "{text}"
        );
    }
    let nested = scenario_with(
        "/spec/behavior",
        serde_json::json!({"scaleDown": {"selectPolicy": "Max"}}),
    )
    .replace(
        r#""selectPolicy":"Max""#,
        r#""selectPolicy":"Max","selectPolicy":"Min""#,
    );
    assert_eq!(
        bad(&nested),
        "scenario: spec.behavior.scaleDown.selectPolicy: duplicate key (each key may appear once)"
    );
    let container = r#"{"spec": {"maxReplicas": 3}, "replicas": 1, "steps": [{"t": 0, "pods": [
        {"name": "a", "containers": [{"name": "app", "name": "app", "usageBytes": 1, "limitBytes": 2}]}]}]}"#;
    assert_eq!(
        bad(container),
        "scenario: steps[0].pods[0].containers[0].name: duplicate key (each key may appear once)"
    );
}

/// What the parser refuses it refuses as it reads: the rest of the document,
/// here not even JSON, is never read.
#[test]
fn refused_while_reading_before_the_rest_is_read() {
    let junk_first = r#"{"junk": [1, 2], "spec": {"#;
    assert!(
        bad(junk_first).starts_with("scenario: junk: unknown key"),
        "{}",
        bad(junk_first)
    );
    let pod = r#"{"name": "a", "usageBytes": 1, "limitBytes": 2}"#;
    let pods = vec![pod; 10_001].join(",");
    let too_many = format!(r#"{{"steps": [{{"t": 0, "pods": [{pods}]}} !!! not JSON"#);
    assert_eq!(
        bad(&too_many),
        "scenario: steps[0].pods: expected at most 10000 entries, got 10001"
    );
}

#[test]
fn bad_huge_plain_field_is_cut_short() {
    let zeros = vec!["0"; 20_000].join(",");
    let text = format!(r#"{{"spec": [{zeros}], "replicas": 1}}"#);
    assert_eq!(
        bad(&text),
        "scenario: spec: expected a small value, got more than 10000 JSON values"
    );
    assert_eq!(
        bad(&format!("[{zeros}]")),
        "scenario: the document: expected a small value, got more than 10000 JSON values"
    );
    // A valid field of any realistic size is far below the bound.
    let deep = scenario_with("/replicas", serde_json::json!({"a": vec![1; 50]}));
    assert!(bad(&deep).starts_with("scenario: replicas: expected an integer"));
}

#[test]
fn bad_hostile_key_is_quoted_and_cut() {
    let key = format!("a\nb{}", "x".repeat(100_000));
    let text = scenario_with(&format!("/steps/1/pods/0/{key}"), serde_json::json!(1));
    let msg = bad(&text);
    assert!(
        msg.starts_with("scenario: steps[1].pods[0].\"a\\nb"),
        "{}",
        &msg[..80]
    );
    assert!(msg.len() < 400, "{} bytes", msg.len());
    assert!(msg.contains("(99943 more characters)"), "{msg}");
}

#[test]
fn bad_file_larger_than_the_limit_is_refused_unread() {
    let dir = Scratch::new("huge");
    let path = dir.0.join("huge.json");
    // Sparse: a terabyte that costs no disk, and would cost a read if read.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(1 << 40).expect("sparse file");
    let msg = bad_path(&path);
    assert!(
        msg.ends_with("huge.json: larger than 67108864 bytes (64 MiB)"),
        "{msg}"
    );
}

#[cfg(unix)]
#[test]
fn bad_endless_stream_is_cut_at_the_limit() {
    let msg = bad_path(Path::new("/dev/zero"));
    assert_eq!(
        msg,
        "scenario: /dev/zero: larger than 67108864 bytes (64 MiB)"
    );
}

fn bad_path(path: &Path) -> String {
    let err = run_text(Some(path), false, None).expect_err("refused");
    assert_eq!(err.exit_code(), 2, "{err}");
    err.to_string()
}

/// FNV-1a 64: a fingerprint of an output, to hold it to the byte without
/// keeping a 20 KB copy in the source.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The built-in example's steps, byte for byte as they were before
/// `spec.podBaseline` and `-compare` existed (fingerprints taken then): the
/// `-all` table up to its summary, and the JSON lines without the summary
/// line and the `limitPercentage` key, both added since. The SVG's
/// fingerprint was taken again when the bands above 90% of the limit came.
#[test]
fn the_plain_example_is_unchanged_to_the_byte() {
    let table = run_with(None, false, true, None).expect("runs");
    let json = run_text(None, true, None).expect("runs");
    let dir = Scratch::new("golden-svg");
    let svg_path = dir.0.join("chart.svg");
    run_text(None, false, Some(&svg_path)).expect("runs");
    let svg = std::fs::read(&svg_path).expect("svg written");
    let (steps, summary) = table.split_at(20863.min(table.len()));
    assert_eq!(fnv1a(steps.as_bytes()), 0xb967_225b_4cf9_d373);
    assert!(summary.starts_with("\nsummary "), "{summary}");
    let (rows, _) = json_steps(&json);
    let old: String = json
        .lines()
        .take(rows.len())
        .map(|l| {
            let cut = l.find(",\"limitPercentage\":").expect("the key, last");
            format!("{}}}\n", &l[..cut])
        })
        .collect();
    assert_eq!(
        (old.len(), fnv1a(old.as_bytes())),
        (37274, 0x0ebe_f792_43ab_9f98)
    );
    assert_eq!((svg.len(), fnv1a(&svg)), (8924, 0x1aa2_5f13_6453_bfd4));
}

/// A scenario given `spec.podBaseline` (as a JSON value) and `podBaseBytes`.
fn baseline_scenario(baseline: Option<Value>, base_bytes: u64) -> String {
    let mut doc = serde_json::json!({
        "spec": {"maxReplicas": 10, "targetUtilizationPercentage": 50,
                 "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}},
        "replicas": 2, "limitBytes": 1000, "podBaseBytes": base_bytes,
        "steps": [{"t": 0, "totalBytes": 800}, {"t": 60, "totalBytes": 800},
                  {"t": 180, "pods": [{"name": "a", "usageBytes": 100, "limitBytes": 1000}]}]
    });
    if let Some(b) = baseline {
        doc["spec"]["podBaseline"] = b;
    }
    doc.to_string()
}

fn run_scenario(name: &str, text: &str, json: bool) -> String {
    let dir = Scratch::new(name);
    let path = dir.file("s.json", text);
    run_text(Some(&path), json, None).expect("runs")
}

#[test]
fn a_zero_baseline_is_no_baseline() {
    let absent = run_scenario("b-absent", &baseline_scenario(None, 100), true);
    for zero in [
        serde_json::json!(0),
        serde_json::json!("0"),
        serde_json::json!("0Mi"),
    ] {
        let text = baseline_scenario(Some(zero.clone()), 100);
        assert_eq!(run_scenario("b-zero", &text, true), absent, "{zero}");
    }
}

#[test]
fn every_spread_pod_holds_the_baseline_on_top_of_its_share() {
    // 2 pods: 800 / 2 = 400 of load each, plus 300 declared and 100
    // undeclared: 800 of 1000 = 80%. An explicit pod is taken as written.
    let text = baseline_scenario(Some(serde_json::json!(300)), 100);
    let rows = json_rows(&run_scenario("b-load", &text, true));
    assert_eq!(rows[0]["utilizationPercentage"], 80);
    let at = |i: usize| rows[i]["currentReplicas"].as_i64().expect("integer");
    // With n pods at the next step, each holds 800/n + 400.
    let want = (800 / at(1) + 400) * 100 / 1000;
    assert_eq!(rows[1]["utilizationPercentage"].as_i64(), Some(want));
    assert_eq!(rows[2]["utilizationPercentage"], 10);
    // A quantity string, or a fraction rounded up as the live field rounds
    // it, is the same baseline as its whole number of bytes.
    for same in [serde_json::json!("300"), serde_json::json!(299.5)] {
        let text = baseline_scenario(Some(same.clone()), 100);
        assert_eq!(
            json_rows(&run_scenario("b-load-same", &text, true)),
            rows,
            "{same}"
        );
    }
}

#[test]
fn bad_pod_baseline_is_named_and_quoted() {
    let with = |v: Value| scenario_with("/spec/podBaseline", v);
    assert_eq!(
        bad(&with(serde_json::json!(-1))),
        "scenario: spec.podBaseline: expected a number of bytes from 0 to 1125899906842624, got -1"
    );
    assert_eq!(
        bad(&with(serde_json::json!(1e300))),
        "scenario: spec.podBaseline: expected a number of bytes from 0 to 1125899906842624, got 1e+300"
    );
    assert_eq!(
        bad(&with(serde_json::json!(true))),
        "scenario: spec.podBaseline: expected a memory quantity (e.g. \"120Mi\") or a number of bytes, got true"
    );
    assert_eq!(
        bad(&with(serde_json::json!({"bytes": 1}))),
        "scenario: spec.podBaseline: expected a memory quantity (e.g. \"120Mi\") or a number of bytes, got {\"bytes\":1}"
    );
    assert_eq!(
        bad(&with(serde_json::json!(""))),
        "scenario: spec.podBaseline: expected a non-empty string, got \"\""
    );
    // A string is checked as the live field is: by the quantity parser.
    let msg = bad(&with(serde_json::json!("lots")));
    assert!(msg.starts_with("scenario: spec.podBaseline: "), "{msg}");
    assert!(msg.contains("\"lots\""), "{msg}");
    let msg = bad(&with(serde_json::json!("2Pi")));
    assert!(msg.starts_with("scenario: spec.podBaseline: "), "{msg}");
    assert!(msg.contains("\"2Pi\"") && msg.contains("beyond"), "{msg}");
    // The largest byte count is accepted, as for other byte counts.
    let dir = Scratch::new("b-max");
    let path = dir.file("s.json", &with(serde_json::json!(1u64 << 50)));
    run_text(Some(&path), false, None).expect("1 PiB is a byte count");
    let too_many = with(serde_json::json!((1u64 << 50) + 1));
    assert!(bad(&too_many).starts_with("scenario: spec.podBaseline: expected a number"));
}

fn compare_text(scenario: Option<&Path>, json: bool) -> String {
    let mut out = Vec::new();
    compare(scenario, json, false, None, &mut out).expect("compare runs");
    String::from_utf8(out).expect("output is UTF-8")
}

/// A small -compare by hand. The pods hold a 600-byte baseline of a
/// 1000-byte limit; the proportional rule, told of none, sees 600 + S/n.
#[test]
fn compare_a_small_scenario() {
    let text = r#"{"spec": {"minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 80,
                   "podBaseline": 600,
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}},
        "replicas": 2, "limitBytes": 1000,
        "steps": [{"t": 0, "totalBytes": 800}, {"t": 600, "totalBytes": 800},
                  {"t": 1800, "totalBytes": 0}, {"t": 2400, "totalBytes": 0}]}"#;
    let dir = Scratch::new("compare-small");
    let path = dir.file("s.json", text);
    let lines: Vec<Value> = json_rows(&compare_text(Some(&path), true));
    assert_eq!(lines.len(), 5, "4 steps and the summary");
    let p = |i: usize, key: &str| lines[i]["proportional"][key].clone();
    // t=0: 2 pods at 600 + 400 = 100%: ceil(2 * 100/80) = ceil(2.5) = 3.
    assert_eq!(
        (p(0, "utilizationPercentage"), p(0, "desiredReplicas")),
        (100.into(), 3.into())
    );
    // t=600: 3 pods at 600 + 266.7 = 86%: ratio 1.08, within tolerance.
    assert_eq!(
        (p(1, "currentReplicas"), p(1, "utilizationPercentage")),
        (3.into(), 86.into())
    );
    assert_eq!(p(1, "reason"), "WithinTolerance");
    // t=1800: no load, 3 pods at 60%: ceil(3 * 60/80) = ceil(2.25) = 3, kept:
    // the baseline alone holds the proportional rule above what is needed.
    assert_eq!(
        (p(2, "utilizationPercentage"), p(2, "desiredReplicas")),
        (60.into(), 3.into())
    );
    assert_eq!(p(3, "desiredReplicas"), 3);
    // 2 x 600 + 3 x 1200 + 3 x 600 = 6600 replica-seconds; above 80% for
    // 600 + 1200 s; one scale-up. Peak 100%. By time, of 2400 s: 60% for
    // 600 s, 86% for 1200 s (1800 s so far, under 95% = 2280 s), 100% for
    // 600 s: the p95 is 100%. Only t=0 is above 90% of the limit (1000 of
    // 1000 bytes), for 600 s: 10 minutes.
    assert_eq!(
        lines[4]["summary"]["proportional"],
        serde_json::json!({"replicaHours": 6600.0 / 3600.0, "scaleUps": 1, "scaleDowns": 0,
                           "peakUtilizationPercentage": 100, "p95UtilizationPercentage": 100,
                           "minutesAboveTarget": 30.0, "minutesAbove90PercentOfLimit": 10.0,
                           "peakLimitPercentage": 100.0})
    );
    // Each step line names its t; the baseline column is exactly what plain
    // `simulate` prints for the scenario, and so is its summary.
    let (plain, plain_summary) = json_steps(&run_text(Some(&path), true, None).expect("runs"));
    assert_eq!(lines[4]["summary"]["baseline"], plain_summary);
    assert_eq!(plain.len(), 4);
    for (line, row) in lines.iter().zip(&plain) {
        assert_eq!(line["t"], row["t"]);
        assert_eq!(&line["baseline"], row);
        assert_eq!(
            line["proportional"].as_object().map(|o| o.len()),
            Some(KEYS.len())
        );
    }
    // The table shows both columns and the same summary in words.
    let table = compare_text(Some(&path), false);
    assert!(table.contains("podBaseline 600 bytes"), "{table}");
    let figures = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in {table}"))
            .split_whitespace()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
    };
    let proportional = |name: &str| figures(name)[1].to_string();
    assert_eq!(proportional("replica-hours"), "1.83");
    assert_eq!(proportional("scale-ups"), "1");
    assert_eq!(proportional("scale-downs"), "0");
    assert_eq!(proportional("minutes above target"), "30.0");
    assert_eq!(table.lines().filter(|l| l.contains(" | ")).count(), 1 + 4);
}

/// Without a baseline the two runs are the same run.
#[test]
fn compare_without_a_baseline_is_one_run_twice() {
    let dir = Scratch::new("compare-none");
    let path = dir.file("s.json", &baseline_scenario(None, 100));
    for line in json_rows(&compare_text(Some(&path), true)) {
        if let Some(summary) = line.get("summary") {
            assert_eq!(summary["proportional"], summary["baseline"]);
        } else {
            assert_eq!(line["proportional"], line["baseline"]);
        }
    }
}

#[test]
fn compare_builtin_is_its_own_scenario() {
    let parsed: Value = serde_json::from_str(COMPARE_EXAMPLE).expect("compare.json is JSON");
    assert_eq!(parsed["spec"]["podBaseline"], "2560Mi");
    let lines = json_rows(&compare_text(None, true));
    assert_eq!(lines.len(), 289 + 1);
    // The proportional rule on the built-in comparison, by the figures its
    // table shows: it never comes back below 5 replicas at night, where 2
    // carry the load.
    let last = &lines[288]["proportional"];
    assert_eq!(
        (
            last["currentReplicas"].as_i64(),
            last["utilizationPercentage"].as_i64()
        ),
        (Some(5), Some(67))
    );
    let table = compare_text(None, false);
    assert!(
        table.starts_with("# target 80% of limits, replicas 2..20"),
        "{table}"
    );
}

#[test]
fn compare_svg_draws_the_baseline_run() {
    let dir = Scratch::new("compare-svg");
    let path = dir.0.join("chart.svg");
    let mut out = Vec::new();
    compare(None, false, false, Some(&path), &mut out).expect("runs");
    let svg = std::fs::read_to_string(&path).expect("svg written");
    check_tags_balanced(&svg);
    assert!(svg.contains("memory utilization"));
    let bad = dir.0.join("no-such-dir").join("chart.svg");
    let err = compare(None, true, false, Some(&bad), &mut Vec::new()).expect_err("cannot write");
    assert_eq!(err.exit_code(), 1);
}

/// The limit figure and the summary through `run`, by hand: explicit pods
/// under `basis: requests`, so the limit is not the utilization's base.
#[test]
fn the_summary_line_holds_the_fullest_container_over_its_limit() {
    let text = r#"{"spec": {"maxReplicas": 10, "targetUtilizationPercentage": 90, "basis": "requests",
                   "container": "app",
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}},
        "replicas": 2,
        "steps": [
          {"t": 0, "pods": [
            {"name": "a", "containers": [
               {"name": "app", "usageBytes": 500, "limitBytes": 1000, "requestBytes": 1000},
               {"name": "log", "usageBytes": 95, "limitBytes": 100, "requestBytes": 100}]},
            {"name": "b", "usageBytes": 990, "limitBytes": 1000, "requestBytes": 1000,
             "phase": "Pending"},
            {"name": "c", "usageBytes": 999, "limitBytes": 1000, "requestBytes": 1000,
             "deleted": true}]},
          {"t": 1000, "pods": [
            {"name": "a", "usageBytes": 800, "limitBytes": 1000, "requestBytes": 1000},
            {"name": "b", "usageBytes": 600, "limitBytes": 10000, "requestBytes": 1000}]},
          {"t": 1100, "pods": [
            {"name": "a", "usageBytes": null, "limitBytes": 1000, "requestBytes": 1000}]},
          {"t": 1400, "pods": [
            {"name": "a", "usageBytes": 950, "limitBytes": 1000, "requestBytes": 1000}]}]}"#;
    let (rows, summary) = json_steps(&run_scenario("limit-figure", text, true));
    let limits: Vec<Value> = rows.iter().map(|r| r["limitPercentage"].clone()).collect();
    // t=0: the log container (95 of 100) is the fullest of the Running pod;
    // the Pending and the deleted pods are left out though fuller. t=1000: a
    // at 800 of 1000 (b is at 6%). t=1100: no working set, no figure.
    // t=1400: 95%.
    assert_eq!(
        limits,
        [
            serde_json::json!(95.0),
            serde_json::json!(80.0),
            Value::Null,
            serde_json::json!(95.0)
        ]
    );
    let util: Vec<Option<i64>> = rows
        .iter()
        .map(|r| r["utilizationPercentage"].as_i64())
        .collect();
    assert_eq!(util, [Some(50), Some(70), None, Some(95)]);
    // Durations 1000, 100, 300 and none. Above 90% of the limit: t=0 only,
    // 1000 s (t=1400 lasts no time). Peak 95% (the last step counts for it).
    // p95 by measured time, 1100 s (t=1100 measured nothing): 50% for
    // 1000 s is under 95% of it (1045 s), 70% for 100 s reaches it: 70%.
    // Not above the 90% target for any time.
    let replicas: Vec<i64> = rows
        .iter()
        .map(|r| r["currentReplicas"].as_i64().expect("integer"))
        .collect();
    let replica_seconds = replicas[0] * 1000 + replicas[1] * 100 + replicas[2] * 300;
    assert_eq!(
        summary,
        serde_json::json!({
            "replicaHours": replica_seconds as f64 / 3600.0,
            "scaleUps": rows.iter().filter(|r| r["desiredReplicas"].as_i64() > r["currentReplicas"].as_i64()).count(),
            "scaleDowns": rows.iter().filter(|r| r["desiredReplicas"].as_i64() < r["currentReplicas"].as_i64()).count(),
            "peakUtilizationPercentage": 95, "p95UtilizationPercentage": 70,
            "minutesAboveTarget": 0.0, "minutesAbove90PercentOfLimit": 1000.0 / 60.0,
            "peakLimitPercentage": 95.0})
    );
}
