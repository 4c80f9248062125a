//! The log an operator tails: the memhpa binary, against the fake API server
//! and a stub Prometheus, logs one warning when a MemHpa's target is missing,
//! none on the reconciles after while it stays missing, and one info line
//! once the target exists.

#[path = "e2esupport/mod.rs"]
mod e2esupport;
#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "kubesupport/mod.rs"]
mod kubesupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::time::Duration;

use e2esupport::objects::{self, deployment_with_pods, fake_tail, scale_down_window, MI};
use e2esupport::process::{Launch, Memhpa};
use e2esupport::scrape;
use e2esupport::stubprom::StubProm;
use e2esupport::wait::poll_until;
use kubesupport::{FakeApiServer, TOKEN};

/// Reconciles of the faulty MemHpa to wait for before counting warnings:
/// enough that a warning per reconcile would show as several.
const FAULTY_RECONCILES: f64 = 4.0;
/// A debug binary on a loaded 2-core machine, at a 1 s resync, gets there in
/// a few seconds; the bound is only against a hang.
const WAIT: Duration = Duration::from_secs(60);

const BEGAN: &str = "demo/web: cannot autoscale: FailedGetScale: ";
const CLEARED: &str = "demo/web: autoscaling again: FailedGetScale cleared";

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

#[test]
fn a_missing_target_warns_once_while_it_persists_and_informs_when_it_clears() {
    let fake = FakeApiServer::start();
    let prom = StubProm::start();
    fake.create_memhpa(objects::memhpa(
        "demo",
        "web",
        "web",
        (1, 10),
        70,
        scale_down_window(0),
    ));
    let mut memhpa = Memhpa::start(
        Launch::new("memhpa", &fake.url(), TOKEN, &prom.url()).flags(&[
            "-resync",
            "1s",
            "-leader-elect=false",
        ]),
    );
    let addr = memhpa.metrics_addr();
    let context = || format!("{}\n{}", memhpa.log_tail(30), fake_tail(&fake, 20));

    poll_until(
        WAIT,
        "several failed reconciles of demo/web",
        || {
            let text = scrape::metrics(addr)?;
            let errors = scrape::sample(&text, "memhpa_reconciles_total{result=\"error\"}")?;
            (errors >= FAULTY_RECONCILES).then_some(())
        },
        context,
    );
    let log = memhpa.log();
    assert_eq!(
        count(&log, BEGAN),
        1,
        "one warning for a fault that persists\n{}",
        context()
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("[WARN") && l.contains(BEGAN) && l.contains("does not exist")),
        "the warning is at WARN and carries the message\n{}",
        context()
    );
    assert_eq!(count(&log, CLEARED), 0, "{}", context());

    deployment_with_pods(&fake, "demo", "web", 2);
    for pod in objects::pod_names("web", 2) {
        prom.set("demo", &pod, 50.0 * MI);
    }
    poll_until(
        WAIT,
        "the fault to clear in the log",
        || (count(&memhpa.log(), CLEARED) == 1).then_some(()),
        context,
    );
    let log = memhpa.log();
    assert_eq!(count(&log, BEGAN), 1, "{}", context());
    assert!(
        log.lines()
            .any(|l| l.starts_with("[INFO") && l.contains(CLEARED)),
        "{}",
        context()
    );
}
