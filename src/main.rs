//! The `memhpa` binary: parse the command line, then run the controller or the
//! simulator. Exit codes: 0 ok, 2 bad flags or a bad scenario, 1 a runtime failure.

use memhpa::cli::{self, Command, Config};
use memhpa::simulate::SimulateError;
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
            svg,
        } => {
            let mut out = std::io::stdout().lock();
            match memhpa::simulate::run(scenario.as_deref(), json, svg.as_deref(), &mut out) {
                Ok(()) => 0,
                // `memhpa simulate | head` closed the pipe on purpose.
                Err(SimulateError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
                Err(err) => {
                    eprintln!("memhpa: {err}");
                    err.exit_code()
                }
            }
        }
        Command::Run(config) => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
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
