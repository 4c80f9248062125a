//! Bearer tokens and the memhpa binary: they never reach its log, not even
//! at `RUST_LOG=trace` where ureq_proto hex-dumps every request 16 bytes a
//! line, and they never leave the machine over plain http unless
//! `-allow-insecure-http` says so.
//!
//! The binary runs against the fake API server (tests/kubesupport) and a
//! stand-in Prometheus (tests/e2esupport/stubprom), both on 127.0.0.1, each
//! with a token of its own read from a file. Nothing here connects anywhere
//! else: the one non-loopback URL is refused before any connection, or (when
//! allowed) never used because there is no MemHpa to query for.

#[path = "e2esupport/mod.rs"]
mod e2esupport;
#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "kubesupport/mod.rs"]
mod kubesupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2esupport::objects::{self, deployment_with_pods, fake_tail, LIMIT_MI, MI};
use e2esupport::stubprom::StubProm;
use e2esupport::wait::{poll_until, POLL};
use kubesupport::FakeApiServer;
use memhpa::kube::{self, ConfigError, KubeConfig};
use memhpa::prom::{self, PromError, PromOptions};

/// Long, and every character alphanumeric or `-`, so each is shown as it is
/// in the ASCII column of ureq_proto's dump; over 31 bytes, so at least one
/// whole 16-byte row of that dump is token.
const KUBE_TOKEN: &str = "kubetok-Zq8VxR2mT4wLp9sN6yB3cH7jK1dF5gA0";
const PROM_TOKEN: &str = "promtok-Wm3Kd9Qs7Lx2Vb8Nf4Rt6Hy1Jc5Gp0Ea";

/// Bytes of a token that, found together, count as a leak.
const WINDOW: usize = 8;

const NS: &str = "demo";
const APP: &str = "web";

/// A debug binary on a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// One memhpa process, its directory (token files, stderr) and its log.
/// Dropping it kills the process if still running and removes the directory.
struct Run {
    child: Child,
    dir: PathBuf,
    exit: Option<ExitStatus>,
}

impl Run {
    /// Starts memhpa with `RUST_LOG=trace`, the two token files and `flags`.
    fn start(apiserver: &str, prom_url: &str, flags: &[&str]) -> Run {
        let dir = std::env::temp_dir().join(format!(
            "memhpa-secrets-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("run directory");
        let kube_token = write(&dir, "kube-token", KUBE_TOKEN);
        let prom_token = write(&dir, "prom-token", PROM_TOKEN);
        let stderr = File::create(dir.join("stderr.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_memhpa"))
            .arg("-apiserver")
            .arg(apiserver)
            .arg("-token-file")
            .arg(&kube_token)
            .arg("-prom-url")
            .arg(prom_url)
            .arg("-prom-bearer-token-file")
            .arg(&prom_token)
            .arg("-metrics-addr")
            .arg(format!("127.0.0.1:{}", free_port()))
            .args(["-resync", "1s", "-leader-elect-namespace", "kube-system"])
            .args(flags)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn memhpa");
        Run {
            child,
            dir,
            exit: None,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- memhpa stderr (last 30 of {} lines) ---\n{}",
            lines.len(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while self.exit.is_none() && start.elapsed() < timeout {
            self.exit = self.child.try_wait().ok().flatten();
            std::thread::sleep(POLL / 4);
        }
        self.exit
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> Option<ExitStatus> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait_exit(EXIT_TIMEOUT)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{content}\n")).expect("token file");
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fake with a Deployment of 2 pods and a MemHpa on it, accepting only
/// [`KUBE_TOKEN`]; a Prometheus stand-in with their usage.
fn cluster() -> (FakeApiServer, StubProm) {
    let fake = FakeApiServer::start();
    fake.set_tokens(&[KUBE_TOKEN]);
    let prom = StubProm::start();
    deployment_with_pods(&fake, NS, APP, 2);
    for pod in objects::pod_names(APP, 2) {
        prom.set(NS, &pod, 0.8 * LIMIT_MI * MI);
    }
    fake.create_memhpa(objects::memhpa(
        NS,
        APP,
        APP,
        (1, 10),
        50,
        serde_json::json!({}),
    ));
    (fake, prom)
}

/// Runs memhpa until it has queried Prometheus twice (two reconciles, each
/// a round of API and Prometheus requests), then SIGTERMs it; its log.
fn log_of_two_ticks(flags: &[&str]) -> String {
    let (fake, prom) = cluster();
    let mut run = Run::start(&fake.url(), &prom.url(), flags);
    poll_until(
        START_TIMEOUT,
        "two Prometheus queries",
        || (prom.queries() >= 2).then_some(()),
        || format!("{}\n{}", run.tail(), fake_tail(&fake, 20)),
    );
    let exit = run.terminate();
    assert!(
        exit.is_some_and(|status| status.success()),
        "exit {exit:?} after SIGTERM\n{}",
        run.tail()
    );
    run.log()
}

/// The forms in which some [`WINDOW`] bytes of `token` appear in `log`:
/// as they are, hex-encoded in either case with or without spaces between
/// bytes (ureq_proto writes `6b75 6265`), or base64-encoded.
fn leaks(log: &str, token: &str) -> Vec<&'static str> {
    let windows: Vec<&[u8]> = token.as_bytes().windows(WINDOW).collect();
    let unspaced: String = log.chars().filter(|c| *c != ' ').collect();
    let mut found = Vec::new();
    if windows
        .iter()
        .any(|w| log.contains(std::str::from_utf8(w).expect("ascii token")))
    {
        found.push("plain");
    }
    if windows.iter().any(|w| unspaced.contains(&hex(w))) {
        found.push("hex, lower case");
    }
    if windows
        .iter()
        .any(|w| unspaced.contains(&hex(w).to_uppercase()))
    {
        found.push("hex, upper case");
    }
    if base64_cores(token.as_bytes())
        .iter()
        .any(|core| log.contains(core.as_str()))
    {
        found.push("base64");
    }
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The part of `token`'s base64 that does not depend on the bytes around
/// it, for each of the three offsets it may start at in an encoded text.
fn base64_cores(token: &[u8]) -> Vec<String> {
    (0..3)
        .map(|offset| {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(token);
            let encoded = base64(&bytes);
            let skip = if offset == 0 { 0 } else { 4 };
            encoded[skip..encoded.len() - 4].to_string()
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=group.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        out.push_str(&"=".repeat(3 - group.len()));
    }
    out
}

#[test]
fn leak_detector_sees_the_forms_it_claims() {
    let row = format!("{} {}", hex(&KUBE_TOKEN.as_bytes()[3..11]), "x");
    assert!(
        leaks(&row, KUBE_TOKEN).contains(&"hex, lower case"),
        "{row}"
    );
    let spaced: Vec<String> = KUBE_TOKEN.as_bytes()[5..20]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let spaced = spaced.join(" ");
    assert!(
        leaks(&spaced, KUBE_TOKEN).contains(&"hex, upper case"),
        "{spaced}"
    );
    let header = format!("Authorization: Basic {}", base64(PROM_TOKEN.as_bytes()));
    assert_eq!(leaks(&header, PROM_TOKEN), ["base64"]);
    let shifted = base64(format!("u:{PROM_TOKEN}").as_bytes());
    assert_eq!(leaks(&shifted, PROM_TOKEN), ["base64"]);
    assert_eq!(base64(b"memhpa"), "bWVtaHBh");
    assert_eq!(base64(b"ab"), "YWI=");
    assert!(leaks("nothing to see", KUBE_TOKEN).is_empty());
}

#[test]
fn trace_logs_hold_neither_token() {
    let log = log_of_two_ticks(&[]);
    assert!(log.contains("memhpa "), "the binary logged:\n{log}");
    for (which, token) in [("API server", KUBE_TOKEN), ("Prometheus", PROM_TOKEN)] {
        let found = leaks(&log, token);
        assert!(
            found.is_empty(),
            "the {which} token is in the log ({found:?}); lines with it:\n{}",
            lines_with(&log, &token[..WINDOW])
        );
    }
}

/// The control: with the opt-in, the wire dump is there and the detector
/// finds both tokens in it, so the test above looks at the right lines.
#[test]
fn with_log_http_wire_the_wire_dump_holds_both_tokens() {
    let log = log_of_two_ticks(&["-log-http-wire"]);
    assert!(log.contains("-log-http-wire"), "a warning at start");
    assert!(log.contains("ureq_proto"), "ureq_proto's trace lines");
    assert!(!leaks(&log, KUBE_TOKEN).is_empty(), "the API server token");
    assert!(!leaks(&log, PROM_TOKEN).is_empty(), "the Prometheus token");
}

fn lines_with(log: &str, needle: &str) -> String {
    log.lines()
        .filter(|line| line.contains(needle))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

// Plain http.

fn token_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memhpa-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    write(&dir, name, KUBE_TOKEN)
}

#[test]
fn clients_refuse_a_token_over_plain_http_to_another_host() {
    let token = token_file("refused");
    for url in ["http://10.0.0.5:8080", "http://api.example.com"] {
        let err = kube::Client::new(KubeConfig {
            token_file: Some(token.clone()),
            ..KubeConfig::new(url)
        })
        .expect_err(url);
        let text = err.to_string();
        assert!(matches!(err, ConfigError { .. }), "{err:?}");
        assert!(text.contains(url), "{text}");
        assert!(text.contains("-allow-insecure-http"), "{text}");
        let err = prom::Client::new(PromOptions {
            base_url: url.to_string(),
            bearer_token_file: Some(token.clone()),
            ..PromOptions::default()
        })
        .expect_err(url);
        let text = err.to_string();
        assert!(matches!(err, PromError::Config { .. }), "{err:?}");
        assert!(text.contains(url), "{text}");
        assert!(text.contains("-allow-insecure-http"), "{text}");
    }
}

#[test]
fn plain_http_is_fine_on_loopback_without_a_token_or_when_allowed() {
    let token = token_file("allowed");
    for (url, token_file, allow) in [
        ("http://127.0.0.1:8001", Some(&token), false),
        ("http://[::1]:8001", Some(&token), false),
        ("http://localhost:8001", Some(&token), false),
        ("https://10.0.0.5:6443", Some(&token), false),
        ("http://10.0.0.5:8080", None, false),
        ("http://10.0.0.5:8080", Some(&token), true),
    ] {
        let config = KubeConfig {
            token_file: token_file.cloned(),
            allow_insecure_http: allow,
            ..KubeConfig::new(url)
        };
        assert!(kube::Client::new(config).is_ok(), "{url}");
        let options = PromOptions {
            base_url: url.to_string(),
            bearer_token_file: token_file.cloned(),
            allow_insecure_http: allow,
            ..PromOptions::default()
        };
        assert!(prom::Client::new(options).is_ok(), "{url}");
    }
    // The default Prometheus URL is plain http, with no token.
    assert!(prom::Client::new(PromOptions::default()).is_ok());
}

/// Not in the cluster of the test: refused before any connection is made.
const ELSEWHERE: &str = "http://192.0.2.10:9090";

#[test]
fn the_binary_refuses_a_prometheus_token_in_clear_at_start() {
    let fake = FakeApiServer::start();
    fake.set_tokens(&[KUBE_TOKEN]);
    let mut run = Run::start(&fake.url(), ELSEWHERE, &[]);
    let exit = run.wait_exit(START_TIMEOUT);
    assert_eq!(
        exit.and_then(|status| status.code()),
        Some(1),
        "a configuration error\n{}",
        run.tail()
    );
    let log = run.log();
    assert!(log.contains(ELSEWHERE), "{log}");
    assert!(log.contains("-allow-insecure-http"), "{log}");
}

#[test]
fn allow_insecure_http_starts_with_a_warning() {
    // No MemHpa: nothing to ask Prometheus, so ELSEWHERE is never contacted.
    let fake = FakeApiServer::start();
    fake.set_tokens(&[KUBE_TOKEN]);
    let mut run = Run::start(&fake.url(), ELSEWHERE, &["-allow-insecure-http"]);
    let warning = format!("the Prometheus token travels in clear over plain http to {ELSEWHERE}");
    poll_until(
        START_TIMEOUT,
        "the warning",
        || run.log().contains(&warning).then_some(()),
        || run.tail(),
    );
    let exit = run.terminate();
    assert!(exit.is_some_and(|status| status.success()), "{exit:?}");
}
