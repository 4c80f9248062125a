//! dashboards/memhpa.json must only ask for what memhpa's /metrics serves: every
//! metric its panels' PromQL and its template variables name, and every label
//! their selectors match on. The served names come from the real registry,
//! rendered with a sample of every kind in it, so a renamed metric or label
//! fails here rather than as an empty panel. promtool, where installed, also
//! parses every expression.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use memhpa::metrics::{Metrics, ReconcileResult};
use serde_json::Value;

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

fn dashboard() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards/memhpa.json");
    let text = std::fs::read_to_string(&path).expect("dashboards/memhpa.json is readable");
    serde_json::from_str(&text).expect("dashboards/memhpa.json is JSON")
}

/// Every sample name /metrics serves, with the label names its series carry.
/// Histograms serve `_bucket` (with `le`), `_sum` and `_count`; the bare
/// family name is no series.
fn served() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = Metrics::new();
    // One of everything, so every family has a series to show its labels (a
    // family added later needs a line here for its labels to be known).
    metrics.reconcile(ReconcileResult::Success, 0.1);
    metrics.scale_write("up");
    metrics.set_memhpa("demo", "web", 2, 3, Some(85));
    metrics.set_target_if_live(|| true, "demo", "web", Some(70));
    metrics.prom_query(0.2, Some("timeout"));
    metrics.api_request("get", 200);
    metrics.watch_restart("expired");
    metrics.set_leader(true);
    let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in metrics.render().lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            // Every family is served, sampled here or not; a histogram as
            // its three series.
            let (family, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let names = match kind {
                "histogram" => vec![
                    format!("{family}_bucket"),
                    format!("{family}_sum"),
                    format!("{family}_count"),
                ],
                _ => vec![family.to_string()],
            };
            for name in names {
                served.entry(name).or_default();
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = served.entry(line[..name_end].to_string()).or_default();
        if let Some(inside) = line[name_end..]
            .strip_prefix('{')
            .and_then(|l| l.split_once('}'))
        {
            // The values here are plain words, so a split on ',' and '=' is
            // enough.
            for pair in inside.0.split(',') {
                labels.insert(pair.split('=').next().unwrap_or_default().to_string());
            }
        }
    }
    served
}

/// One series selector a PromQL expression names: the metric and the labels
/// its `{...}` matches on.
#[derive(Debug, PartialEq, Eq)]
struct Selector {
    metric: String,
    labels: Vec<String>,
}

/// The selectors of a PromQL expression. Function names (an identifier
/// before `(`), aggregations, keywords, the label lists of `by`, `without`,
/// `on`, `ignoring` and `group_*`, strings, ranges, numbers and Grafana
/// variables are skipped; what is left are metric names.
fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: [&str; 6] = ["and", "or", "unless", "bool", "offset", "atan2"];
    // Aggregations, which may put `by (...)` before their parenthesis.
    const AGGREGATIONS: [&str; 12] = [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_non_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let skip_to = |i: usize, close: char| -> Result<usize, String> {
        let mut j = i + 1;
        while j < chars.len() && chars[j] != close {
            if chars[j] == '"' || chars[j] == '\'' {
                j = skip_string(&chars, j)?;
            } else {
                j += 1;
            }
        }
        if j == chars.len() {
            return Err(format!("{expr:?}: no {close:?} after position {i}"));
        }
        Ok(j + 1)
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i)?;
        } else if c == '[' {
            i = skip_to(i, ']')?;
        } else if c == '{' {
            return Err(format!(
                "{expr:?}: a selector without a metric name at position {i}; name the metric"
            ));
        } else if c == '$' {
            i += 1;
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (is_part(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if is_start(c) {
            let start = i;
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = next_non_space(i);
            let opens = chars.get(after) == Some(&'(');
            if GROUPING.contains(&word.as_str()) {
                if opens {
                    i = skip_to(after, ')')?;
                }
            } else if KEYWORDS.contains(&word.as_str())
                || AGGREGATIONS.contains(&word.as_str())
                || opens
            {
                // A keyword, an aggregation, or a function's name.
            } else if chars.get(after) == Some(&'{') {
                let end = skip_to(after, '}')?;
                let inside: String = chars[after + 1..end - 1].iter().collect();
                found.push(Selector {
                    metric: word,
                    labels: matcher_labels(&inside)?,
                });
                i = end;
            } else {
                found.push(Selector {
                    metric: word,
                    labels: Vec::new(),
                });
            }
        } else {
            i += 1;
        }
    }
    Ok(found)
}

/// The index just past the string literal that opens at `start`.
fn skip_string(chars: &[char], start: usize) -> Result<usize, String> {
    let quote = chars[start];
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(format!("an unterminated string at position {start}"))
}

/// The label names of the matchers inside `{...}`: `name op "value"`, by commas.
fn matcher_labels(inside: &str) -> Result<Vec<String>, String> {
    let mut labels = Vec::new();
    let mut rest = inside.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("{inside:?}: a matcher without an operator"))?;
        let name = &rest[..name_end];
        let after = rest[name_end..].trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| after.starts_with(op))
            .ok_or_else(|| format!("{inside:?}: no operator after {name:?}"))?;
        let value = after[op.len()..].trim_start();
        let chars: Vec<char> = value.chars().collect();
        if !matches!(chars.first(), Some('"' | '\'')) {
            return Err(format!("{inside:?}: the value of {name:?} is not quoted"));
        }
        let end = skip_string(&chars, 0)?;
        labels.push(name.to_string());
        let consumed: usize = chars[..end].iter().map(|c| c.len_utf8()).sum();
        rest = value[consumed..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(labels)
}

/// Every PromQL expression of the dashboard, with where it is: the panels'
/// (rows nest panels) and the template variables'. A variable's
/// `label_values(SELECTOR, LABEL)` is Grafana's, not PromQL: it comes back
/// as its selector, and its label as a matcher on it.
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(value: &Value, place: &str, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                let title = map.get("title").and_then(Value::as_str).unwrap_or(place);
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("expr", Value::String(expr)) => {
                            out.push((format!("panel {title:?}"), expr.clone()))
                        }
                        _ => walk(inner, title, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, place, out)),
            _ => {}
        }
    }
    walk(&dashboard["panels"], "", &mut out);
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if var["type"] != "query" {
            continue;
        }
        let name = var["name"].as_str().unwrap_or_default();
        let query = var["query"]["query"]
            .as_str()
            .or_else(|| var["query"].as_str())
            .unwrap_or_default();
        let place = format!("variable {name:?}");
        match query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(','))
        {
            Some((selector, label)) => {
                let label = label.trim();
                let selector = match selector.trim().strip_suffix('}') {
                    Some(open) => format!("{open}, {label}=~\".+\"}}"),
                    None => format!("{}{{{label}=~\".+\"}}", selector.trim()),
                };
                out.push((place, selector));
            }
            None => out.push((place, query.to_string())),
        }
    }
    out
}

/// What in `dashboard` names a metric or a label that `served` does not serve.
fn faults(dashboard: &Value, served: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut faults = Vec::new();
    for (place, expr) in expressions(dashboard) {
        let found = match selectors(&expr) {
            Ok(found) => found,
            Err(e) => {
                faults.push(format!("{place}: {e}"));
                continue;
            }
        };
        if found.is_empty() {
            faults.push(format!("{place}: {expr:?} names no metric"));
        }
        for selector in found {
            let Some(labels) = served.get(&selector.metric) else {
                faults.push(format!(
                    "{place}: {:?} is not served by /metrics (in {expr:?})",
                    selector.metric
                ));
                continue;
            };
            for label in &selector.labels {
                if !labels.contains(label) && !TARGET_LABELS.contains(&label.as_str()) {
                    faults.push(format!(
                        "{place}: {} has no label {label:?} (it has {labels:?})",
                        selector.metric
                    ));
                }
            }
        }
    }
    faults
}

#[test]
fn every_metric_and_label_the_dashboard_names_is_served() {
    let dashboard = dashboard();
    let served = served();
    let exprs = expressions(&dashboard);
    assert!(exprs.len() >= 10, "too few expressions found: {exprs:?}");
    let faults = faults(&dashboard, &served);
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_check_catches_a_missing_metric_a_bare_histogram_and_a_wrong_label() {
    let served = served();
    let mut dashboard = dashboard();
    let panel = |expr: &str| serde_json::json!({"title": "broken", "targets": [{"expr": expr}]});
    let panels = dashboard["panels"].as_array_mut().expect("panels");
    panels.push(panel("sum(rate(memhpa_reconciles_totl[5m]))"));
    panels.push(panel("rate(memhpa_reconcile_duration_seconds[5m])"));
    panels.push(panel("memhpa_desired_replicas{pod=~\"$memhpa\"}"));
    let faults = faults(&dashboard, &served);
    assert_eq!(faults.len(), 3, "{faults:#?}");
    assert!(faults[0].contains("\"memhpa_reconciles_totl\" is not served"));
    assert!(faults[1].contains("\"memhpa_reconcile_duration_seconds\" is not served"));
    assert!(faults[2].contains("memhpa_desired_replicas has no label \"pod\""));
}

#[test]
fn a_template_variable_naming_a_label_that_is_not_there_is_caught() {
    let mut dashboard = dashboard();
    dashboard["templating"]["list"][1]["query"]["query"] =
        Value::from("label_values(memhpa_desired_replicas, deployment)");
    let faults = faults(&dashboard, &served());
    assert_eq!(faults.len(), 1, "{faults:#?}");
    assert!(
        faults[0].contains("has no label \"deployment\""),
        "{faults:?}"
    );
}

#[test]
fn selectors_skip_functions_groupings_strings_ranges_and_variables() {
    let found = selectors(
        "histogram_quantile(0.9, sum by (le) (rate(a_bucket{le=~\"1|2\", x!=\"}\"}[$__rate_interval]))) \
         / on (instance) group_left () (b == 1) and ignoring(pod) c offset 5m",
    )
    .expect("parses");
    let metrics: Vec<&str> = found.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(metrics, ["a_bucket", "b", "c"]);
    assert_eq!(found[0].labels, ["le", "x"]);
    assert!(selectors("{__name__=~\"memhpa_.*\"}").is_err());
    assert!(selectors("sum(a{b=\"open").is_err());
}

#[test]
fn every_panel_reads_the_datasource_variable_and_the_issue_s_panels_are_there() {
    let dashboard = dashboard();
    let vars: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(vars, ["datasource", "namespace", "memhpa"]);
    let mut titles = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or_default();
        titles.push(title);
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        for target in panel["targets"].as_array().expect("targets") {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
        }
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    for wanted in [
        "Desired vs current replicas",
        "Memory utilization vs target",
        "Reconciles by result",
        "Reconcile latency",
        "Scale writes",
        "Prometheus query errors",
        "Kubernetes API errors",
        "Leadership",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel {wanted:?} in {titles:?}"
        );
    }
}

fn find_promtool() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("promtool"))
            .find(|candidate| candidate.is_file())
    })
}

#[test]
fn promtool_parses_every_expression() {
    let Some(promtool) = find_promtool() else {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "promtool is not installed and CI=true: install Debian's prometheus package"
        );
        println!("promtool not installed; skipping the PromQL parse check");
        return;
    };
    // A rules file is the one thing promtool parses PromQL from; Grafana's
    // variables become what they stand for.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in expressions(&dashboard()).iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$namespace", ".*")
            .replace("$memhpa", ".*");
        let quoted = serde_json::to_string(&expr).expect("a string");
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("memhpa-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rules.yml");
    std::fs::write(&file, &rules).expect("rules file written");
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{}{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
