//! The controller in-process against the fake kube-apiserver (issue 3, "Must
//! show"): every test runs `Controller::run` with a real `kube::Client` on its
//! own fake, Prometheus being a stub, and judges the controller by what the
//! fake saw: its objects, its Events and its request log.
//!
//! Every app pod has one container with a 100Mi limit; "2 pods at 80%, target
//! 50%" means utilization 80, ratio 1.6, so 2 replicas become ceil(1.6 * 2) = 4.

mod controllersupport;
mod kubesupport;

use std::time::Duration;

use controllersupport::{condition, memhpa, Harness, Options, WAIT};

/// Create -> Scale written by the first reconcile (the tick is an hour away),
/// status complete, a SuccessfulRescale Event from memhpa.
#[test]
fn a_new_memhpa_is_scaled_by_its_first_reconcile() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));

    h.wait_until("Deployment shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4)
    });
    h.wait_until("the status of shop/web written", WAIT, || {
        h.observed_current("shop", "web")
    });
    let m = h.memhpa("shop", "web");
    let status = &m["status"];
    assert_eq!(status["currentReplicas"], 2, "{status}");
    assert_eq!(status["desiredReplicas"], 4, "{status}");
    assert_eq!(status["currentUtilizationPercentage"], 80, "{status}");
    assert_eq!(status["observedGeneration"], m["metadata"]["generation"]);
    assert!(status["lastScaleTime"].is_string(), "{status}");
    assert_eq!(
        condition(&m, "AbleToScale").map(|c| (c.0, c.1)),
        Some(("True".into(), "SucceededRescale".into())),
        "{status}"
    );
    assert_eq!(
        condition(&m, "ScalingActive").map(|c| (c.0, c.1)),
        Some(("True".into(), "ValidMetricFound".into())),
        "{status}"
    );
    assert_eq!(h.scale_writes("shop", "web"), 1, "{}", h.log_tail(30));

    h.wait_until("a SuccessfulRescale Event", WAIT, || {
        !h.events("shop", "SuccessfulRescale").is_empty()
    });
    let events = h.events("shop", "SuccessfulRescale");
    let e = &events[0];
    assert_eq!(e["source"]["component"], "memhpa", "{e}");
    assert_eq!(e["type"], "Normal", "{e}");
    assert_eq!(e["involvedObject"]["kind"], "MemHpa", "{e}");
    assert_eq!(e["involvedObject"]["name"], "web", "{e}");
    assert_eq!(
        e["message"],
        "New size: 4; reason: memory utilization (percentage of limit) above target"
    );
    let _ = Duration::ZERO;
}
