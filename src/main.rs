//! The `memhpa` binary: parse the command line, then run the controller or the
//! simulator, or explain a MemHpa. Exit codes: 0 ok, 2 bad flags, a bad scenario or a bad
//! MemHpa to explain, 1 a runtime failure.

use log::LevelFilter;
use memhpa::cli::{self, Command, Config};
use memhpa::explain::ExplainError;
use memhpa::simulate::{ReplayError, SimulateError};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let code = match cli::parse(std::env::args_os().skip(1).collect()) {
        Ok(command) => execute(command),
        Err(err) => {
            eprintln!("memhpa: {err}\ntry 'memhpa -h' for the flags");
            err.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn execute(command: Command) -> i32 {
    match command {
        // A closed stdout (`memhpa -h | head -1`) is not worth an error.
        Command::Help => {
            let _ = std::io::stdout().write_all(cli::usage().as_bytes());
            0
        }
        Command::Version => {
            let _ = writeln!(std::io::stdout(), "memhpa {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Simulate {
            scenario,
            json,
            all,
            svg,
            compare,
        } => {
            let mut out = std::io::stdout().lock();
            let simulate = if compare {
                memhpa::simulate::compare
            } else {
                memhpa::simulate::run
            };
            match simulate(scenario.as_deref(), json, all, svg.as_deref(), &mut out) {
                Ok(()) => 0,
                // `memhpa simulate | head` closed the pipe on purpose.
                Err(SimulateError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
                Err(err) => {
                    eprintln!("memhpa: {err}");
                    err.exit_code()
                }
            }
        }
        Command::Replay(config) => {
            init_logging(false);
            let now = memhpa::rfc3339::unix_seconds(std::time::SystemTime::now());
            let mut out = std::io::stdout().lock();
            let mut stderr = std::io::stderr();
            // Beside -json the header goes to stderr, so stdout stays JSON lines.
            let notes: Option<&mut dyn Write> = if config.json { Some(&mut stderr) } else { None };
            match memhpa::simulate::replay(&config, now, &mut out, notes) {
                Ok(()) => 0,
                Err(ReplayError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
                Err(err) => {
                    eprintln!("memhpa: {err}");
                    err.exit_code()
                }
            }
        }
        Command::Explain { input } => {
            let mut out = std::io::stdout().lock();
            match memhpa::explain::run(input.as_deref(), &mut out) {
                Ok(()) => 0,
                Err(ExplainError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
                Err(err) => {
                    eprintln!("memhpa: {err}");
                    err.exit_code()
                }
            }
        }
        Command::Run(config) => {
            init_logging(config.log_http_wire);
            match run_controller(config) {
                Ok(()) => 0,
                Err(err) => {
                    eprintln!("memhpa: {err}");
                    1
                }
            }
        }
    }
}

/// The crates that log what goes over the wire. At trace, ureq_proto
/// hex-dumps every request, `Authorization: Bearer ...` included, 16 bytes a
/// line; ureq and rustls log connection and handshake details at debug and
/// trace. A test checks that every dependency that logs is listed here.
const WIRE_CRATES: &[&str] = &["ureq", "ureq_proto", "rustls"];

/// Most a wire crate logs without `-log-http-wire`: below debug.
const WIRE_MAX_LEVEL: LevelFilter = LevelFilter::Info;

/// RUST_LOG (default info), with the wire crates held at info or below
/// unless `-log-http-wire`: a bearer token must not reach the log at any
/// level by accident.
fn init_logging(log_http_wire: bool) {
    let env = env_logger::Env::default().default_filter_or("info");
    let mut builder = env_logger::Builder::from_env(env);
    if log_http_wire {
        builder.init();
        log::warn!(
            "-log-http-wire: the HTTP and TLS crates log at the level RUST_LOG asks; \
             at debug and trace that includes bearer tokens"
        );
        return;
    }
    let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    keep_wire_quiet(&mut builder, &rust_log);
    builder.init();
}

/// Appends, after the RUST_LOG directives, one per wire crate and one per
/// RUST_LOG directive naming a module inside one (`ureq_proto::util=trace`
/// would otherwise beat `ureq_proto=info`, as the longest name wins). Each
/// keeps what RUST_LOG asked, capped at [`WIRE_MAX_LEVEL`].
fn keep_wire_quiet(builder: &mut env_logger::Builder, rust_log: &str) {
    let asked = env_logger::Builder::new().parse_filters(rust_log).build();
    for module in wire_modules(rust_log) {
        let level = enabled_level(&asked, &module).min(WIRE_MAX_LEVEL);
        builder.filter_module(&module, level);
    }
}

/// The wire crates, and every module named in `rust_log` inside one of them.
fn wire_modules(rust_log: &str) -> BTreeSet<String> {
    let directives = rust_log.split('/').next().unwrap_or("");
    let named = directives
        .split(',')
        .map(|directive| directive.split('=').next().unwrap_or("").trim())
        .filter(|name| WIRE_CRATES.iter().any(|wire| name.starts_with(wire)));
    WIRE_CRATES
        .iter()
        .copied()
        .chain(named)
        .map(str::to_string)
        .collect()
}

/// The most verbose level `logger` lets through for `target`.
fn enabled_level(logger: &env_logger::Logger, target: &str) -> LevelFilter {
    // Level::iter() goes from Error to Trace; the last let through wins.
    log::Level::iter()
        .filter(|level| {
            let metadata = log::Metadata::builder()
                .target(target)
                .level(*level)
                .build();
            log::Log::enabled(logger, &metadata)
        })
        .last()
        .map_or(LevelFilter::Off, |level| level.to_level_filter())
}

/// Resolves where the API server is, then runs the controller until a signal.
fn run_controller(config: Config) -> Result<(), String> {
    let apiserver = cluster_url(
        &config,
        std::env::var_os("KUBERNETES_SERVICE_HOST"),
        std::env::var_os("KUBERNETES_SERVICE_PORT"),
    )?;
    memhpa::daemon::run(config, &apiserver).map_err(|e| e.to_string())
}

/// `-apiserver` wins; otherwise the in-cluster address, as client-go's
/// `InClusterConfig` builds it (an IPv6 host goes in brackets).
fn cluster_url(
    config: &Config,
    host: Option<OsString>,
    port: Option<OsString>,
) -> Result<String, String> {
    if let Some(url) = &config.apiserver {
        return Ok(url.clone());
    }
    let host = host.filter(|h| !h.is_empty()).ok_or(
        "no cluster access: not running in a pod (KUBERNETES_SERVICE_HOST unset) and no -apiserver given",
    )?;
    let port = port.filter(|p| !p.is_empty()).ok_or(
        "no cluster access: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not, and no -apiserver given",
    )?;
    let (host, port) = (host.to_string_lossy(), port.to_string_lossy());
    if host.contains(':') {
        Ok(format!("https://[{host}]:{port}"))
    } else {
        Ok(format!("https://{host}:{port}"))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn config(args: &[&str]) -> Config {
        match cli::parse(args.iter().map(OsString::from).collect()) {
            Ok(Command::Run(config)) => config,
            other => panic!("{other:?}"),
        }
    }

    /// The logger memhpa would set up for this RUST_LOG without
    /// `-log-http-wire`.
    fn quiet_logger(rust_log: &str) -> env_logger::Logger {
        let mut builder = env_logger::Builder::new();
        builder.parse_filters(rust_log);
        keep_wire_quiet(&mut builder, rust_log);
        builder.build()
    }

    fn logs(logger: &env_logger::Logger, target: &str, level: log::Level) -> bool {
        let metadata = log::Metadata::builder().target(target).level(level).build();
        log::Log::enabled(logger, &metadata)
    }

    #[test]
    fn trace_everywhere_keeps_the_wire_at_info() {
        let logger = quiet_logger("trace");
        assert!(!logs(&logger, "ureq_proto::util", log::Level::Trace));
        assert!(!logs(&logger, "ureq::pool", log::Level::Debug));
        assert!(!logs(&logger, "rustls::client::hs", log::Level::Debug));
        assert!(logs(&logger, "ureq_proto::util", log::Level::Info));
        assert!(logs(&logger, "memhpa::kube::client", log::Level::Trace));
    }

    #[test]
    fn a_directive_inside_a_wire_crate_is_capped_too() {
        let logger = quiet_logger("warn,ureq_proto::util=trace,rustls::conn=debug,memhpa=debug");
        assert!(!logs(&logger, "ureq_proto::util", log::Level::Debug));
        assert!(!logs(&logger, "rustls::conn", log::Level::Debug));
        assert!(logs(&logger, "rustls::conn", log::Level::Info));
        // What RUST_LOG asked below the cap stays as it asked.
        assert!(!logs(&logger, "ureq::pool", log::Level::Info));
        assert!(logs(&logger, "ureq::pool", log::Level::Warn));
        assert!(logs(&logger, "memhpa::daemon", log::Level::Debug));
    }

    #[test]
    fn off_stays_off() {
        let logger = quiet_logger("off");
        assert!(!logs(&logger, "rustls::conn", log::Level::Error));
    }

    /// A dependency that starts to log must be looked at: added to
    /// [`WIRE_CRATES`] if what it logs may hold the wire's bytes.
    #[test]
    fn every_dependency_that_logs_is_a_wire_crate() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
            .expect("Cargo.lock");
        // The logger itself and its filter use log's types, and log nothing.
        let loggers = ["memhpa", "env_logger", "env_filter", "log"];
        for package in lock.split("[[package]]").skip(1) {
            let name = package
                .lines()
                .find_map(|line| line.strip_prefix("name = "))
                .map(|name| name.trim_matches('"').replace('-', "_"))
                .unwrap_or_default();
            let uses_log = package
                .lines()
                .any(|line| line.trim() == "\"log\"," || line.trim().starts_with("\"log 0."));
            if uses_log && !loggers.contains(&name.as_str()) {
                assert!(
                    WIRE_CRATES.contains(&name.as_str()),
                    "{name} depends on log: is it a wire crate?"
                );
            }
        }
    }

    #[test]
    fn apiserver_flag_wins_over_pod_env() {
        let c = config(&["-apiserver", "http://127.0.0.1:8001"]);
        let url = cluster_url(&c, Some("10.0.0.1".into()), Some("443".into()));
        assert_eq!(url.as_deref(), Ok("http://127.0.0.1:8001"));
    }

    #[test]
    fn in_cluster_url_from_env() {
        let url = cluster_url(&config(&[]), Some("10.0.0.1".into()), Some("443".into()));
        assert_eq!(url.as_deref(), Ok("https://10.0.0.1:443"));
    }

    #[test]
    fn in_cluster_ipv6_host_bracketed() {
        let url = cluster_url(&config(&[]), Some("fd00::1".into()), Some("443".into()));
        assert_eq!(url.as_deref(), Ok("https://[fd00::1]:443"));
    }

    #[test]
    fn empty_service_host_is_no_access() {
        let err = cluster_url(&config(&[]), Some("".into()), Some("443".into())).unwrap_err();
        assert!(err.contains("KUBERNETES_SERVICE_HOST unset"), "{err}");
    }
}
