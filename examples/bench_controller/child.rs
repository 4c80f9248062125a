//! The memhpa process under measurement: spawned with its stderr piped into a
//! bounded tail (where the /metrics address is found), read through
//! /proc/PID/{stat,status}, and killed when dropped, whatever went wrong.
//! A signal that ends the bench skips every `Drop`, so
//! [`kill_children_on_signal`] covers SIGINT and SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the child's log kept for error messages.
const TAIL_LINES: usize = 40;
const ADDR_MARK: &str = "serving /metrics, /healthz and /readyz on ";
/// The debug line a worker logs per MemHpa when its namespace job ends.
const COMPLETION_MARK: &str = "memhpa::controller::workers] reconciled ";
/// Completion stamps kept between two `take_completions` (far above a run).
const MAX_COMPLETIONS: usize = 200_000;

/// PIDs of the children alive now, for the signal handler.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<u32>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// On SIGINT or SIGTERM, SIGKILLs the live children, runs `cleanup` and
/// exits 128+signal.
pub fn kill_children_on_signal(cleanup: impl FnOnce() + Send + 'static) -> Result<(), String> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("signal handler: {e}"))?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            for pid in live().iter() {
                // std has no kill(2) for a PID whose Child another thread owns.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            cleanup();
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

#[derive(Default)]
struct Log {
    tail: VecDeque<String>,
    metrics_addr: Option<String>,
    /// When each completion line arrived.
    completions: Vec<Instant>,
}

pub struct Child {
    process: std::process::Child,
    log: Arc<Mutex<Log>>,
}

impl Drop for Child {
    fn drop(&mut self) {
        // Forgotten first, so the handler never signals a reaped (reusable) PID.
        let pid = self.process.id();
        live().retain(|p| *p != pid);
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Child {
    /// Starts `binary` with `RUST_LOG=rust_log`.
    pub fn spawn(binary: &Path, args: &[String], rust_log: &str) -> Result<Child, String> {
        let mut process = Command::new(binary)
            .args(args)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        live().push(process.id());
        let log = Arc::new(Mutex::new(Log::default()));
        if let Some(stderr) = process.stderr.take() {
            let log = Arc::clone(&log);
            // Ends when the pipe closes, that is when the child is gone.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let arrived = Instant::now();
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    if line.contains(COMPLETION_MARK) {
                        if log.completions.len() < MAX_COMPLETIONS {
                            log.completions.push(arrived);
                        }
                        continue;
                    }
                    if log.metrics_addr.is_none() {
                        if let Some((_, addr)) = line.split_once(ADDR_MARK) {
                            log.metrics_addr = Some(addr.trim().to_string());
                        }
                    }
                    if log.tail.len() == TAIL_LINES {
                        log.tail.pop_front();
                    }
                    log.tail.push_back(line);
                }
            });
        }
        Ok(Child { process, log })
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// An error with the log's tail if the child has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.process.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "memhpa exited ({status}); its log:\n{}",
                self.tail()
            )),
            Err(e) => Err(format!("cannot wait for memhpa: {e}")),
        }
    }

    /// The address of /metrics, once the child has logged it.
    pub fn metrics_addr(&mut self, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(addr) = self.lock().metrics_addr.clone() {
                return Ok(addr);
            }
            self.check_alive()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "memhpa did not log \"{ADDR_MARK}ADDR\" within {within:?}; its log:\n{}",
            self.tail()
        ))
    }

    /// The arrival times of the completion lines since the last call.
    pub fn take_completions(&self) -> Vec<Instant> {
        std::mem::take(&mut self.lock().completions)
    }

    pub fn tail(&self) -> String {
        self.lock()
            .tail
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// utime + stime of every thread, in clock ticks.
    pub fn cpu_ticks(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // The command name may hold spaces and parentheses; the fields
        // proper start after its last ')', at field 3 (state).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| -> Result<u64, String> {
            fields
                .get(n - 3)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{path}: no field {n} in {stat:?}"))
        };
        Ok(field(14)? + field(15)?)
    }

    /// A line of /proc/PID/status: `VmHWM`, `VmRSS` (KiB), `Threads`.
    pub fn status_field(&self, name: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Clock ticks per second of /proc/PID/stat, from `getconf CLK_TCK`; Linux
/// has used 100 on every common architecture for decades.
pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .filter(|hz: &f64| *hz > 0.0)
        .unwrap_or(100.0)
}

/// What the bench reads from one scrape of /metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scrape {
    /// memhpa_reconciles_total by result.
    pub success: u64,
    pub error: u64,
    pub skipped: u64,
    /// memhpa_reconcile_duration_seconds: a namespace job's wall time shared
    /// out over its MemHpas, so the sum is the workers' busy time.
    pub duration_sum: f64,
    pub duration_count: u64,
}

impl Scrape {
    pub fn reconciles(&self) -> u64 {
        self.success + self.error + self.skipped
    }

    pub fn failed(&self) -> u64 {
        self.error + self.skipped
    }

    fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.trim().parse().unwrap_or(0.0);
            match series {
                "memhpa_reconciles_total{result=\"success\"}" => scrape.success = value as u64,
                "memhpa_reconciles_total{result=\"error\"}" => scrape.error = value as u64,
                "memhpa_reconciles_total{result=\"skipped\"}" => scrape.skipped = value as u64,
                "memhpa_reconcile_duration_seconds_sum" => scrape.duration_sum = value,
                "memhpa_reconcile_duration_seconds_count" => scrape.duration_count = value as u64,
                _ => {}
            }
        }
        scrape
    }
}

/// Scrapes /metrics. memhpa's server answers one request per connection and
/// turns clients away (503) while 16 connections linger, so a failed scrape
/// is retried a few times.
pub struct Scraper {
    agent: ureq::Agent,
    url: String,
}

impl Scraper {
    pub fn new(addr: &str) -> Scraper {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        Scraper {
            agent,
            url: format!("http://{addr}/metrics"),
        }
    }

    pub fn scrape(&self) -> Result<Scrape, String> {
        let mut last_error = String::new();
        for _ in 0..5 {
            match self.scrape_once() {
                Ok(scrape) => return Ok(scrape),
                Err(e) => last_error = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last_error)
    }

    fn scrape_once(&self) -> Result<Scrape, String> {
        let failed = |e: ureq::Error| format!("GET {}: {e}", self.url);
        let mut response = self.agent.get(&self.url).call().map_err(failed)?;
        if response.status() != 200 {
            return Err(format!("GET {}: HTTP {}", self.url, response.status()));
        }
        let text = response.body_mut().read_to_string().map_err(failed)?;
        Ok(Scrape::parse(&text))
    }
}
