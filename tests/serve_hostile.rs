//! Hostile clients of the `-metrics-addr` server: `/healthz` must keep
//! answering while a hundred slowloris connections trickle their heads.
//!
//! The assertion is a count (every probe answered 200) with a generous client
//! timeout, like the kubelet's; the latencies are printed for the README, never
//! asserted. Everything binds and connects to 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memhpa::metrics::Metrics;
use memhpa::serve::{self, Health};

/// More slow clients than the hundred.
const SLOW_CLIENTS: usize = 120;
/// More slow clients than the server has slots (256).
const MANY_SLOW_CLIENTS: usize = 400;
/// How often each slow client sends its next byte.
const TRICKLE: Duration = Duration::from_millis(500);
const PROBES: usize = 12;
/// Generous next to the manifest's 2 s liveness timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// The attack stops after this however the probes went: the test is bounded.
const ATTACK_LIMIT: Duration = Duration::from_secs(60);
/// Reconnections are bounded too (a server that drops every connection at
/// once must not make the attacker spin), per slow client.
const MAX_RECONNECTS_EACH: usize = 20;

/// The first bytes of a request head that never ends.
const SLOW_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nX-Slow: ";

fn start() -> serve::Server {
    serve::start(
        "127.0.0.1:0",
        Arc::new(Metrics::new()),
        Arc::new(Health::new(false)),
    )
    .expect("the server starts on 127.0.0.1")
}

/// One slowloris connection: it sends its first byte at once, then one a tick.
struct Slow {
    stream: Option<TcpStream>,
    sent: usize,
}

impl Slow {
    fn open(addr: SocketAddr) -> Slow {
        let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok();
        let mut slow = Slow { stream, sent: 0 };
        slow.trickle();
        slow
    }

    /// Sends the next byte; `false` when the server has closed the connection.
    fn trickle(&mut self) -> bool {
        let Some(stream) = self.stream.as_mut() else {
            return false;
        };
        let byte = SLOW_HEAD.get(self.sent).copied().unwrap_or(b'a');
        if stream.write_all(&[byte]).is_err() {
            self.stream = None;
            return false;
        }
        self.sent += 1;
        true
    }
}

/// What the attack thread did, for the report.
struct AttackReport {
    reconnects: usize,
    ticks: usize,
}

/// Keeps `SLOW_CLIENTS` connections trickling, reopening those the server
/// drops (as an attacker would), until `stop` or the time limit.
fn attack(addr: SocketAddr, count: usize, stop: &AtomicBool, ready: &AtomicBool) -> AttackReport {
    let started = Instant::now();
    let mut clients: Vec<Slow> = (0..count).map(|_| Slow::open(addr)).collect();
    ready.store(true, Ordering::SeqCst);
    let mut report = AttackReport {
        reconnects: 0,
        ticks: 0,
    };
    while !stop.load(Ordering::SeqCst) && started.elapsed() < ATTACK_LIMIT {
        thread::sleep(TRICKLE);
        report.ticks += 1;
        for client in &mut clients {
            if !client.trickle() && report.reconnects < MAX_RECONNECTS_EACH * count {
                report.reconnects += 1;
                *client = Slow::open(addr);
            }
        }
    }
    report
}

/// One liveness probe as the kubelet sends it; the status, or why none came.
fn probe(addr: SocketAddr) -> Result<u16, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| format!("timeouts: {e}"))?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nUser-Agent: kube-probe/1.30\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .take(4096)
        .read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {answer:?}"))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The process's resident memory, for the report (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Probes `/healthz` while `count` slow clients trickle; asserts that every
/// probe got 200 and prints the figures.
fn probe_under_slowloris(count: usize) {
    let server = start();
    let addr = server.local_addr();
    let idle_latency = {
        let started = Instant::now();
        assert_eq!(probe(addr), Ok(200), "an idle server answers");
        started.elapsed()
    };
    let rss_before = rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let attacker = {
        let (stop, ready) = (Arc::clone(&stop), Arc::clone(&ready));
        thread::spawn(move || attack(addr, count, &stop, &ready))
    };
    let wait_until = Instant::now() + ATTACK_LIMIT;
    while !ready.load(Ordering::SeqCst) && Instant::now() < wait_until {
        thread::sleep(Duration::from_millis(20));
    }
    // Let every slow connection be accepted and hold its slot.
    thread::sleep(2 * TRICKLE);

    let mut results = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        let started = Instant::now();
        let status = probe(addr);
        results.push((status, started.elapsed()));
        thread::sleep(PROBE_INTERVAL);
    }
    let rss_during = rss_kib();
    stop.store(true, Ordering::SeqCst);
    let report = attacker.join().expect("the attack thread ends");
    server.stop();

    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    eprintln!(
        "slowloris: {count} clients, one byte per {} ms, {} ticks, {} reconnects",
        TRICKLE.as_millis(),
        report.ticks,
        report.reconnects
    );
    eprintln!(
        "probe latency: idle {:.1} ms; under load min {:.1} / median {:.1} / max {:.1} ms",
        millis(idle_latency),
        millis(latencies[0]),
        millis(latencies[latencies.len() / 2]),
        millis(latencies[latencies.len() - 1])
    );
    eprintln!("test process VmRSS: before {rss_before:?} KiB, under load {rss_during:?} KiB");
    let answered = results.iter().filter(|(s, _)| *s == Ok(200)).count();
    assert_eq!(
        answered,
        PROBES,
        "probes: {:?}",
        results.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
}

#[test]
fn healthz_answers_under_a_hundred_slowloris_connections() {
    probe_under_slowloris(SLOW_CLIENTS);
}

/// Beyond the slots, a newcomer takes the slot of the oldest connection still
/// reading its head, so slow clients delay a probe but never starve it.
#[test]
fn healthz_answers_under_more_slowloris_connections_than_slots() {
    probe_under_slowloris(MANY_SLOW_CLIENTS);
}
