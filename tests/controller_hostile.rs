//! The controller in-process against a fake kube-apiserver that misbehaves
//! (issue 8): watches that never get anywhere, a Scale PUT whose answer is
//! lost, leadership lost in the middle of a reconcile.
//!
//! The hot-loop tests count requests over a fixed window instead of timing
//! anything: with the watch backoff starting at 500 ms and doubling, a window
//! of 3 s has room for about four attempts; a hot loop makes hundreds.

mod controllersupport;
mod httpsupport;
mod kubesupport;

use std::thread;
use std::time::Duration;

use controllersupport::{condition, memhpa, Harness, Options, WAIT};

/// How long the hot-loop tests let the controller run.
const WINDOW: Duration = Duration::from_secs(3);
/// Most attempts the window may see with a 500 ms doubling backoff: four or
/// five are expected; a loop without backoff makes well over fifty.
const MAX_ATTEMPTS: usize = 10;

/// Runs the controller for the window against a fake set up by `fault`.
fn run_for_window(fault: impl FnOnce(&Harness)) -> Harness {
    let mut h = Harness::new();
    fault(&h);
    h.start(Options::default());
    thread::sleep(WINDOW);
    h
}

#[test]
fn a_watch_answered_http_410_every_time_backs_off() {
    let h = run_for_window(|h| {
        h.server.set_expired_as_http_410(true);
        h.server.expire_next_watches(100_000);
    });
    let lists = h.relists();
    eprintln!("{lists} lists in {WINDOW:?}");
    assert!(lists >= 1, "{}", h.log_tail(20));
    assert!(
        lists <= MAX_ATTEMPTS,
        "{lists} lists in {WINDOW:?}\n{}",
        h.log_tail(20)
    );
}

#[test]
fn a_watch_expired_in_the_stream_every_time_backs_off() {
    let h = run_for_window(|h| h.server.expire_next_watches(100_000));
    let lists = h.relists();
    eprintln!("{lists} lists in {WINDOW:?}");
    assert!(lists >= 1, "{}", h.log_tail(20));
    assert!(
        lists <= MAX_ATTEMPTS,
        "{lists} lists in {WINDOW:?}\n{}",
        h.log_tail(20)
    );
}

#[test]
fn a_watch_that_ends_after_one_bookmark_backs_off() {
    let h = run_for_window(|h| {
        h.server.set_bookmark_interval(Duration::from_millis(50));
        h.server.end_watches_after_bookmarks(Some(1));
    });
    let watches = h.watches().len();
    eprintln!("{watches} watches in {WINDOW:?}");
    assert!(watches >= 1, "{}", h.log_tail(20));
    assert!(
        watches <= MAX_ATTEMPTS,
        "{watches} watches in {WINDOW:?}\n{}",
        h.log_tail(20)
    );
    assert_eq!(h.relists(), 1, "a bookmark keeps the version; no relist");
}

/// The first PUT lands but its answer is lost; the client sends it again
/// with the same resourceVersion and gets 409. The Scale showing our count is
/// a success: SucceededRescale, a SuccessfulRescale Event, no FailedUpdateScale.
#[test]
fn a_scale_put_whose_answer_was_lost_is_a_success() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.server.lose_next_responses("PUT", "/scale", 1);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));

    h.wait_until("the status of shop/web written", WAIT, || {
        h.observed_current("shop", "web")
    });
    assert_eq!(h.replicas("shop", "web"), Some(4));
    assert!(
        h.scale_writes("shop", "web") >= 2,
        "the lost PUT was sent again\n{}",
        h.log_tail(30)
    );
    let m = h.memhpa("shop", "web");
    assert_eq!(
        condition(&m, "AbleToScale").map(|c| (c.0, c.1)),
        Some(("True".into(), "SucceededRescale".into())),
        "{}",
        m["status"]
    );
    assert!(m["status"]["lastScaleTime"].is_string(), "{}", m["status"]);
    h.wait_until("a SuccessfulRescale Event", WAIT, || {
        !h.events("shop", "SuccessfulRescale").is_empty()
    });
    assert!(h.events("shop", "FailedUpdateScale").is_empty());
}

/// Leadership goes while the reconcile waits for Prometheus, in a case with
/// no rescale to make: neither the status nor an Event may be written.
#[test]
fn leadership_lost_mid_reconcile_writes_no_status() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 50.0);
    h.start(Options::default());
    let leadership = h.leadership();
    h.usage.on_query(move || leadership.set(false));
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));

    h.wait_until("one reconcile finished", WAIT, || h.reconciles() >= 1);
    assert_eq!(h.usage.calls(), 1, "the reconcile reached the query");
    assert_eq!(
        h.status_writes("shop", "web"),
        0,
        "a follower wrote the status\n{}",
        h.log_tail(20)
    );
    assert_eq!(h.count(|r| r.path.contains("/events")), 0);
    assert_eq!(h.scale_writes("shop", "web"), 0);
}

/// `-resync=1ns` through the library: ticks coalesce and the ticker keeps
/// its floor (100 ms), so the window sees at most one reconcile per floor
/// period, not one per nanosecond.
#[test]
fn a_nanosecond_resync_is_no_hot_loop() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 50.0);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.start(Options::resync(Duration::from_nanos(1)));
    thread::sleep(WINDOW);
    let reads = h.scale_reads("shop", "web");
    eprintln!("{reads} reconciles (Scale reads) in {WINDOW:?}");
    // 3 s / 100 ms = 30 ticks, one reconcile each, plus the first.
    assert!(reads <= 40, "{reads} reconciles in {WINDOW:?}");
}
