//! One measured setup: a fresh fake API server holding its layout (with the
//! setup's injected latency per request) and a stub Prometheus, then up to
//! two memhpa children in turn.
//!
//! 1. The footprint child logs at `info`, as in production: first full pass,
//!    warm-up, a window for CPU / requests / queries touched only by one
//!    scrape at each end, then the memory figures.
//! 2. The timing child also logs each worker's per-MemHpa debug line, whose
//!    arrival times show how long a tick's work takes. Its CPU is not
//!    measured, so the extra logging costs the figures nothing.
//!
//! memhpa's /metrics cannot time a tick itself: its server polls accept every
//! 50 ms and answers one request per connection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bursts::tick_spans;
use crate::child::{clock_ticks_per_second, Child, Scrape, Scraper};
use crate::cluster::{self, Layout};
use crate::kubesupport::{FakeApiServer, Recorded, TOKEN};
use crate::prom_stub::PromStub;

pub const WORKERS: usize = 4;
/// Ticks let pass after the first pass before anything is measured.
const WARM_UP_TICKS: u32 = 2;
/// Ticks of the CPU / requests window.
const MEASURED_TICKS: u32 = 5;
/// Ticks the timing child is watched for.
const TIMED_TICKS: u32 = 3;
const FIRST_PASS_LIMIT: Duration = Duration::from_secs(180);
const FOOTPRINT_LOG: &str = "info";
const TIMING_LOG: &str = "info,memhpa::controller::workers=debug";

/// What is measured, and how.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub layout: Layout,
    pub resync: Duration,
    /// Injected before every answer of the fake (`set_latency`).
    pub latency: Duration,
    /// The footprint child: CPU, requests, memory.
    pub footprint: bool,
    /// The timing child: the wall time of a tick.
    pub timing: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub first_pass: Duration,
    pub first_pass_requests: usize,
    /// VmHWM when the first pass is done.
    pub first_pass_hwm_kib: Option<u64>,
    pub window: Window,
    pub hwm_kib: Option<u64>,
    pub rss_kib: Option<u64>,
    pub threads: Option<u64>,
    pub timing: Timing,
}

/// What the footprint child's steady window showed.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Reconcile passes over every MemHpa in the window.
    pub ticks: f64,
    pub api_per_tick: f64,
    /// Requests per tick by kind (`get scale`, `list pods`, ...).
    pub api_kinds: BTreeMap<&'static str, f64>,
    pub prom_per_tick: f64,
    /// TCP connections the fake / the stub accepted per tick.
    pub api_connections_per_tick: f64,
    pub prom_connections_per_tick: f64,
    pub cpu_ms_per_tick: f64,
    pub failed_reconciles: u64,
}

/// What the timing child showed.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Worker wall time per MemHpa (memhpa_reconcile_duration_seconds).
    pub per_memhpa: Option<Duration>,
    /// One namespace job: `per_memhpa` times the MemHpas of a namespace.
    pub per_job: Option<Duration>,
    /// First to last completion line of each whole tick, shortest first.
    pub spans: Vec<Duration>,
}

impl Timing {
    /// A tick's wall time: the median span plus the first job, which ran
    /// before the first completion line.
    pub fn tick(&self) -> Option<Duration> {
        Some(*self.spans.get(self.spans.len() / 2)? + self.per_job?)
    }
}

/// The bearer token memhpa reads, removed when dropped.
struct TokenFile(PathBuf);

/// Where this process keeps the token file, one at a time.
pub fn token_path() -> PathBuf {
    std::env::temp_dir().join(format!("memhpa-bench-token-{}", std::process::id()))
}

impl TokenFile {
    fn write() -> Result<TokenFile, String> {
        let path = token_path();
        std::fs::write(&path, TOKEN).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TokenFile(path))
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where the children connect.
pub struct Endpoints {
    pub fake: FakeApiServer,
    pub prom: PromStub,
    token: TokenFile,
}

impl Endpoints {
    /// A fake holding `layout`, a stub Prometheus and the token file.
    pub fn start(layout: Layout) -> Result<Endpoints, String> {
        let fake = FakeApiServer::start();
        cluster::populate(&fake, layout);
        Ok(Endpoints {
            fake,
            prom: PromStub::start(cluster::USAGE_BYTES)
                .map_err(|e| format!("stub Prometheus: {e}"))?,
            token: TokenFile::write()?,
        })
    }

    pub fn args(&self, resync: Duration) -> Result<Vec<String>, String> {
        let args = [
            "-apiserver".to_string(),
            self.fake.url(),
            "-token-file".to_string(),
            self.token.0.to_string_lossy().into_owned(),
            "-prom-url".to_string(),
            self.prom.url(),
            "-leader-elect=false".to_string(),
            "-resync".to_string(),
            format!("{}ms", resync.as_millis()),
            "-metrics-addr".to_string(),
            format!("127.0.0.1:{}", free_port()?),
            "-workers".to_string(),
            std::env::var("BENCH_WORKERS").unwrap_or_else(|_| WORKERS.to_string()),
        ];
        Ok(args.to_vec())
    }
}

pub fn run(binary: &Path, setup: Setup) -> Result<Figures, String> {
    let endpoints = Endpoints::start(setup.layout)?;
    endpoints.fake.set_latency(setup.latency);
    let mut figures = if setup.footprint {
        footprint(binary, &endpoints, setup)?
    } else {
        Figures::default()
    };
    if setup.timing {
        figures.timing =
            timing(binary, &endpoints, setup).map_err(|e| format!("timing child: {e}"))?;
    }
    Ok(figures)
}

fn footprint(binary: &Path, endpoints: &Endpoints, setup: Setup) -> Result<Figures, String> {
    let (layout, resync) = (setup.layout, setup.resync);
    let fake = &endpoints.fake;
    let started = Instant::now();
    // Killed when it goes out of scope, on every path out of here.
    let mut child = Child::spawn(binary, &endpoints.args(resync)?, FOOTPRINT_LOG)?;
    let scraper = Scraper::new(&child.metrics_addr(Duration::from_secs(10))?);
    let n = layout.memhpas;
    wait_for(&mut child, FIRST_PASS_LIMIT, || {
        cluster::with_status(fake) >= n
    })
    .map_err(|e| format!("first pass: {e}"))?;
    let first_pass = started.elapsed();
    let first_pass_requests = fake.count("*", "");
    let first_pass_hwm_kib = child.status_field("VmHWM");

    sleep_watching(&mut child, resync * WARM_UP_TICKS)?;
    let window = steady_window(&mut child, endpoints, &scraper, n, resync)?;
    Ok(Figures {
        first_pass,
        first_pass_requests,
        first_pass_hwm_kib,
        window,
        hwm_kib: child.status_field("VmHWM"),
        rss_kib: child.status_field("VmRSS"),
        threads: child.status_field("Threads"),
        timing: Timing::default(),
    })
}

/// CPU, API requests and Prometheus queries over [`MEASURED_TICKS`].
fn steady_window(
    child: &mut Child,
    endpoints: &Endpoints,
    scraper: &Scraper,
    n: usize,
    resync: Duration,
) -> Result<Window, String> {
    let Endpoints { fake, prom, .. } = endpoints;
    // The window opens and closes between ticks, so no reconcile is half in
    // it: one caught between its Scale GET and its count would show as an
    // extra request per tick.
    between_ticks(child, fake, resync)?;
    fake.clear_requests();
    let queries_before = prom.queries();
    let (api_conns_before, prom_conns_before) = (fake.connections_accepted(), prom.connections());
    let cpu_before = child.cpu_ticks()?;
    let before = scraper.scrape()?;
    sleep_watching(child, resync * MEASURED_TICKS)?;
    between_ticks(child, fake, resync)?;
    let after = scraper.scrape()?;
    let cpu_after = child.cpu_ticks()?;
    let queries = prom.queries() - queries_before;
    let api_connections = fake.connections_accepted() - api_conns_before;
    let prom_connections = prom.connections() - prom_conns_before;
    let requests = fake.requests();

    let reconciles = after.reconciles().saturating_sub(before.reconciles());
    let ticks = reconciles as f64 / n as f64;
    if ticks < 1.0 {
        return Err(format!(
            "only {reconciles} reconciles of {n} MemHpas in {:?}: no full tick",
            resync * MEASURED_TICKS
        ));
    }
    let mut api_kinds = BTreeMap::new();
    for r in &requests {
        *api_kinds.entry(request_kind(r)).or_insert(0.0) += 1.0 / ticks;
    }
    let cpu_seconds = cpu_after.saturating_sub(cpu_before) as f64 / clock_ticks_per_second();
    Ok(Window {
        ticks,
        api_per_tick: requests.len() as f64 / ticks,
        api_kinds,
        prom_per_tick: queries as f64 / ticks,
        api_connections_per_tick: api_connections as f64 / ticks,
        prom_connections_per_tick: prom_connections as f64 / ticks,
        cpu_ms_per_tick: cpu_seconds * 1e3 / ticks,
        failed_reconciles: after.failed().saturating_sub(before.failed()),
    })
}

/// How long the fake must hear nothing for the controller to be between ticks.
const QUIET: Duration = Duration::from_millis(250);

/// Waits, at most two resync periods, until the fake has heard no request
/// for [`QUIET`].
fn between_ticks(child: &mut Child, fake: &FakeApiServer, resync: Duration) -> Result<(), String> {
    let deadline = Instant::now() + resync * 2;
    let mut heard = fake.requests().len();
    while Instant::now() < deadline {
        sleep_watching(child, QUIET)?;
        let now = fake.requests().len();
        if now == heard {
            return Ok(());
        }
        heard = now;
    }
    Err(format!(
        "the fake never went quiet for {QUIET:?} within {:?}",
        resync * 2
    ))
}

fn timing(binary: &Path, endpoints: &Endpoints, setup: Setup) -> Result<Timing, String> {
    let (layout, resync) = (setup.layout, setup.resync);
    let n = layout.memhpas;
    let mut child = Child::spawn(binary, &endpoints.args(resync)?, TIMING_LOG)?;
    let scraper = Scraper::new(&child.metrics_addr(Duration::from_secs(10))?);
    // Its first pass: every MemHpa is new to it.
    wait_for(&mut child, FIRST_PASS_LIMIT, || {
        scraper.scrape().is_ok_and(|s| s.reconciles() >= n as u64)
    })?;
    sleep_watching(&mut child, resync)?;
    let before = scraper.scrape()?;
    child.take_completions();
    sleep_watching(&mut child, resync * TIMED_TICKS + resync / 2)?;
    let completions = child.take_completions();
    let after = scraper.scrape()?;
    let per_memhpa = busy_per_reconcile(&before, &after);
    let per_namespace = n.div_ceil(layout.namespaces) as u32;
    Ok(Timing {
        per_memhpa,
        per_job: per_memhpa.map(|d| d * per_namespace),
        spans: tick_spans(&completions, n, resync / 2),
    })
}

fn busy_per_reconcile(before: &Scrape, after: &Scrape) -> Option<Duration> {
    let count = after.duration_count.checked_sub(before.duration_count)?;
    let sum = after.duration_sum - before.duration_sum;
    (count > 0 && sum >= 0.0).then(|| Duration::from_secs_f64(sum / count as f64))
}

/// Polls `done` every 20 ms until it holds, the child dies, or `limit` passes.
pub fn wait_for(
    child: &mut Child,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return Ok(());
        }
        child.check_alive()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "not done within {limit:?}; memhpa's log:\n{}",
        child.tail()
    ))
}

/// Sleeps `span`, checking every 100 ms that the child still runs.
pub fn sleep_watching(child: &mut Child, span: Duration) -> Result<(), String> {
    let end = Instant::now() + span;
    while let Some(left) = end
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        child.check_alive()?;
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
    child.check_alive()
}

/// A port nothing listened on a moment ago. memhpa's `-metrics-addr` refuses
/// port 0 ("expected a port from 1 to 65535"), so the bench picks one; the
/// address used is still read back from the child's log.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn request_kind(r: &Recorded) -> &'static str {
    let path = r.path.as_str();
    match r.method.as_str() {
        _ if r.is_watch() => "watch",
        "GET" if path.ends_with("/scale") => "get scale",
        "GET" if path == "/api/v1/pods" => "list pods (cache)",
        "GET" if path.ends_with("/pods") => "list pods",
        "GET" if path.ends_with("/memhpas") => "list memhpas",
        "PUT" | "PATCH" if path.ends_with("/scale") => "write scale",
        "PUT" | "PATCH" if path.ends_with("/status") => "write status",
        "POST" | "PATCH" if path.contains("/events") => "event",
        _ => "other",
    }
}
