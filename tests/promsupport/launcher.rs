//! Starts a real Prometheus on 127.0.0.1 scraping one target every second.
//!
//! Prometheus runs under a small `sh` guard that holds our end of a pipe: when
//! the pipe closes (the handle is dropped, or the test process exits without
//! dropping a shared `static` handle) the guard stops Prometheus and removes the
//! temporary directory. So no test leaves a Prometheus or its data behind.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long Prometheus may take to start and to have scraped its target. The
/// machine is shared and slow; a normal start takes a few seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

/// The guard: start the command, print its pid, wait for a line (or EOF) on
/// stdin, then stop it, and remove the directory unless the line was `keep`.
const GUARD_SCRIPT: &str = r#"
dir="$1"; shift
"$@" >>"$dir/prometheus.log" 2>&1 &
child=$!
echo "$child"
IFS= read -r line
kill "$child" 2>/dev/null
kill -CONT "$child" 2>/dev/null
wait "$child"
if [ "$line" != keep ]; then rm -rf "$dir"; fi
"#;

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// The Prometheus binary: on PATH, else /usr/bin/prometheus.
pub fn find_binary() -> Option<PathBuf> {
    find_tool("prometheus")
}

/// A Prometheus tool (`prometheus`, `promtool`): on PATH, else in /usr/bin.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([Path::new("/usr/bin").join(name)])
        .find(|candidate| candidate.is_file())
}

/// The binary, or `None` after printing why the test is skipped. Under CI
/// (`CI=true`) a missing binary fails the test instead: CI must run these.
pub fn binary_or_skip() -> Option<PathBuf> {
    tool_or_skip("prometheus")
}

/// [`binary_or_skip`] for any of the tools, `promtool` too.
pub fn tool_or_skip(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "{name} is not installed (not on PATH, not /usr/bin/{name}), and CI=true: install Debian's \
             `prometheus` package so the real-Prometheus tests run"
        );
        println!("skipping: {name} not installed");
    }
    found
}

/// The certificate Prometheus serves, and the CA that signed it.
#[derive(Clone, Debug)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl ServerTls {
    /// The checked-in test PKI (tests/promsupport/tls): a CA valid until 2126 and
    /// a server certificate for 127.0.0.1 signed by it. Test use only.
    pub fn test_pki() -> ServerTls {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promsupport/tls");
        ServerTls {
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
            ca: dir.join("ca.pem"),
        }
    }
}

pub struct Prometheus {
    binary: PathBuf,
    tls: Option<ServerTls>,
    dir: PathBuf,
    port: u16,
    guard: Option<Child>,
    pid: u32,
    /// Whether it scrapes the exporter, so a start waits for a first scrape.
    scrapes: bool,
}

/// Keeps backfilled blocks however old: the default (15 days) is counted
/// from the newest block, but a long one costs nothing here.
const BACKFILL_RETENTION: &str = "--storage.tsdb.retention.time=10y";

impl Prometheus {
    /// Starts Prometheus scraping `target`, and waits until it is ready and has
    /// data for `container_memory_working_set_bytes`.
    pub fn start(binary: &Path, target: SocketAddr) -> Prometheus {
        Prometheus::start_with(binary, target, None)
    }

    /// As [`Prometheus::start`], serving https with `tls`.
    pub fn start_tls(binary: &Path, target: SocketAddr, tls: ServerTls) -> Prometheus {
        Prometheus::start_with(binary, target, Some(tls))
    }

    fn start_with(binary: &Path, target: SocketAddr, tls: Option<ServerTls>) -> Prometheus {
        let dir = temp_dir();
        std::fs::write(dir.join("prometheus.yml"), config(target)).expect("write prometheus.yml");
        if let Some(tls) = &tls {
            std::fs::write(dir.join("web.yml"), web_config(tls)).expect("write web.yml");
        }
        let mut prometheus = Prometheus {
            binary: binary.to_path_buf(),
            tls,
            dir,
            port: free_port(),
            guard: None,
            pid: 0,
            scrapes: true,
        };
        prometheus.launch();
        prometheus
    }

    /// Starts Prometheus on a history written as OpenMetrics text (samples
    /// with timestamps, ending in `# EOF`), backfilled with `promtool tsdb
    /// create-blocks-from openmetrics`. It scrapes nothing. Backfilling
    /// needs the samples older than the head block (about 2 hours).
    pub fn start_backfilled(binary: &Path, promtool: &Path, openmetrics: &str) -> Prometheus {
        let dir = temp_dir();
        let input = dir.join("history.om");
        std::fs::write(&input, openmetrics).expect("write the OpenMetrics history");
        let output = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(dir.join("data"))
            .output()
            .expect("run promtool");
        assert!(
            output.status.success(),
            "promtool tsdb create-blocks-from openmetrics failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(
            dir.join("prometheus.yml"),
            "global:\n  evaluation_interval: 1m\n",
        )
        .expect("write prometheus.yml");
        let mut prometheus = Prometheus {
            binary: binary.to_path_buf(),
            tls: None,
            dir,
            port: free_port(),
            guard: None,
            pid: 0,
            scrapes: false,
        };
        prometheus.launch();
        prometheus
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGSTOP: the port stays open, so the kernel accepts connections but
    /// nothing answers them — a hung Prometheus.
    pub fn pause(&self) {
        signal(self.pid, "-STOP");
    }

    pub fn resume(&self) {
        signal(self.pid, "-CONT");
    }

    /// Stops Prometheus and keeps its data and port for [`Prometheus::restart`].
    pub fn stop(&mut self) {
        self.shut_down(b"keep\n");
    }

    /// Starts it again on the same port with the same data, and waits for data.
    pub fn restart(&mut self) {
        self.shut_down(b"keep\n");
        self.launch();
    }

    /// The tail of Prometheus' own log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn launch(&mut self) {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(GUARD_SCRIPT)
            .arg("memhpa-prom-guard")
            .arg(&self.dir)
            .arg(&self.binary)
            .arg(format!(
                "--config.file={}",
                self.dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-lifecycle");
        if !self.scrapes {
            command.arg(BACKFILL_RETENTION);
        }
        if self.tls.is_some() {
            command.arg(format!(
                "--web.config.file={}",
                self.dir.join("web.yml").display()
            ));
        }
        let mut guard = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh for prometheus");
        let pid_line = guard
            .stdout
            .take()
            .and_then(|out| BufReader::new(out).lines().next())
            .and_then(Result::ok);
        self.pid = pid_line
            .and_then(|line| line.trim().parse().ok())
            .expect("the guard prints prometheus' pid");
        self.guard = Some(guard);
        self.wait_until(Prometheus::ready, "/-/ready");
        if self.scrapes {
            self.wait_until(Prometheus::has_data, "a first scrape of the exporter");
        }
    }

    fn shut_down(&mut self, line: &[u8]) {
        if let Some(mut guard) = self.guard.take() {
            if let Some(mut stdin) = guard.stdin.take() {
                let _ = stdin.write_all(line);
            }
            let _ = guard.wait();
        }
    }

    fn wait_until(&mut self, check: fn(&Prometheus) -> bool, what: &str) {
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if check(self) {
                return;
            }
            let exited = self
                .guard
                .as_mut()
                .and_then(|guard| guard.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "prometheus exited while waiting for {what}; log:\n{}",
                self.log_tail()
            );
            thread::sleep(POLL);
        }
        panic!(
            "prometheus did not reach {what} within {START_TIMEOUT:?}; log:\n{}",
            self.log_tail()
        );
    }

    fn ready(&self) -> bool {
        let answer = self.agent().get(&format!("{}/-/ready", self.url())).call();
        answer
            .map(|response| response.status() == 200)
            .unwrap_or(false)
    }

    fn has_data(&self) -> bool {
        let url = format!("{}/api/v1/query", self.url());
        let answer = self
            .agent()
            .post(&url)
            .send_form([("query", "count(container_memory_working_set_bytes)")]);
        let Ok(mut response) = answer else {
            return false;
        };
        let body = response.body_mut().read_to_string().unwrap_or_default();
        body.contains("\"result\":[{")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if self.guard.is_some() {
            // Closing the pipe without `keep` makes the guard remove the directory.
            self.shut_down(b"");
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Prometheus {
    /// An agent for the readiness checks, trusting the test CA under https.
    fn agent(&self) -> ureq::Agent {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .proxy(None);
        if let Some(tls) = &self.tls {
            let pem = std::fs::read(&tls.ca).expect("read the test CA");
            let cert = ureq::tls::Certificate::from_pem(&pem).expect("parse the test CA");
            let roots = ureq::tls::RootCerts::new_with_certs(&[cert]);
            builder = builder.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        builder.build().new_agent()
    }
}

fn web_config(tls: &ServerTls) -> String {
    format!(
        "tls_server_config:\n  cert_file: {:?}\n  key_file: {:?}\n",
        tls.cert, tls.key
    )
}

fn config(target: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
scrape_configs:\n  - job_name: cadvisor\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

/// A fresh directory with an empty `data` inside, for one instance.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "memhpa-prom-test-{}-{}",
        std::process::id(),
        INSTANCES.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(dir.join("data")).expect("create the temp dir");
    dir
}

/// A port that was free a moment ago: bind port 0, note it, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}
