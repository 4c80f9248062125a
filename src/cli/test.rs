//! `parse` end to end: every flag in every form, and every validation.

use super::*;
use std::time::Duration;

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn run(list: &[&str]) -> Config {
    match parse(args(list)) {
        Ok(Command::Run(config)) => config,
        other => panic!("{list:?}: expected a run config, got {other:?}"),
    }
}

fn error(list: &[&str]) -> String {
    match parse(args(list)) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("{list:?}: expected an error, got {other:?}"),
    }
}

/// The four Go spellings of one value flag.
fn forms(name: &str, value: &str) -> [Vec<String>; 4] {
    [
        vec![format!("-{name}"), value.to_string()],
        vec![format!("-{name}={value}")],
        vec![format!("--{name}"), value.to_string()],
        vec![format!("--{name}={value}")],
    ]
}

fn run_each_form(name: &str, value: &str) -> Vec<Config> {
    forms(name, value)
        .iter()
        .map(|form| {
            let refs: Vec<&str> = form.iter().map(String::as_str).collect();
            run(&refs)
        })
        .collect()
}

#[test]
fn no_flags_gives_defaults() {
    assert_eq!(
        run(&[]),
        config::run_config(&raw::RawFlags::default()).unwrap()
    );
}

#[test]
fn prom_parts_in_every_form() {
    for c in run_each_form("prom-scheme", "https") {
        assert_eq!(c.prom.base_url, "https://prometheus.kube-system:9090");
    }
    for c in run_each_form("prom-name", "prom-server") {
        assert_eq!(c.prom.base_url, "http://prom-server.kube-system:9090");
    }
    for c in run_each_form("prom-namespace", "monitoring") {
        assert_eq!(c.prom.base_url, "http://prometheus.monitoring:9090");
    }
    for c in run_each_form("prom-port", "9091") {
        assert_eq!(c.prom.base_url, "http://prometheus.kube-system:9091");
    }
}

#[test]
fn prom_url_overrides_parts() {
    let c = run(&[
        "-prom-port",
        "1234",
        "-prom-url",
        "https://prom.example/prefix/",
    ]);
    assert_eq!(c.prom.base_url, "https://prom.example/prefix");
}

#[test]
fn prom_url_in_every_form() {
    for c in run_each_form("prom-url", "http://127.0.0.1:9090") {
        assert_eq!(c.prom.base_url, "http://127.0.0.1:9090");
    }
}

#[test]
fn prom_query_timeout_and_files() {
    for c in run_each_form("prom-query", "sum by (pod) (x{namespace=\"{namespace}\"})") {
        assert_eq!(
            c.prom.query_template.as_deref(),
            Some("sum by (pod) (x{namespace=\"{namespace}\"})")
        );
    }
    for c in run_each_form("prom-timeout", "1m30s") {
        assert_eq!(c.prom.timeout, Duration::from_secs(90));
    }
    for c in run_each_form("prom-bearer-token-file", "/run/token") {
        assert_eq!(c.prom.bearer_token_file, Some(PathBuf::from("/run/token")));
    }
    for c in run_each_form("prom-ca-file", "/run/ca.pem") {
        assert_eq!(c.prom.ca_file, Some(PathBuf::from("/run/ca.pem")));
    }
}

#[test]
fn prom_window_stays_default() {
    assert_eq!(run(&[]).prom.window, crate::prom::DEFAULT_WINDOW);
}

#[test]
fn kubernetes_flags_in_every_form() {
    for c in run_each_form("apiserver", "http://127.0.0.1:8001") {
        assert_eq!(c.apiserver.as_deref(), Some("http://127.0.0.1:8001"));
    }
    for c in run_each_form("token-file", "/tmp/t") {
        assert_eq!(c.token_file, Some(PathBuf::from("/tmp/t")));
    }
    for c in run_each_form("ca-file", "/tmp/ca") {
        assert_eq!(c.ca_file, Some(PathBuf::from("/tmp/ca")));
    }
    for c in run_each_form("namespace", "demo") {
        assert_eq!(c.namespace.as_deref(), Some("demo"));
    }
}

#[test]
fn control_loop_flags_in_every_form() {
    for c in run_each_form("resync", "1500ms") {
        assert_eq!(c.resync, Duration::from_millis(1500));
    }
    for c in run_each_form("workers", "64") {
        assert_eq!(c.workers, 64);
    }
}

#[test]
fn leader_and_metrics_flags_in_every_form() {
    for c in run_each_form("leader-elect-namespace", "memhpa-system") {
        assert_eq!(c.leader_elect_namespace.as_deref(), Some("memhpa-system"));
    }
    for c in run_each_form("leader-elect-id", "memhpa-b") {
        assert_eq!(c.leader_elect_id, "memhpa-b");
    }
    for c in run_each_form("metrics-addr", "127.0.0.1:9100") {
        assert_eq!(c.metrics_addr, "127.0.0.1:9100");
    }
}

#[test]
fn bool_bare_sets_true() {
    assert!(run(&["-dry-run"]).dry_run);
    assert!(run(&["--dry-run"]).dry_run);
}

#[test]
fn bool_inline_values() {
    assert!(run(&["-dry-run=true"]).dry_run);
    assert!(!run(&["-dry-run=false"]).dry_run);
    assert!(!run(&["--leader-elect=false"]).leader_elect);
    assert!(!run(&["-leader-elect=0"]).leader_elect);
    assert!(run(&["-leader-elect=T"]).leader_elect);
}

#[test]
fn bool_does_not_take_next_arg() {
    assert_eq!(
        error(&["-leader-elect", "false"]),
        "unexpected argument \"false\": memhpa takes only flags; its subcommands are simulate and explain"
    );
}

#[test]
fn bool_bad_value() {
    assert_eq!(
        error(&["-dry-run=yes"]),
        "invalid value \"yes\" for -dry-run: expected true or false"
    );
}

#[test]
fn later_flag_overrides_earlier() {
    assert!(!run(&["-dry-run", "-dry-run=false"]).dry_run);
}

#[test]
fn help_forms() {
    for form in ["-h", "--h", "-help", "--help"] {
        assert_eq!(parse(args(&[form])), Ok(Command::Help), "{form}");
    }
}

#[test]
fn help_wins_over_bad_values() {
    assert_eq!(parse(args(&["-workers", "0", "-h"])), Ok(Command::Help));
}

#[test]
fn version_forms() {
    for form in ["-version", "--version"] {
        assert_eq!(parse(args(&[form])), Ok(Command::Version), "{form}");
    }
}

#[test]
fn unknown_flag_quoted() {
    assert_eq!(error(&["-prom-nmae", "x"]), "unknown flag \"-prom-nmae\"");
}

#[test]
fn unknown_flag_with_value_quoted() {
    assert_eq!(error(&["--bogus=1"]), "unknown flag \"--bogus=1\"");
}

#[test]
fn single_letter_unknown() {
    assert_eq!(error(&["-v"]), "unknown flag \"-v\"");
}

#[test]
fn missing_value() {
    assert_eq!(error(&["-namespace"]), "flag -namespace needs a value");
}

#[test]
fn value_that_is_a_flag_key() {
    assert_eq!(
        error(&["-namespace", "--dry-run"]),
        "flag -namespace needs a value"
    );
}

#[test]
fn subcommand_not_first() {
    assert!(error(&["-dry-run", "simulate"]).contains("must come first"));
}

#[test]
fn bad_duration_named() {
    assert_eq!(
        error(&["-resync", "30x"]),
        "invalid value \"30x\" for -resync: unknown unit \"x\"; expected ns, us, ms, s, m or h"
    );
}

#[test]
fn zero_resync() {
    assert_eq!(
        error(&["-resync=0s"]),
        "invalid value \"0s\" for -resync: expected at least 1s: a shorter resync only repeats the same reads"
    );
}

#[test]
fn resync_below_one_second() {
    for value in ["1ns", "999ms", "0.5s", "999999999ns"] {
        assert!(
            error(&["-resync", value]).starts_with(&format!(
                "invalid value {value:?} for -resync: expected at least 1s"
            )),
            "{value}"
        );
    }
    assert_eq!(run(&["-resync=1s"]).resync, Duration::from_secs(1));
    assert_eq!(
        run(&["-resync=1000000000ns"]).resync,
        Duration::from_secs(1)
    );
}

#[test]
fn negative_timeout() {
    assert!(error(&["-prom-timeout=-5s"])
        .starts_with("invalid value \"-5s\" for -prom-timeout: negative"));
}

#[test]
fn bare_number_timeout() {
    assert!(error(&["-prom-timeout", "5"]).contains("a unit is missing"));
}

#[test]
fn bad_port_named() {
    assert_eq!(
        error(&["-prom-port", "70000"]),
        "invalid value \"70000\" for -prom-port: expected a port from 1 to 65535"
    );
}

#[test]
fn bad_scheme() {
    assert!(error(&["-prom-scheme", "ftp"]).starts_with("invalid value \"ftp\" for -prom-scheme"));
}

#[test]
fn bad_prom_name() {
    assert!(error(&["-prom-name", "Prom/x"]).starts_with("invalid value \"Prom/x\" for -prom-name"));
}

#[test]
fn bad_prom_namespace_even_with_url() {
    assert!(
        error(&["-prom-url", "http://p:9090", "-prom-namespace", ""])
            .starts_with("invalid value \"\" for -prom-namespace")
    );
}

#[test]
fn bad_prom_url() {
    assert!(error(&["-prom-url", "prometheus:9090"])
        .starts_with("invalid value \"prometheus:9090\" for -prom-url: the scheme must be"));
}

#[test]
fn blank_prom_query() {
    assert!(error(&["-prom-query= "]).starts_with("invalid value \" \" for -prom-query"));
}

#[test]
fn bad_apiserver_url() {
    assert!(error(&["-apiserver", "ftp://k8s"])
        .starts_with("invalid value \"ftp://k8s\" for -apiserver"));
}

#[test]
fn empty_file_names() {
    for name in [
        "prom-bearer-token-file",
        "prom-ca-file",
        "token-file",
        "ca-file",
    ] {
        assert_eq!(
            error(&[&format!("-{name}=")]),
            format!("invalid value \"\" for -{name}: expected a file name")
        );
    }
}

#[test]
fn bad_namespace() {
    assert!(error(&["-namespace", "Demo"]).starts_with("invalid value \"Demo\" for -namespace"));
}

#[test]
fn workers_out_of_range() {
    assert_eq!(
        error(&["-workers", "0"]),
        "invalid value \"0\" for -workers: expected a whole number from 1 to 64"
    );
    assert!(error(&["-workers=65"]).starts_with("invalid value \"65\" for -workers"));
    assert!(error(&["-workers", "-1"]).starts_with("invalid value \"-1\" for -workers"));
    assert!(error(&["-workers", "four"]).starts_with("invalid value \"four\" for -workers"));
}

#[test]
fn bad_leader_names() {
    assert!(error(&["-leader-elect-namespace", "a_b"])
        .starts_with("invalid value \"a_b\" for -leader-elect-namespace"));
    assert!(error(&["-leader-elect-id", ""]).starts_with("invalid value \"\" for -leader-elect-id"));
}

#[test]
fn bad_metrics_addr() {
    assert!(
        error(&["-metrics-addr", "8080"]).starts_with("invalid value \"8080\" for -metrics-addr")
    );
    assert!(error(&["-metrics-addr", ":99999"])
        .starts_with("invalid value \":99999\" for -metrics-addr"));
}

fn simulate(list: &[&str]) -> Command {
    let mut all = vec!["simulate"];
    all.extend_from_slice(list);
    parse(args(&all)).unwrap_or_else(|e| panic!("{list:?}: {e}"))
}

#[test]
fn simulate_defaults() {
    assert_eq!(
        simulate(&[]),
        Command::Simulate {
            scenario: None,
            json: false,
            all: false,
            svg: None,
            compare: false,
        }
    );
}

#[test]
fn simulate_file_and_flags_in_any_order() {
    let want = Command::Simulate {
        scenario: Some(PathBuf::from("s.json")),
        json: true,
        all: false,
        svg: Some(PathBuf::from("out.svg")),
        compare: false,
    };
    assert_eq!(simulate(&["s.json", "-json", "-svg", "out.svg"]), want);
    assert_eq!(simulate(&["--svg=out.svg", "--json", "s.json"]), want);
    assert_eq!(
        simulate(&["-json=true", "-svg=out.svg", "--", "s.json"]),
        want
    );
}

#[test]
fn simulate_json_false() {
    assert!(matches!(
        simulate(&["-json=false"]),
        Command::Simulate { json: false, .. }
    ));
}

#[test]
fn simulate_compare() {
    assert!(matches!(
        simulate(&["-compare", "s.json"]),
        Command::Simulate {
            compare: true,
            json: false,
            ..
        }
    ));
    assert!(matches!(
        simulate(&["s.json", "--compare=true", "-json"]),
        Command::Simulate {
            compare: true,
            json: true,
            ..
        }
    ));
    assert!(matches!(
        simulate(&["-compare=false"]),
        Command::Simulate { compare: false, .. }
    ));
    assert!(parse(args(&["-compare"])).is_err(), "not a run-mode flag");
}

#[test]
fn simulate_all() {
    assert!(matches!(
        simulate(&["-all", "s.json"]),
        Command::Simulate {
            all: true,
            json: false,
            compare: false,
            ..
        }
    ));
    assert!(matches!(
        simulate(&["-compare", "--all=true"]),
        Command::Simulate {
            all: true,
            compare: true,
            ..
        }
    ));
    assert!(matches!(
        simulate(&["-all=false"]),
        Command::Simulate { all: false, .. }
    ));
    assert!(parse(args(&["-all"])).is_err(), "not a run-mode flag");
}

#[test]
fn simulate_help() {
    assert_eq!(simulate(&["-h"]), Command::Help);
}

#[test]
fn simulate_unknown_flag() {
    assert_eq!(
        parse(args(&["simulate", "-dry-run"]))
            .unwrap_err()
            .to_string(),
        "unknown flag \"-dry-run\" for simulate"
    );
}

#[test]
fn simulate_two_files() {
    assert!(parse(args(&["simulate", "a.json", "b.json"]))
        .unwrap_err()
        .to_string()
        .contains("at most one scenario"));
}

#[test]
fn simulate_svg_without_file() {
    assert_eq!(
        parse(args(&["simulate", "-svg"])).unwrap_err().to_string(),
        "flag -svg needs a value"
    );
}

#[test]
fn simulate_empty_svg_name() {
    assert!(parse(args(&["simulate", "-svg="]))
        .unwrap_err()
        .to_string()
        .starts_with("invalid value \"\" for -svg"));
}

#[test]
fn errors_exit_two() {
    assert_eq!(parse(args(&["-x"])).unwrap_err().exit_code(), 2);
}

#[test]
fn explain_takes_one_file_or_stdin() {
    let explain = |list: &[&str]| {
        let mut all = vec!["explain"];
        all.extend_from_slice(list);
        parse(args(&all))
    };
    assert_eq!(explain(&[]), Ok(Command::Explain { input: None }));
    assert_eq!(
        explain(&["web.json"]),
        Ok(Command::Explain {
            input: Some(PathBuf::from("web.json"))
        })
    );
    assert_eq!(
        explain(&["-"]),
        Ok(Command::Explain {
            input: Some(PathBuf::from("-"))
        })
    );
    assert_eq!(explain(&["-h"]), Ok(Command::Help));
    assert!(explain(&["a", "b"]).is_err());
    assert!(explain(&[""]).is_err());
    assert!(
        explain(&["-dry-run"]).is_err(),
        "controller flags are not explain's"
    );
}

fn replay(list: &[&str]) -> ReplayConfig {
    let mut all = vec!["simulate", "-from-prometheus", "http://127.0.0.1:9090"];
    all.extend_from_slice(list);
    match parse(args(&all)) {
        Ok(Command::Replay(config)) => config,
        other => panic!("{list:?}: expected a replay, got {other:?}"),
    }
}

fn simulate_error(list: &[&str]) -> CliError {
    let mut all = vec!["simulate"];
    all.extend_from_slice(list);
    match parse(args(&all)) {
        Err(e) => e,
        Ok(other) => panic!("{list:?}: expected an error, got {other:?}"),
    }
}

const PROM: [&str; 2] = ["-from-prometheus", "http://127.0.0.1:9090"];

#[test]
fn replay_defaults_with_a_spec_file() {
    use crate::simulate::history::{Workload, WorkloadKind};
    use crate::simulate::SpecSource;
    let c = replay(&["-workload", "demo/Deployment/web", "-spec", "a.json"]);
    assert_eq!(c.prom.base_url, "http://127.0.0.1:9090");
    assert_eq!(c.prom.timeout, Duration::from_secs(5));
    assert_eq!(
        c.workload,
        Workload {
            namespace: "demo".into(),
            kind: WorkloadKind::Deployment,
            name: "web".into()
        }
    );
    assert_eq!(c.since, Duration::from_secs(7 * 86_400));
    assert_eq!(c.step, Duration::from_secs(30));
    assert_eq!(c.until, None);
    assert_eq!(c.specs, [SpecSource::File(PathBuf::from("a.json"))]);
    assert_eq!(c.limit_bytes, None);
    assert!(!c.json);
}

#[test]
fn replay_flags_in_every_form() {
    use crate::simulate::{Shorthand, SpecSource};
    let c = replay(&[
        "--workload=db/statefulset/pg",
        "-since=1d12h",
        "--until",
        "2026-12-01T00:00:00Z",
        "-step",
        "1m",
        "-spec=a.json",
        "--spec",
        "b.json",
        "-target",
        "70",
        "-min=2",
        "-max",
        "12",
        "-baseline",
        "120Mi",
        "-limit-bytes=1Gi",
        "-json",
        "-prom-timeout",
        "1m",
        "-prom-bearer-token-file",
        "/t",
        "-prom-ca-file=/ca.pem",
        "-prom-query",
        "up{pod=~\"{pods}\"}",
        "-allow-insecure-http",
    ]);
    assert_eq!(c.since, Duration::from_secs(36 * 3600));
    assert_eq!(c.until, Some(1_796_083_200));
    assert_eq!(c.step, Duration::from_secs(60));
    assert_eq!(
        c.specs,
        [
            SpecSource::File(PathBuf::from("a.json")),
            SpecSource::File(PathBuf::from("b.json")),
            SpecSource::Shorthand(Shorthand {
                target: 70,
                min: 2,
                max: 12,
                baseline: Some("120Mi".into())
            })
        ]
    );
    assert_eq!(c.limit_bytes, Some(1 << 30));
    assert!(c.json);
    assert_eq!(c.prom.timeout, Duration::from_secs(60));
    assert_eq!(c.prom.bearer_token_file, Some(PathBuf::from("/t")));
    assert_eq!(c.prom.ca_file, Some(PathBuf::from("/ca.pem")));
    assert_eq!(
        c.prom.query_template.as_deref(),
        Some("up{pod=~\"{pods}\"}")
    );
    assert!(c.prom.allow_insecure_http);
}

#[test]
fn replay_shorthand_min_defaults_to_one() {
    use crate::simulate::SpecSource;
    let c = replay(&["-workload", "a/Deployment/b", "-target", "60", "-max", "5"]);
    assert!(
        matches!(&c.specs[..], [SpecSource::Shorthand(s)] if s.min == 1 && s.baseline.is_none())
    );
}

#[test]
fn replay_needs_a_workload_and_a_spec() {
    let no_workload = simulate_error(&[PROM[0], PROM[1], "-spec", "a.json"]);
    assert!(
        matches!(
            no_workload,
            CliError::RequiredFlag {
                flag: "workload",
                ..
            }
        ),
        "{no_workload}"
    );
    let no_spec = simulate_error(&[PROM[0], PROM[1], "-workload", "a/Deployment/b"]);
    let text = no_spec.to_string();
    assert!(
        text.starts_with("flag -spec is required") && text.contains("-target"),
        "{text}"
    );
    let no_max = simulate_error(&[
        PROM[0],
        PROM[1],
        "-workload",
        "a/Deployment/b",
        "-target",
        "70",
    ]);
    assert!(
        matches!(no_max, CliError::RequiredFlag { flag: "max", .. }),
        "{no_max}"
    );
    let no_target = simulate_error(&[
        PROM[0],
        PROM[1],
        "-workload",
        "a/Deployment/b",
        "-spec",
        "s",
        "-max",
        "3",
    ]);
    assert!(
        matches!(no_target, CliError::RequiredFlag { flag: "target", .. }),
        "{no_target}"
    );
}

#[test]
fn replay_bad_values_name_the_flag_and_quote_the_value() {
    let base = [
        PROM[0],
        PROM[1],
        "-workload",
        "a/Deployment/b",
        "-spec",
        "s.json",
    ];
    for (flag, value) in [
        ("workload", "a/Pod/b"),
        ("since", "7days"),
        ("since", "1.5s"),
        ("until", "yesterday"),
        ("step", "0s"),
        ("target", "-3"),
        ("max", "many"),
        ("baseline", "12Q"),
        ("limit-bytes", "0"),
        ("from-prometheus", "prometheus:9090"),
        ("prom-timeout", "0s"),
    ] {
        let mut list = base.to_vec();
        let flag_arg = format!("-{flag}");
        list.extend([flag_arg.as_str(), value]);
        if flag == "target" || flag == "max" || flag == "baseline" {
            list.extend(["-target", "70", "-max", "4"]);
            // The bad value must be the one read: put it last.
            list.extend([flag_arg.as_str(), value]);
        }
        let err = simulate_error(&list);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("invalid value {value:?} for -{flag}")),
            "{flag} {value}: {text}"
        );
        assert_eq!(err.exit_code(), 2);
    }
}

#[test]
fn replay_flags_without_from_prometheus_are_refused() {
    for list in [
        &["-spec", "a.json"][..],
        &["-workload", "a/Deployment/b"],
        &["-since", "1d"],
    ] {
        let err = simulate_error(list);
        assert!(matches!(err, CliError::Conflict { .. }), "{list:?}: {err}");
        assert!(err.to_string().contains("-from-prometheus"), "{err}");
    }
}

#[test]
fn replay_refuses_scenario_flags_files_and_two_specs_to_write() {
    let base = [
        PROM[0],
        PROM[1],
        "-workload",
        "a/Deployment/b",
        "-spec",
        "s.json",
    ];
    let with = |extra: &[&str]| {
        let mut list = base.to_vec();
        list.extend_from_slice(extra);
        simulate_error(&list)
    };
    assert!(matches!(
        with(&["-compare"]),
        CliError::Conflict {
            flag: "compare",
            ..
        }
    ));
    assert!(matches!(
        with(&["scenario.json"]),
        CliError::UnexpectedArgument { .. }
    ));
    let two = with(&["-spec", "t.json", "-write-scenario", "out.json"]);
    assert!(
        matches!(
            two,
            CliError::Conflict {
                flag: "write-scenario",
                ..
            }
        ),
        "{two}"
    );
}
