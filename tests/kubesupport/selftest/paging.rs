//! Tests of tests/kubesupport/paging.rs.

use crate::kubesupport::paging::{limit, Continue};

#[test]
fn a_token_round_trips_in_the_real_servers_shape() {
    let token = Continue {
        rv: 567,
        after: "demo/web-1".into(),
    };
    let text = token.encode();
    assert_eq!(Continue::decode(&text).expect("decodes"), token);
    // What kube-apiserver 1.24 hands out for the same place.
    let real = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NTY3LCJzdGFydCI6ImRlbW8vd2ViLTFcdTAwMDAifQ";
    assert_eq!(text, real);
    assert_eq!(
        Continue::decode(real).expect("the real token decodes"),
        token
    );
}

#[test]
fn a_bad_token_is_400() {
    for bad in ["***", "e30", "eyJ2IjoieCJ9"] {
        let failure = Continue::decode(bad).expect_err(bad);
        assert_eq!(failure.code, 400, "{bad}");
        let message = failure.body["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with("continue key is not valid"),
            "{message}"
        );
    }
}

#[test]
fn limit_zero_or_negative_is_no_limit() {
    assert_eq!(limit(None).ok(), Some(None));
    assert_eq!(limit(Some("0")).ok(), Some(None));
    assert_eq!(limit(Some("-3")).ok(), Some(None));
    assert_eq!(limit(Some("500")).ok(), Some(Some(500)));
    assert_eq!(limit(Some("x")).err().map(|f| f.code), Some(400));
}
