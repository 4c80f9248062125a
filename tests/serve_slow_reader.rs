//! A slow reader of `/metrics` must not hold a connection thread for as long
//! as the body lasts: the answer has a deadline as a whole, not per write.
//!
//! In a file of its own so that this process holds no other server: the test
//! counts the server's connection threads by name. Everything binds and
//! connects to 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memhpa::metrics::Metrics;
use memhpa::serve::{self, Health};

/// How long the slow reader keeps reading before it gives up on the server.
const SLOW_READ_LIMIT: Duration = Duration::from_secs(20);
/// A read of 16 KiB per tick: a quarter of a loopback segment, so the
/// window opens (and the server makes progress) every few ticks.
const TICK: Duration = Duration::from_millis(100);
/// A `/metrics` body far larger than the slow reader drains in that time plus
/// what the loopback socket buffers hold.
const BIG_BODY: usize = 24 << 20;
/// The server names its connection threads so (Linux truncates to 15 bytes).
const CONNECTION_THREAD: &str = "metrics-conn";

/// Threads of this process named `name`, from /proc (Linux).
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// Enough MemHpas for a [`BIG_BODY`] answer, measured on a first thousand.
fn big_metrics() -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::new());
    let name = "n".repeat(250);
    let add = |from: usize, to: usize| {
        for i in from..to {
            metrics.set_memhpa("demo", &format!("{name}-{i}"), 1, 1, Some(50));
        }
    };
    add(0, 1000);
    let per_memhpa = metrics.render().len() / 1000;
    add(1000, BIG_BODY / per_memhpa.max(1) + 1);
    metrics
}

#[test]
fn a_slow_reader_does_not_hold_a_connection_thread() {
    if !std::path::Path::new("/proc/self/task").is_dir() {
        eprintln!("no /proc/self/task: cannot count threads, skipping");
        return;
    }
    let metrics = big_metrics();
    let body_len = metrics.render().len();
    let server = serve::start("127.0.0.1:0", metrics, Arc::new(Health::new(false)))
        .expect("the server starts on 127.0.0.1");
    let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(SLOW_READ_LIMIT))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n")
        .expect("send");

    let started = Instant::now();
    let mut received = 0usize;
    let mut seen_serving = false;
    let mut released_at = None;
    let mut chunk = [0u8; 16 * 1024];
    while started.elapsed() < SLOW_READ_LIMIT {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
        let serving = threads_named(CONNECTION_THREAD);
        seen_serving |= serving > 0;
        if seen_serving && serving == 0 {
            released_at = Some(started.elapsed());
            break;
        }
        thread::sleep(TICK);
    }
    eprintln!(
        "slow reader: body {body_len} bytes, received {received}; connection thread released after {:?}",
        released_at
    );
    server.stop();
    assert!(seen_serving, "the connection thread was never seen");
    assert!(
        released_at.is_some(),
        "the server was still writing to a slow reader after {SLOW_READ_LIMIT:?}"
    );
}
