//! Tests of tests/httpsupport/decode.rs.

use crate::httpsupport::decode::{form_decode, percent_decode, query_param};

#[test]
fn form_decode_plus_and_escapes() {
    assert_eq!(
        form_decode("app%3Dweb%2Ctier+in+%28a%29"),
        "app=web,tier in (a)"
    );
}

#[test]
fn percent_decode_keeps_plus() {
    assert_eq!(percent_decode("/a+b%2Fc"), "/a+b/c");
}

#[test]
fn bad_escape_kept() {
    assert_eq!(form_decode("100%zz%4"), "100%zz%4");
}

#[test]
fn query_param_first_match_decoded() {
    let query = "watch=1&labelSelector=app%3Dweb&labelSelector=x";
    assert_eq!(
        query_param(query, "labelSelector").as_deref(),
        Some("app=web")
    );
    assert_eq!(query_param(query, "watch").as_deref(), Some("1"));
    assert_eq!(query_param(query, "missing"), None);
}
