//! The built binary, run as a user would: flags, exit codes, messages, and the
//! simulate subcommand's three outputs.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn memhpa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2, and the first stderr line as a `memhpa:` error.
fn usage_error(args: &[&str]) -> String {
    let o = memhpa(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().next().unwrap_or("").to_string();
    assert!(first.starts_with("memhpa: "), "{first}");
    first
}

/// A scratch directory removed on drop, unique per test and process.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("memhpa-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn help_lists_every_design_flag_with_its_default() {
    let o = memhpa(&["-h"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    // (flag, its documented default (README "Flags"); "" where it has none)
    let design = [
        ("prom-name", "prometheus"),
        ("prom-namespace", "kube-system"),
        ("prom-port", "9090"),
        ("prom-scheme", "http"),
        ("prom-url", ""),
        ("prom-query", ""),
        ("prom-timeout", "5s"),
        ("prom-bearer-token-file", ""),
        ("prom-ca-file", ""),
        ("apiserver", ""),
        ("token-file", ""),
        ("ca-file", ""),
        ("namespace", "all"),
        ("resync", "30s"),
        ("workers", "4"),
        ("dry-run", ""),
        ("leader-elect", "true"),
        ("leader-elect-namespace", "kube-system"),
        ("leader-elect-id", "memhpa"),
        ("metrics-addr", ":8080"),
        ("version", ""),
        ("h", ""),
    ];
    for (flag, default) in design {
        let line = help
            .lines()
            .find(|l| l.starts_with(&format!("  -{flag} ")))
            .unwrap_or_else(|| panic!("-h has no line for -{flag}:\n{help}"));
        assert!(
            line.contains(default),
            "-{flag} line lacks {default:?}: {line}"
        );
    }
    assert!(help.contains("simulate [SCENARIO.json] [-json] [-svg FILE]"));
    for sub_flag in ["-json", "-all", "-svg FILE"] {
        assert!(help.contains(&format!("  {sub_flag} ")), "{sub_flag}");
    }
}

#[test]
fn help_long_forms_and_simulate_help() {
    for args in [&["--help"][..], &["-help"], &["simulate", "-h"]] {
        let o = memhpa(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).contains("-prom-name"), "{args:?}");
    }
}

#[test]
fn version_prints_crate_version() {
    let o = memhpa(&["-version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        format!("memhpa {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_flag_exits_2_quoting_it() {
    assert_eq!(
        usage_error(&["-prom-nmae", "x"]),
        "memhpa: unknown flag \"-prom-nmae\""
    );
}

#[test]
fn usage_error_points_at_help() {
    let o = memhpa(&["--bogus"]);
    assert!(stderr(&o).contains("memhpa -h"), "{}", stderr(&o));
}

#[test]
fn bad_duration_exits_2_naming_flag() {
    let line = usage_error(&["-resync=10parsecs"]);
    assert!(
        line.contains("-resync") && line.contains("\"10parsecs\""),
        "{line}"
    );
}

#[test]
fn bad_port_exits_2_naming_flag() {
    let line = usage_error(&["-prom-port", "0"]);
    assert!(
        line.contains("-prom-port") && line.contains("\"0\""),
        "{line}"
    );
}

#[test]
fn bad_url_exits_2_naming_flag() {
    let line = usage_error(&["--prom-url", "ftp://prometheus"]);
    assert!(
        line.contains("-prom-url") && line.contains("\"ftp://prometheus\""),
        "{line}"
    );
    let line = usage_error(&["-apiserver=localhost:8001"]);
    assert!(line.contains("-apiserver"), "{line}");
}

#[test]
fn bool_flag_does_not_swallow_next_argument() {
    let line = usage_error(&["-leader-elect", "false"]);
    assert!(line.contains("unexpected argument \"false\""), "{line}");
}

#[test]
fn no_cluster_access_exits_1_with_a_clear_message() {
    let o = memhpa(&["-dry-run", "-leader-elect=false"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("no cluster access: not running in a pod (KUBERNETES_SERVICE_HOST unset) and no -apiserver given"),
        "{err}"
    );
}

#[test]
fn service_host_without_port_is_explained() {
    let o = Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("KUBERNETES_SERVICE_PORT"),
        "{}",
        stderr(&o)
    );
}

/// The table's replicas column, one number per step row.
fn table_replicas(table: &str) -> Vec<i64> {
    table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // t, hh:mm, replicas, ...; detail lines and the header do not parse.
            match cols.as_slice() {
                [t, _, replicas, ..] if t.parse::<i64>().is_ok() => replicas.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

fn rises_then_falls(series: &[i64]) -> bool {
    let Some(peak) = series.iter().copied().max() else {
        return false;
    };
    let first = series[0];
    let last = series[series.len() - 1];
    peak > first && peak > last
}

#[test]
fn simulate_timeline_rises_and_falls() {
    let o = memhpa(&["simulate"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let replicas = table_replicas(&stdout(&o));
    assert!(replicas.len() > 10, "{}", stdout(&o));
    assert!(rises_then_falls(&replicas), "{replicas:?}");
}

fn json_rows(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `-json`'s step lines, and the object of its last line, `{"summary": ...}`.
fn json_steps(text: &str) -> (Vec<Value>, Value) {
    let mut lines = json_rows(text);
    let last = lines.pop().expect("a summary line");
    assert_eq!(last.as_object().map(|o| o.len()), Some(1), "{last}");
    (lines, last["summary"].clone())
}

#[test]
fn simulate_json_lines_parse_with_design_keys() {
    let o = memhpa(&["simulate", "-json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (rows, summary) = json_steps(&stdout(&o));
    assert_eq!(rows.len(), 289, "-json holds every step");
    for key in [
        "replicaHours",
        "scaleUps",
        "scaleDowns",
        "peakUtilizationPercentage",
        "p95UtilizationPercentage",
        "minutesAboveTarget",
        "minutesAbove90PercentOfLimit",
        "peakLimitPercentage",
    ] {
        assert!(summary[key].is_number(), "no {key} in {summary}");
    }
    for row in &rows {
        for key in [
            "t",
            "currentReplicas",
            "utilizationPercentage",
            "recommendedReplicas",
            "desiredReplicas",
            "reason",
            "limitPercentage",
        ] {
            assert!(row.get(key).is_some(), "no {key} in {row}");
        }
    }
    let desired: Vec<i64> = rows
        .iter()
        .filter_map(|r| r["desiredReplicas"].as_i64())
        .collect();
    assert_eq!(desired.len(), rows.len());
    assert!(rises_then_falls(&desired), "{desired:?}");
}

/// Every element closed in order; prolog, comments and self-closing tags allowed.
fn tags_balanced(svg: &str) -> Result<usize, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let close = rest[open..]
            .find('>')
            .ok_or_else(|| "unterminated tag".to_string())?;
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(top) if top == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("").to_string();
            stack.push(name);
            count += 1;
        } else {
            count += 1;
        }
    }
    if stack.is_empty() {
        Ok(count)
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[test]
fn simulate_svg_writes_a_balanced_chart_with_axis_labels() {
    let dir = Scratch::new("svg");
    let svg_path = dir.path("chart.svg");
    let o = memhpa(&["simulate", "-svg", text(&svg_path)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).is_empty(), "the table is still printed");
    let svg = std::fs::read_to_string(&svg_path).expect("SVG written");
    let head = svg.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{head:.80}"
    );
    let elements = tags_balanced(&svg).unwrap_or_else(|e| panic!("{e}"));
    assert!(elements > 20, "{elements} elements");
    for label in [">replicas<", ">time (hh:mm)<", ">memory utilization<"] {
        assert!(svg.contains(label), "no axis label {label}");
    }
}

#[test]
fn balance_check_catches_a_broken_svg() {
    assert!(tags_balanced("<svg><g></svg>").is_err());
    assert!(tags_balanced("<svg><g/></svg>").is_ok());
}

#[test]
fn bad_scenario_exits_2_with_one_line_naming_the_field() {
    let dir = Scratch::new("bad");
    let path = dir.file(
        "bad.json",
        r#"{"spec": {"maxReplicas": 10}, "replicas": 2, "limitBytes": 1000,
            "steps": [{"t": 0, "totalBytes": "lots"}]}"#,
    );
    let o = memhpa(&["simulate", text(&path)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("memhpa: "), "{err}");
    assert!(err.contains("steps[0].totalBytes"), "{err}");
}

#[test]
fn missing_scenario_file_exits_1() {
    let dir = Scratch::new("missing");
    let o = memhpa(&["simulate", text(&dir.path("absent.json"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("absent.json"), "{}", stderr(&o));
}

#[test]
fn one_step_three_pods_at_90_percent_recommends_6() {
    let dir = Scratch::new("one-step");
    let path = dir.file(
        "s.json",
        r#"{"spec": {"minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 50},
            "replicas": 3,
            "steps": [{"t": 0, "pods": [
                {"name": "a", "usageBytes": 943718400, "limitBytes": 1048576000, "phase": "Running"},
                {"name": "b", "usageBytes": 943718400, "limitBytes": 1048576000, "phase": "Running"},
                {"name": "c", "usageBytes": 943718400, "limitBytes": 1048576000, "phase": "Running"}]}]}"#,
    );
    let o = memhpa(&["simulate", "-json", text(&path)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (rows, _) = json_steps(&stdout(&o));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["utilizationPercentage"], 90);
    assert_eq!(rows[0]["recommendedReplicas"], 6);
    assert_eq!(rows[0]["currentReplicas"], 3);
}

#[test]
fn simulate_rejects_controller_flags() {
    let line = usage_error(&["simulate", "-workers", "3"]);
    assert_eq!(line, "memhpa: unknown flag \"-workers\" for simulate");
}

/// Runs the controller until it exits by itself, for at most about 30 s
/// (killed then, and reported as no exit code).
fn memhpa_until_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut code = None;
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("wait") {
            code = status.code();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if code.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("stderr");
    (code, stderr(&out))
}

#[test]
fn resync_below_one_second_exits_2_quoting_it() {
    for value in ["1ns", "999ms"] {
        let line = usage_error(&[&format!("-resync={value}")]);
        assert_eq!(
            line,
            format!("memhpa: invalid value {value:?} for -resync: expected at least 1s: a shorter resync only repeats the same reads")
        );
    }
}

#[cfg(unix)]
#[test]
fn non_utf8_value_says_the_same_in_both_forms() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let run = |args: Vec<OsString>| {
        let o = Command::new(env!("CARGO_BIN_EXE_memhpa"))
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2));
        stderr(&o).lines().next().unwrap_or("").to_string()
    };
    let inline = run(vec![OsString::from_vec(b"-namespace=\xffx".to_vec())]);
    let apart = run(vec![
        OsString::from("-namespace"),
        OsString::from_vec(b"\xffx".to_vec()),
    ]);
    assert_eq!(inline, apart);
    assert_eq!(
        inline,
        "memhpa: invalid value \"\u{fffd}x\" for -namespace: not valid UTF-8"
    );
}

/// One rule for every integer flag: an optional leading `+`, as Go's strconv.
#[test]
fn every_integer_flag_takes_a_leading_plus() {
    let o = memhpa(&[
        "-workers=+4",
        "-prom-port=+80",
        "-metrics-addr=127.0.0.1:+0",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no cluster access"), "{}", stderr(&o));
    for args in [["-workers", "-4"], ["-prom-port", "++80"]] {
        usage_error(&args);
    }
}

#[test]
fn metrics_addr_in_use_is_named_once() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().expect("addr").to_string();
    let (code, err) = memhpa_until_exit(&[
        "-apiserver",
        "http://127.0.0.1:1",
        "-leader-elect=false",
        "-metrics-addr",
        &addr,
    ]);
    assert_eq!(code, Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("memhpa: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert_eq!(line.matches("memhpa:").count(), 1, "{line}");
    assert_eq!(line.matches("-metrics-addr").count(), 1, "{line}");
    assert!(line.contains(&format!("{addr:?}")), "{line}");
}

#[test]
fn help_says_what_dry_run_writes() {
    let help = stdout(&memhpa(&["-h"]));
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("-dry-run"))
        .expect("a -dry-run line");
    assert!(
        line.contains("write status and Events, but never write a Scale"),
        "{line}"
    );
    assert!(!line.contains("nothing to the cluster"), "{line}");
}

#[test]
fn repeated_scenario_key_exits_2_naming_it() {
    let dir = Scratch::new("dup");
    let path = dir.file(
        "dup.json",
        r#"{"spec": {"maxReplicas": 10}, "replicas": 2, "replicas": 9, "limitBytes": 1000,
            "steps": [{"t": 0, "totalBytes": 10}]}"#,
    );
    let o = memhpa(&["simulate", text(&path)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "memhpa: scenario: replicas: duplicate key (each key may appear once)"
    );
}

#[test]
fn help_lists_simulate_compare() {
    let help = stdout(&memhpa(&["-h"]));
    let line = help
        .lines()
        .find(|l| l.starts_with("  -compare "))
        .unwrap_or_else(|| panic!("-h has no line for -compare:\n{help}"));
    assert!(line.contains("podBaseline"), "{line}");
}

#[test]
fn simulate_compare_table_and_json() {
    let o = memhpa(&["simulate", "-compare"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for name in [
        "replica-hours",
        "scale-ups",
        "scale-downs",
        "minutes above target",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line:\n{text}"));
        assert_eq!(line.split_whitespace().count(), name.split(' ').count() + 2);
    }
    let o = memhpa(&["simulate", "-compare", "-json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_rows(&stdout(&o));
    let (summary, steps) = lines.split_last().expect("lines");
    assert_eq!(steps.len(), 289);
    for side in ["proportional", "baseline"] {
        assert!(
            summary["summary"][side]["replicaHours"].is_f64(),
            "{summary}"
        );
        assert!(steps.iter().all(|s| s[side]["desiredReplicas"].is_i64()));
    }
    // The plain example is not the comparison's, and sums up its one run.
    let plain = stdout(&memhpa(&["simulate"]));
    assert!(!plain.contains("proportional"), "{plain}");
    assert!(plain.starts_with("# target 70% of limits"), "{plain}");
    let names = plain
        .lines()
        .find(|l| l.starts_with("summary "))
        .unwrap_or_else(|| panic!("no summary:\n{plain}"));
    assert_eq!(
        names.split_whitespace().collect::<Vec<_>>(),
        ["summary", "simulated"]
    );
}

#[test]
fn simulate_table_shows_the_changes_and_all_shows_every_step() {
    let o = memhpa(&["simulate"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let changes = stdout(&o);
    let o = memhpa(&["simulate", "-all"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = stdout(&o);
    let steps = |table: &str| table_replicas(table).len();
    assert_eq!(steps(&all), 289, "{all}");
    let shown = steps(&changes);
    assert!(shown > 10 && shown < 289, "{shown} of 289 shown");
    let note = format!(
        "... {} unchanged steps not shown; -all shows every step",
        289 - shown
    );
    assert!(changes.contains(&note), "no {note:?} in\n{changes}");
    assert!(!all.contains("not shown"), "{all}");
    // Every line the default shows is one that -all shows, in the same order.
    let mut rest = all.lines();
    for line in changes.lines().filter(|l| !l.starts_with("...")) {
        assert!(rest.any(|l| l == line), "{line:?} not in -all, in order");
    }
}

#[test]
fn simulate_bad_pod_baseline_exits_2_naming_it() {
    let dir = Scratch::new("bad-baseline");
    let path = dir.file(
        "s.json",
        r#"{"spec": {"maxReplicas": 3, "podBaseline": "12 apples"}, "replicas": 1,
            "limitBytes": 10, "steps": [{"t": 0, "totalBytes": 5}]}"#,
    );
    for compare in [false, true] {
        let mut args = vec!["simulate", text(&path)];
        if compare {
            args.push("-compare");
        }
        let line = usage_error(&args);
        assert!(
            line.starts_with("memhpa: scenario: spec.podBaseline: ") && line.contains("12 apples"),
            "{line}"
        );
    }
}

// ---- memhpa explain ----

/// A MemHpa held by its scale-down window, as `kubectl get -o json` gives it.
const HELD: &str = r#"{
  "apiVersion": "memhpa.io/v1", "kind": "MemHpa",
  "metadata": {"name": "web", "namespace": "shop"},
  "spec": {"maxReplicas": 10},
  "status": {
    "currentReplicas": 4, "desiredReplicas": 4,
    "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ScaleDownStabilized"}],
    "lastDecision": {
      "time": "2026-12-02T10:45:00Z", "reason": "ScaleDownStabilized", "current": 4, "result": 4,
      "pods": {"counted": 4, "missing": 1, "pending": 0, "ignored": 0,
               "named": [{"name": "web-7d9f-x2k", "why": "missing"}]},
      "usageBytes": 167772160, "capacityBytes": 419430400, "basis": "limits",
      "utilization": 40, "target": 80, "ratio": 0.5, "tolerance": "outside",
      "recommendation": 2,
      "window": {"direction": "down", "seconds": 300, "bound": 6,
                 "boundTime": "2026-12-02T10:42:00Z", "to": 4}
    }
  }
}"#;

fn memhpa_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // A write error means the binary stopped reading early, which the exit
    // code and stderr then tell.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("the binary exits")
}

#[test]
fn explain_reads_stdin_and_a_file_alike() {
    let from_stdin = memhpa_with_stdin(&["explain"], HELD.as_bytes());
    assert_eq!(from_stdin.status.code(), Some(0), "{}", stderr(&from_stdin));
    let text = stdout(&from_stdin);
    assert!(
        text.starts_with("shop/web: scale-down held by the 300 s window: its highest recommendation was 6, at 10:42; the recommendation now is 2\n"),
        "{text}"
    );
    assert!(
        text.contains("pods: 4 counted, 1 missing, 0 Pending, 0 ignored: web-7d9f-x2k (missing)"),
        "{text}"
    );
    let dash = memhpa_with_stdin(&["explain", "-"], HELD.as_bytes());
    assert_eq!(stdout(&dash), text);
    let scratch = Scratch::new("explain");
    let file = scratch.file("web.json", HELD);
    let from_file = memhpa(&["explain", text_of(&file)]);
    assert_eq!(from_file.status.code(), Some(0), "{}", stderr(&from_file));
    assert_eq!(stdout(&from_file), text);
}

fn text_of(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Exit 2 and one `memhpa: explain:` line containing `want`.
fn explain_rejects(input: &[u8], want: &str) {
    let o = memhpa_with_stdin(&["explain"], input);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("memhpa: explain: stdin: ") || err.starts_with("memhpa: explain: MemHpa"),
        "{err}"
    );
    assert!(err.contains(want), "{want:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn explain_bad_input_exits_2_saying_what_is_wrong() {
    explain_rejects(b"NAME  REFERENCE\nweb   Deployment/web", "not JSON");
    explain_rejects(b"NAME  REFERENCE", "it starts NAME  REFERENCE");
    explain_rejects(
        br#"{"kind": "MemHpaList", "items": []}"#,
        "not a MemHpa: kind is \"MemHpaList\" (a list?",
    );
    explain_rejects(br#"[1, 2]"#, "not a MemHpa: kind is none");
    explain_rejects(
        br#"{"kind": "MemHpa", "metadata": {"name": "web", "namespace": "shop"}}"#,
        "MemHpa \"shop/web\" has no status yet",
    );
    explain_rejects(
        br#"{"kind": "MemHpa", "spec": {"maxReplicas": "ten"}}"#,
        "not a MemHpa: invalid type",
    );
}

#[test]
fn explain_refuses_more_than_64_mib() {
    let scratch = Scratch::new("explain-big");
    let path = scratch.path("big.json");
    // Sparse: 64 MiB and one byte of zeros, written in no time.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len((64 << 20) + 1).expect("set_len");
    let o = memhpa(&["explain", text_of(&path)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 67108864 bytes (64 MiB)"), "{err}");
}

#[test]
fn explain_missing_file_exits_1_and_extra_arguments_exit_2() {
    let o = memhpa(&["explain", "/nonexistent/web.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot read /nonexistent/web.json"),
        "{}",
        stderr(&o)
    );
    assert!(
        usage_error(&["explain", "a.json", "b.json"]).contains("explain takes at most one file")
    );
    assert!(usage_error(&["explain", "-json"]).contains("unknown flag \"-json\" for explain"));
    assert!(
        usage_error(&["-dry-run", "explain"]).contains("the explain subcommand must come first")
    );
}

#[test]
fn help_names_explain() {
    let o = memhpa(&["-h"]);
    assert!(
        stdout(&o).contains("memhpa explain [FILE|-]"),
        "{}",
        stdout(&o)
    );
    assert_eq!(memhpa(&["explain", "-h"]).status.code(), Some(0));
}

/// A URL on 127.0.0.1 where nothing listens: bound, noted, released.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    url
}

#[test]
fn replay_bad_flags_exit_2_naming_the_flag() {
    let url = closed_url();
    let base = ["simulate", "-from-prometheus", url.as_str()];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        usage_error(&args)
    };
    assert_eq!(
        with(&["-workload", "demo/Pod/web", "-spec", "s.json"]),
        "memhpa: invalid value \"demo/Pod/web\" for -workload: the kind \"Pod\" is not one of Deployment, StatefulSet, ReplicaSet, ReplicationController"
    );
    assert!(
        with(&["-workload", "demo/Deployment/web"]).starts_with("memhpa: flag -spec is required")
    );
    assert!(with(&["-spec", "s.json"]).starts_with("memhpa: flag -workload is required"));
    assert!(with(&[
        "-workload",
        "d/Deployment/w",
        "-spec",
        "s",
        "-since",
        "7 days"
    ])
    .starts_with("memhpa: invalid value \"7 days\" for -since"));
    assert!(with(&[
        "-workload",
        "d/Deployment/w",
        "-spec",
        "s",
        "-since",
        "4000d"
    ])
    .contains("shorten -since or raise -step"));
    assert_eq!(
        usage_error(&["simulate", "-spec", "s.json"]),
        "memhpa: flag -spec cannot be used with a scenario: it is for a replay with -from-prometheus URL, and a scenario file holds its own spec"
    );
}

#[test]
fn replay_spec_problems_come_before_any_query() {
    let scratch = Scratch::new("replay-spec");
    let bad = scratch.file("bad.json", r#"{"minReplicas": 3, "maxReplicas": 2}"#);
    let url = closed_url();
    let args = |spec: &Path| {
        memhpa(&[
            "simulate",
            "-from-prometheus",
            &url,
            "-workload",
            "demo/Deployment/web",
            "-spec",
            spec.to_str().expect("UTF-8 path"),
        ])
    };
    let invalid = args(&bad);
    assert_eq!(invalid.status.code(), Some(2), "{}", stderr(&invalid));
    assert!(
        stderr(&invalid).contains("bad.json"),
        "{}",
        stderr(&invalid)
    );
    let absent = args(&scratch.path("absent.json"));
    assert_eq!(absent.status.code(), Some(1), "{}", stderr(&absent));
    assert!(
        stderr(&absent).contains("absent.json"),
        "{}",
        stderr(&absent)
    );
    // A good spec reaches Prometheus, which is not there: a runtime failure.
    let good = scratch.file(
        "good.json",
        r#"{"minReplicas": 1, "maxReplicas": 4, "targetUtilizationPercentage": 70}"#,
    );
    let unreachable = args(&good);
    assert_eq!(
        unreachable.status.code(),
        Some(1),
        "{}",
        stderr(&unreachable)
    );
    assert!(
        stderr(&unreachable).contains("cannot reach Prometheus"),
        "{}",
        stderr(&unreachable)
    );
}
