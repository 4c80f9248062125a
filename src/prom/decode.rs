//! Turning one `/api/v1/query` answer into series, or the error it carries.
//!
//! The body is walked as a `serde_json::Value` rather than derived structs, so a
//! wrong shape is reported with the path of the field (`data.result[3].value`).
//! serde_json's recursion limit turns hostile nesting into an error, not a crash.

use serde_json::{Map, Value};

use super::error::{excerpt, PromError};
use crate::api::is_byte_count;

/// One series of an instant vector, reduced to the labels memhpa reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// `None` when the series has no `container` label: Prometheus drops empty
    /// labels, so this is either the pod-cgroup series or a per-pod sum.
    pub container: Option<String>,
    pub value: SampleValue,
}

/// A sample value as Prometheus wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// A usable byte count: finite, not negative, at most 1 PiB.
    Bytes(f64),
    /// NaN, an infinity, a negative number, a number beyond any physical
    /// memory (`1e308`), or text that is not a number; the raw text is kept
    /// for the message.
    NotANumber(String),
}

/// A decoded success answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    pub series: Vec<Series>,
    pub warnings: Vec<String>,
}

/// Decodes `body`, answered with HTTP `status` to `query`.
///
/// A well-formed success is read series by series as it streams by
/// ([`streamed`]): the whole answer as one `Value` tree costs about ten times
/// its text, some 600 KiB for a namespace of 500 pods on each worker at once.
/// Anything else (an error, a wrong shape, a bad series) is decoded again
/// the slow way, which names the path of what is wrong; both ways give the
/// same answer for the same body.
pub fn decode(query: &str, status: u16, body: &[u8]) -> Result<Decoded, PromError> {
    if (200..300).contains(&status) {
        if let Some(decoded) = streamed(body) {
            return Ok(decoded);
        }
    }
    decode_whole(query, status, body)
}

/// A success answer holding an instant vector whose every series decodes,
/// else `None`.
fn streamed(body: &[u8]) -> Option<Decoded> {
    let answer: StreamedAnswer = serde_json::from_slice(body).ok()?;
    let data = answer.data?;
    if answer.status.as_deref() != Some("success") || data.result_type.as_deref() != Some("vector")
    {
        return None;
    }
    let series = data.result?.0?;
    let warnings = match answer.warnings {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .into_iter()
            .filter_map(|w| match w {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        Some(_) => Vec::new(),
    };
    Some(Decoded { series, warnings })
}

/// The envelope of an answer, with its result decoded as it is read.
#[derive(serde::Deserialize)]
struct StreamedAnswer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    warnings: Option<Value>,
    #[serde(default)]
    data: Option<StreamedData>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamedData {
    #[serde(default)]
    result_type: Option<String>,
    #[serde(default)]
    result: Option<StreamedSeries>,
}

/// The series of `data.result`, each decoded from its own small `Value` as
/// it is read; `None` at the first that does not decode (the slow way then
/// says which, and why).
struct StreamedSeries(Option<Vec<Series>>);

impl<'de> serde::Deserialize<'de> for StreamedSeries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Each;
        impl<'de> serde::de::Visitor<'de> for Each {
            type Value = StreamedSeries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of series")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StreamedSeries, A::Error> {
                let mut series = Some(Vec::new());
                while let Some(item) = seq.next_element::<Value>()? {
                    series = series.and_then(|mut kept| {
                        kept.push(decode_series(&item).ok()?);
                        Some(kept)
                    });
                }
                Ok(StreamedSeries(series))
            }
        }
        d.deserialize_seq(Each)
    }
}

/// [`decode`] the slow way: the whole body as one `Value`, every problem
/// named by its path.
fn decode_whole(query: &str, status: u16, body: &[u8]) -> Result<Decoded, PromError> {
    let answer = success(query, status, body, "vector")?;
    let series = answer
        .result
        .iter()
        .enumerate()
        .map(|(index, item)| {
            decode_series(item)
                .map_err(|what| decode_error(query, format!("data.result[{index}]: {what}"), body))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Decoded {
        series,
        warnings: answer.warnings,
    })
}

/// A success answer's `data.result` of the expected type, not yet decoded.
pub struct Success {
    pub result: Vec<Value>,
    pub warnings: Vec<String>,
}

/// Checks the envelope of an answer to `query` (status, JSON, `data`,
/// `resultType` = `expected`) and hands back its result list; instant and
/// range queries share it, so both report a wrong answer alike.
pub fn success(
    query: &str,
    status: u16,
    body: &[u8],
    expected: &'static str,
) -> Result<Success, PromError> {
    let ok_status = (200..300).contains(&status);
    let mut root: Value = match serde_json::from_slice(body) {
        Ok(root) => root,
        Err(err) if ok_status => return Err(decode_error(query, format!("not JSON: {err}"), body)),
        Err(_) => return Err(http_error(query, status, body)),
    };
    let Some(root) = root.as_object_mut() else {
        return Err(shape_error(
            query,
            ok_status,
            status,
            "the body is not a JSON object",
            body,
        ));
    };
    match root.get("status").and_then(Value::as_str) {
        Some("error") => Err(api_error(query, status, root)),
        Some("success") if ok_status => success_result(query, root, body, expected),
        _ => Err(shape_error(
            query,
            ok_status,
            status,
            "\"status\" is neither \"success\" nor \"error\"",
            body,
        )),
    }
}

fn success_result(
    query: &str,
    root: &mut Map<String, Value>,
    body: &[u8],
    expected: &'static str,
) -> Result<Success, PromError> {
    let shape = |detail: String| decode_error(query, detail, body);
    let warnings = warnings(root);
    let data = root
        .get_mut("data")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| shape("no \"data\" object".into()))?;
    let result_type = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("no \"data.resultType\" string".into()))?;
    if result_type != expected {
        return Err(PromError::UnexpectedResultType {
            query: query.to_string(),
            result_type: result_type.to_string(),
            expected,
        });
    }
    match data.get_mut("result").map(Value::take) {
        Some(Value::Array(result)) => Ok(Success { result, warnings }),
        _ => Err(shape("no \"data.result\" array".into())),
    }
}

fn decode_series(item: &Value) -> Result<Series, String> {
    let item = item.as_object().ok_or("not an object")?;
    let metric = item
        .get("metric")
        .and_then(Value::as_object)
        .ok_or("no \"metric\" object")?;
    let label = |name: &str| -> Result<Option<String>, String> {
        match metric.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(format!("label {name:?} is {other}, not a string")),
        }
    };
    let value = match item
        .get("value")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::Number(_), Value::String(text)]) => sample_value(text),
        _ => return Err("\"value\" is not [timestamp, \"number\"]".into()),
    };
    Ok(Series {
        namespace: label("namespace")?,
        pod: label("pod")?,
        container: label("container")?,
        value,
    })
}

/// Prometheus writes `NaN`, `+Inf` and `-Inf` as legal values; none of them, nor
/// a negative number, nor one beyond any physical memory, is a byte count.
/// Taking `1e308` as real would peg utilization and scale to the maximum.
pub fn sample_value(text: &str) -> SampleValue {
    match text.parse::<f64>() {
        Ok(bytes) if is_byte_count(bytes) => SampleValue::Bytes(bytes),
        _ => SampleValue::NotANumber(text.to_string()),
    }
}

/// The warnings of a success answer; anything that is not a string is skipped.
fn warnings(root: &Map<String, Value>) -> Vec<String> {
    let list = root.get("warnings").and_then(Value::as_array);
    list.map(|list| {
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn api_error(query: &str, status: u16, root: &Map<String, Value>) -> PromError {
    let text = |name: &str| {
        root.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    PromError::Api {
        query: query.to_string(),
        status,
        error_type: text("errorType"),
        error: text("error"),
    }
}

/// A non-2xx answer that is not an error object is an HTTP problem (a proxy's
/// page, say); a 2xx one is a decoding problem.
fn shape_error(query: &str, ok_status: bool, status: u16, detail: &str, body: &[u8]) -> PromError {
    if ok_status {
        decode_error(query, detail.to_string(), body)
    } else {
        http_error(query, status, body)
    }
}

pub fn decode_error(query: &str, detail: String, body: &[u8]) -> PromError {
    PromError::Decode {
        query: query.to_string(),
        detail,
        body: excerpt(body),
    }
}

fn http_error(query: &str, status: u16, body: &[u8]) -> PromError {
    PromError::Http {
        query: query.to_string(),
        status,
        body: excerpt(body),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Streamed or whole, the same body gives the same answer, or the same
    /// error; and a well-formed answer is streamed.
    #[test]
    fn streamed_and_whole_agree() {
        let series = r#"{"metric":{"namespace":"demo","pod":"web-1","container":"app","id":"/x"},"value":[1.5,"83886080"]}"#;
        let bodies = [
            vector(series),
            vector(&format!("{series},{series}")),
            vector(""),
            vector(r#"{"metric":{"pod":"p"},"value":[1,"NaN"]}"#),
            format!(
                r#"{{"status":"success","warnings":["slow",3],"data":{{"result":[{series}],"resultType":"vector"}}}}"#
            ),
            vector(r#"{"metric":{"pod":7},"value":[1,"1"]}"#),
            vector(r#"{"metric":{"pod":"p"},"value":[1,1]}"#),
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_string(),
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.to_string(),
            r#"{"status":"success","data":{"resultType":"vector"}}"#.to_string(),
            r#"{"status":"success","status":"success","data":{"resultType":"vector","result":[]}}"#
                .to_string(),
            "[1,2]".to_string(),
            "not json".to_string(),
        ];
        for body in &bodies {
            let fast = decode("q", 200, body.as_bytes()).map_err(|e| e.to_string());
            let whole = decode_whole("q", 200, body.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(fast, whole, "{body}");
        }
        assert!(streamed(bodies[1].as_bytes()).is_some_and(|d| d.series.len() == 2));
        assert!(streamed(bodies[4].as_bytes()).is_some_and(|d| d.warnings == ["slow"]));
        assert!(
            streamed(bodies[5].as_bytes()).is_none(),
            "a bad label goes the slow way"
        );
    }

    fn ok(body: &str) -> Result<Decoded, PromError> {
        decode("q", 200, body.as_bytes())
    }

    fn vector(result: &str) -> String {
        format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{result}]}}}}")
    }

    #[test]
    fn one_series_with_labels() {
        let body = vector(
            r#"{"metric":{"namespace":"demo","pod":"web-1","container":"app"},"value":[1.5,"83886080"]}"#,
        );
        let decoded = ok(&body).expect("decodes");
        assert_eq!(
            decoded.series,
            vec![Series {
                namespace: Some("demo".into()),
                pod: Some("web-1".into()),
                container: Some("app".into()),
                value: SampleValue::Bytes(83886080.0),
            }]
        );
    }

    #[test]
    fn nan_inf_and_negative_are_not_numbers() {
        for raw in ["NaN", "+Inf", "-Inf", "-1", "abc", "", "1e999"] {
            assert_eq!(
                sample_value(raw),
                SampleValue::NotANumber(raw.to_string()),
                "{raw}"
            );
        }
        assert_eq!(sample_value("0"), SampleValue::Bytes(0.0));
        assert_eq!(
            sample_value("1125899906842624"),
            SampleValue::Bytes(1125899906842624.0)
        );
        assert_eq!(sample_value("1.5e+07"), SampleValue::Bytes(1.5e7));
    }

    #[test]
    fn beyond_physical_memory_is_not_a_number() {
        for raw in [
            "1e308",
            "-1e308",
            "1125899906842625",
            "1e20",
            "1.7976931348623157e308",
        ] {
            assert_eq!(
                sample_value(raw),
                SampleValue::NotANumber(raw.to_string()),
                "{raw}"
            );
        }
        let body = vector(r#"{"metric":{"pod":"web-1","container":"app"},"value":[1,"1e308"]}"#);
        assert_eq!(
            ok(&body).expect("decodes").series[0].value,
            SampleValue::NotANumber("1e308".into())
        );
    }

    #[test]
    fn warnings_are_kept() {
        let body = r#"{"status":"success","warnings":["partial",3],"data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(
            ok(body).expect("decodes").warnings,
            vec!["partial".to_string()]
        );
    }

    #[test]
    fn error_object_with_400_is_api_error() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let err = decode("q", 400, body.as_bytes()).expect_err("error");
        assert_eq!(
            err,
            PromError::Api {
                query: "q".into(),
                status: 400,
                error_type: "bad_data".into(),
                error: "parse error".into()
            }
        );
    }

    #[test]
    fn html_with_502_is_http_error() {
        let err = decode("q", 502, b"<html>bad gateway</html>").expect_err("error");
        assert!(
            matches!(err, PromError::Http { status: 502, ref body, .. } if body.contains("bad gateway")),
            "{err:?}"
        );
    }

    #[test]
    fn success_json_with_500_is_http_error() {
        let err = decode("q", 500, vector("").as_bytes()).expect_err("error");
        assert!(
            matches!(err, PromError::Http { status: 500, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn matrix_is_unexpected_result_type() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let err = ok(body).expect_err("error");
        assert_eq!(
            err,
            PromError::UnexpectedResultType {
                query: "q".into(),
                result_type: "matrix".into(),
                expected: "vector",
            }
        );
    }

    #[test]
    fn not_json_is_decode_error() {
        assert!(matches!(ok("hello"), Err(PromError::Decode { .. })));
        assert!(matches!(ok(""), Err(PromError::Decode { .. })));
        assert!(matches!(
            decode("q", 200, &[0xff, 0xfe]),
            Err(PromError::Decode { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_decode_error() {
        let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(ok(&body), Err(PromError::Decode { .. })));
    }

    #[test]
    fn huge_number_is_decode_error_or_not_a_number() {
        assert!(matches!(
            ok(&vector(r#"{"metric":{},"value":[1e999,"1"]}"#)),
            Err(PromError::Decode { .. })
        ));
        let huge = format!("1{}", "0".repeat(400));
        let decoded = ok(&vector(&format!(
            r#"{{"metric":{{"pod":"p"}},"value":[1,"{huge}"]}}"#
        )))
        .expect("decodes");
        assert_eq!(decoded.series[0].value, SampleValue::NotANumber(huge));
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let cases = [
            (
                r#"{"metric":{},"value":[1]}"#,
                "data.result[0]: \"value\" is not",
            ),
            (
                r#"{"metric":{},"value":[1,"2",3]}"#,
                "data.result[0]: \"value\" is not",
            ),
            (
                r#"{"metric":{},"value":[1,2]}"#,
                "data.result[0]: \"value\" is not",
            ),
            (
                r#"{"metric":{},"value":["1","2"]}"#,
                "data.result[0]: \"value\" is not",
            ),
            (
                r#"{"metric":{"pod":7},"value":[1,"2"]}"#,
                "label \"pod\" is 7",
            ),
            (r#"{"value":[1,"2"]}"#, "no \"metric\" object"),
            (r#"5"#, "data.result[0]: not an object"),
        ];
        for (series, expected) in cases {
            match ok(&vector(series)) {
                Err(PromError::Decode { detail, .. }) => {
                    assert!(detail.contains(expected), "{series}: {detail}")
                }
                other => panic!("{series}: {other:?}"),
            }
        }
    }

    #[test]
    fn missing_envelope_fields_are_decode_errors() {
        for body in [
            r#"[]"#,
            r#"{}"#,
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"vector"}}"#,
            r#"{"status":"success","data":{"result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":{}}}"#,
            r#"{"status":7}"#,
        ] {
            assert!(matches!(ok(body), Err(PromError::Decode { .. })), "{body}");
        }
    }

    #[test]
    fn error_object_without_fields_still_is_api_error() {
        let err = decode("q", 422, br#"{"status":"error","errorType":5}"#).expect_err("error");
        assert!(
            matches!(err, PromError::Api { status: 422, ref error_type, .. } if error_type.is_empty()),
            "{err:?}"
        );
    }
}
