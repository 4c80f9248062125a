//! The Kubernetes client against a hostile API server on 127.0.0.1 whose
//! list never ends: every page is 8 MiB and carries a new continue token.
//! The client must give up at its bound on a whole list, with an error that
//! names the path and the limit, and the memory of this process must stay
//! near that bound.
//!
//! The pages are streamed from one small buffer, so the server side holds
//! no 8 MiB string; what grows is only what the client keeps.

#[path = "httpsupport/mod.rs"]
mod httpsupport;

use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use memhpa::kube::{Client, ErrorKind, KubeConfig, KubeError};

/// Size of each page's one annotation value.
const PAD: usize = 8 * 1024 * 1024;

/// Pages served at most: well past the client's 32 MiB bound (4 pages),
/// so a client without the bound fails otherwise (refused connection) and
/// the test still ends.
const MAX_SERVED: usize = 12;

/// What the client's whole-list bound is documented to be.
const LIST_LIMIT_BYTES: u64 = 32 * 1024 * 1024;

/// A bound on this process's peak memory: the kept items (the bound) plus a
/// page being read and decoded, with room to spare.
const MAX_PEAK_RSS_KIB: u64 = 60 * 1024;

/// Serves page after page of one big MemHpa each, to any request, until
/// `max_served` pages.
fn endless_list_server(max_served: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    thread::spawn(move || {
        for page in 0..max_served {
            let Ok((mut reader, mut writer)) = httpsupport::accept(&listener) else {
                return;
            };
            if httpsupport::read_request(&mut reader).is_err() {
                return;
            }
            if write_page(&mut writer, page).is_err() {
                return;
            }
        }
    });
    url
}

fn write_page(writer: &mut TcpStream, page: usize) -> std::io::Result<()> {
    let head = format!(
        r#"{{"kind":"MemHpaList","apiVersion":"memhpa.io/v1","metadata":{{"resourceVersion":"1","continue":"next-{page}"}},"items":[{{"metadata":{{"name":"big-{page}","namespace":"demo","annotations":{{"pad":""#
    );
    let tail = r#""}}}]}"#;
    let length = head.len() + PAD + tail.len();
    write!(
        writer,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{head}"
    )?;
    let chunk = [b'x'; 64 * 1024];
    for _ in 0..PAD / chunk.len() {
        writer.write_all(&chunk)?;
    }
    writer.write_all(tail.as_bytes())?;
    writer.flush()
}

/// The peak resident set (VmHWM) of process `pid` ("self" for this one),
/// in KiB.
fn peak_rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_list_that_never_ends_stops_at_the_byte_bound() {
    let url = endless_list_server(MAX_SERVED);
    let client = Client::new(KubeConfig {
        request_timeout: Duration::from_secs(60),
        ..KubeConfig::new(&url)
    })
    .expect("client");
    let err = client.list_memhpas(None).expect_err("an endless list");
    let text = err.to_string();
    assert!(text.contains("/apis/memhpa.io/v1/memhpas"), "{text}");
    assert!(
        text.contains(&format!("{LIST_LIMIT_BYTES} bytes")),
        "the limit is named: {text}"
    );
    assert!(
        matches!(
            &err,
            KubeError { kind: ErrorKind::ListTooLarge { limit, unit: "bytes", pages, .. }, .. }
                if *limit == LIST_LIMIT_BYTES && *pages < MAX_SERVED
        ),
        "{err:?}"
    );
    assert!(
        !err.is_retryable(),
        "an immediate retry would only grow again"
    );
    let peak = peak_rss_kib("self");
    eprintln!("peak RSS (VmHWM) of the test process: {} MiB", peak / 1024);
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB is past {MAX_PEAK_RSS_KIB} KiB"
    );
}

/// What the controller logs when a list fails.
const LIST_FAILED: &str = "cannot list MemHpas: ";

/// A debug binary reading 32 MiB twice on a loaded 2-core machine, with
/// the backoff between.
const TWO_LISTS_TIMEOUT: Duration = Duration::from_secs(180);

/// The memhpa binary, killed on drop.
struct Binary {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Binary {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[test]
fn the_binary_backs_off_and_stays_alive_on_an_endless_list() {
    // Enough for two whole lists at the bound, and then some.
    let url = endless_list_server(3 * MAX_SERVED);
    let log = std::env::temp_dir().join(format!("memhpa-kube-bounds-{}.log", std::process::id()));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut binary = Binary {
        child: Command::new(env!("CARGO_BIN_EXE_memhpa"))
            .args(["-apiserver", &url, "-leader-elect=false"])
            .args(["-metrics-addr", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn memhpa"),
        log,
    };
    let start = Instant::now();
    while binary.log().matches(LIST_FAILED).count() < 2 {
        assert!(
            binary.child.try_wait().expect("try_wait").is_none(),
            "memhpa exited:\n{}",
            binary.log()
        );
        assert!(
            start.elapsed() < TWO_LISTS_TIMEOUT,
            "two failed lists within {TWO_LISTS_TIMEOUT:?}:\n{}",
            binary.log()
        );
        thread::sleep(Duration::from_millis(200));
    }
    let peak = peak_rss_kib(&binary.child.id().to_string());
    eprintln!(
        "peak RSS (VmHWM) of memhpa after two lists: {} MiB",
        peak / 1024
    );
    let text = binary.log();
    assert!(
        text.contains(&format!("limit of {LIST_LIMIT_BYTES} bytes")),
        "{text}"
    );
    assert!(
        binary.child.try_wait().expect("try_wait").is_none(),
        "alive after two failed lists"
    );
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB is past {MAX_PEAK_RSS_KIB} KiB"
    );
}
