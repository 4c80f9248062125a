//! The memhpa binary as a child process: started with the flags a test
//! gives, its stderr (the log) kept in a file that can be read at any time,
//! its metrics port read from that log, and killed when the guard drops.

use std::cell::OnceCell;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::wait::POLL;

/// What the serve module logs once it has bound `-metrics-addr`.
const SERVING_LINE: &str = "serving /metrics, /healthz and /readyz on ";

/// How long a start may take to get to serving: a debug binary on a loaded
/// 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// How to start one memhpa.
pub struct Launch {
    /// Names the process in messages; also its `POD_NAME`, so its Lease
    /// holderIdentity is `NAME_xxxxxxxx`.
    pub name: String,
    pub apiserver: String,
    /// Written to a file of its own and passed as `-token-file`.
    pub token: String,
    pub prom_url: String,
    /// More flags, e.g. `-resync 2s`.
    pub flags: Vec<String>,
}

impl Launch {
    pub fn new(name: &str, apiserver: &str, token: &str, prom_url: &str) -> Launch {
        Launch {
            name: name.to_string(),
            apiserver: apiserver.to_string(),
            token: token.to_string(),
            prom_url: prom_url.to_string(),
            flags: Vec::new(),
        }
    }

    /// Appends flags, each as its own argument.
    pub fn flags(mut self, flags: &[&str]) -> Launch {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }
}

/// A running memhpa. Dropping it SIGKILLs it (if still running), reaps it and
/// removes its directory.
pub struct Memhpa {
    name: String,
    child: Child,
    dir: PathBuf,
    exit: Option<ExitStatus>,
    metrics: OnceCell<SocketAddr>,
}

impl Memhpa {
    /// Starts the binary with `-apiserver`, `-token-file`, `-prom-url`,
    /// `-metrics-addr 127.0.0.1:FREE` and `launch.flags`, logging at info.
    pub fn start(launch: Launch) -> Memhpa {
        let dir = std::env::temp_dir().join(format!(
            "memhpa-e2e-{}-{}-{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::SeqCst),
            launch.name
        ));
        std::fs::create_dir_all(&dir).expect("create the process directory");
        let token_file = dir.join("token");
        std::fs::write(&token_file, &launch.token).expect("write the token file");
        let log = File::create(dir.join("stderr.log")).expect("create the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_memhpa"))
            .arg("-apiserver")
            .arg(&launch.apiserver)
            .arg("-token-file")
            .arg(&token_file)
            .arg("-prom-url")
            .arg(&launch.prom_url)
            .arg("-metrics-addr")
            .arg(format!("127.0.0.1:{}", free_port()))
            .args(&launch.flags)
            .env("RUST_LOG", "info")
            .env("POD_NAME", &launch.name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn the memhpa binary");
        Memhpa {
            name: launch.name,
            child,
            dir,
            exit: None,
            metrics: OnceCell::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// The last `lines` lines of the log, headed by the process's name.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        format!(
            "--- {} stderr (last {lines} lines) ---\n{}",
            self.name,
            all[all.len().saturating_sub(lines)..].join("\n")
        )
    }

    /// The bound `/metrics` address, read from the log (waits for it).
    pub fn metrics_addr(&mut self) -> SocketAddr {
        if let Some(addr) = self.metrics.get() {
            return *addr;
        }
        let start = Instant::now();
        let addr = loop {
            if let Some(addr) = served_addr(&self.log()) {
                break addr;
            }
            if let Some(status) = self.try_exit() {
                panic!(
                    "{} exited ({status}) before serving /metrics\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "{} did not log its metrics address within {START_TIMEOUT:?}\n{}",
                self.name,
                self.log_tail(30)
            );
            thread::sleep(POLL);
        };
        *self.metrics.get_or_init(|| addr)
    }

    /// SIGTERM, as the kubelet sends on pod deletion.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// SIGKILL: no handler runs, nothing is released.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        self.exit = self.child.wait().ok();
    }

    /// The exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            thread::sleep(POLL / 4);
        }
        self.try_exit()
    }
}

impl Drop for Memhpa {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago. `-metrics-addr` refuses port 0, so
/// the test picks one; the serve module's log line still says what was bound.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The address from the serve module's "serving ... on ADDR" line.
fn served_addr(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let (_, rest) = line.split_once(SERVING_LINE)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
