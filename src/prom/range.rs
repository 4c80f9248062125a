//! Range queries (`/api/v1/query_range`), for the replay of a workload's
//! history: one range is split into chunks that each stay under Prometheus'
//! limit of points per series, and the chunks are stitched back without
//! repeating a boundary sample.
//!
//! Same client, agent, TLS roots, bearer token, body bound and error type as
//! the controller's instant queries.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::Client;
use super::decode::{decode_error, sample_value, success, SampleValue};
use super::error::PromError;
use super::promql::form_encode;

/// Prometheus refuses a range query that would give any series more points
/// than this ("exceeded maximum resolution of 11,000 points per timeseries").
pub const MAX_POINTS_PER_SERIES: u64 = 11_000;

/// Points per chunk: under [`MAX_POINTS_PER_SERIES`] with room to spare, so a
/// server that counts the end point differently still accepts it.
pub const CHUNK_STEPS: u64 = 10_000;

/// Most evaluation steps one range may have: a year at 30 s is about a
/// million. Past that the answer no longer fits in memory comfortably.
pub const MAX_RANGE_STEPS: u64 = 1_000_000;

/// Most samples kept over all series and chunks of one range query (about
/// 40 bytes each). A workload's pods over its history stay far below; a
/// query that matched every pod of a cluster would not.
pub const MAX_RANGE_SAMPLES: usize = 5_000_000;

/// Evaluation times `start`, `start + step`, ... up to `end`, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    start: i64,
    end: i64,
    step: i64,
}

/// One series of a range answer: its labels and its samples by time.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: BTreeMap<String, String>,
    /// In time order, one per evaluation time at most.
    pub samples: Vec<(i64, SampleValue)>,
}

impl RangeSeries {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// What a range query gave, over all its chunks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeAnswer {
    pub series: Vec<RangeSeries>,
    pub warnings: Vec<String>,
}

impl Range {
    /// A range of whole seconds; `end` before `start`, a step below 1 s or
    /// more than [`MAX_RANGE_STEPS`] steps are refused.
    pub fn new(start: i64, end: i64, step: i64) -> Result<Range, PromError> {
        let config = |detail: String| PromError::Config { detail };
        if step < 1 {
            return Err(config(format!(
                "a range step must be at least 1s, got {step}s"
            )));
        }
        if end < start {
            return Err(config(format!(
                "a range must not end ({end}) before it starts ({start})"
            )));
        }
        let range = Range { start, end, step };
        if range.steps() > MAX_RANGE_STEPS {
            return Err(config(format!(
                "a range of {} steps of {step}s is more than {MAX_RANGE_STEPS}",
                range.steps()
            )));
        }
        Ok(range)
    }

    pub fn start(&self) -> i64 {
        self.start
    }

    pub fn end(&self) -> i64 {
        self.end
    }

    pub fn step(&self) -> i64 {
        self.step
    }

    /// How many evaluation times the range holds, both ends included.
    pub fn steps(&self) -> u64 {
        // i128: `end - start` of two i64 cannot overflow there.
        let span = (i128::from(self.end) - i128::from(self.start)) / i128::from(self.step);
        u64::try_from(span + 1).unwrap_or(u64::MAX)
    }

    /// The evaluation times, in order.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.steps()).map(move |k| self.at(k))
    }

    /// Consecutive ranges of at most [`CHUNK_STEPS`] points that together hold
    /// exactly this range's points: each starts one step after the last
    /// point of the one before, so no time is asked twice.
    pub fn chunks(&self) -> Vec<Range> {
        let steps = self.steps();
        (0..steps)
            .step_by(CHUNK_STEPS as usize)
            .map(|first| Range {
                start: self.at(first),
                end: self.at((first + CHUNK_STEPS - 1).min(steps - 1)),
                step: self.step,
            })
            .collect()
    }

    /// The `k`th evaluation time; `k` below [`Range::steps`], so it is at
    /// most `end`.
    fn at(&self, k: u64) -> i64 {
        self.start + k as i64 * self.step
    }

    fn form_body(&self, query: &str) -> String {
        format!(
            "query={}&start={}&end={}&step={}s",
            form_encode(query),
            self.start,
            self.end,
            self.step
        )
    }
}

impl Client {
    /// `query` evaluated over `range`, one request per chunk, stitched.
    pub fn query_range(&self, query: &str, range: Range) -> Result<RangeAnswer, PromError> {
        let mut stitched = Stitched::default();
        for chunk in range.chunks() {
            let (status, body) = self.post_form(&self.range_url, query, &chunk.form_body(query))?;
            let answer = decode_matrix(query, status, &body)?;
            for warning in &answer.warnings {
                log::warn!("Prometheus warns about range query {query:?}: {warning}");
            }
            stitched.add(query, answer)?;
        }
        Ok(stitched.finish())
    }
}

/// The chunks' series merged by label set; a time seen twice keeps its first
/// sample.
#[derive(Default)]
struct Stitched {
    series: BTreeMap<BTreeMap<String, String>, BTreeMap<i64, SampleValue>>,
    warnings: Vec<String>,
    samples: usize,
}

impl Stitched {
    fn add(&mut self, query: &str, answer: RangeAnswer) -> Result<(), PromError> {
        for series in answer.series {
            let kept = self.series.entry(series.labels).or_default();
            for (t, value) in series.samples {
                if let std::collections::btree_map::Entry::Vacant(slot) = kept.entry(t) {
                    slot.insert(value);
                    self.samples += 1;
                }
            }
            if self.samples > MAX_RANGE_SAMPLES {
                return Err(PromError::Decode {
                    query: query.to_string(),
                    detail: format!(
                        "the answer holds more than {MAX_RANGE_SAMPLES} samples; narrow the range or the series"
                    ),
                    body: String::new(),
                });
            }
        }
        self.warnings.extend(answer.warnings);
        Ok(())
    }

    fn finish(self) -> RangeAnswer {
        RangeAnswer {
            series: self
                .series
                .into_iter()
                .map(|(labels, samples)| RangeSeries {
                    labels,
                    samples: samples.into_iter().collect(),
                })
                .collect(),
            warnings: self.warnings,
        }
    }
}

/// Decodes one range answer: a matrix of series with `values`.
pub fn decode_matrix(query: &str, status: u16, body: &[u8]) -> Result<RangeAnswer, PromError> {
    let answer = success(query, status, body, "matrix")?;
    let series = answer
        .result
        .iter()
        .enumerate()
        .map(|(index, item)| {
            decode_range_series(item)
                .map_err(|what| decode_error(query, format!("data.result[{index}]: {what}"), body))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RangeAnswer {
        series,
        warnings: answer.warnings,
    })
}

fn decode_range_series(item: &Value) -> Result<RangeSeries, String> {
    let item = item.as_object().ok_or("not an object")?;
    let metric = item
        .get("metric")
        .and_then(Value::as_object)
        .ok_or("no \"metric\" object")?;
    let labels = metric
        .iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name.clone(), text.clone())),
            other => Err(format!("label {name:?} is {other}, not a string")),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let values = item
        .get("values")
        .and_then(Value::as_array)
        .ok_or("no \"values\" array")?;
    let samples = values
        .iter()
        .enumerate()
        .map(|(index, pair)| sample(pair).map_err(|what| format!("values[{index}]: {what}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RangeSeries { labels, samples })
}

/// `[1700000000, "123"]`; the time must be a whole second, as every range
/// memhpa asks for is.
fn sample(pair: &Value) -> Result<(i64, SampleValue), String> {
    let Some([Value::Number(t), Value::String(text)]) = pair.as_array().map(Vec::as_slice) else {
        return Err("not [timestamp, \"number\"]".into());
    };
    let t = t
        .as_f64()
        .filter(|t| t.fract() == 0.0 && t.abs() < 1e15)
        .ok_or_else(|| format!("timestamp {t} is not a whole second"))?;
    Ok((t as i64, sample_value(text)))
}

#[cfg(test)]
mod test {
    use super::*;

    fn range(start: i64, end: i64, step: i64) -> Range {
        Range::new(start, end, step).expect("valid range")
    }

    fn chunk_points(chunks: &[Range]) -> Vec<u64> {
        chunks.iter().map(Range::steps).collect()
    }

    #[test]
    fn a_short_range_is_one_chunk() {
        let r = range(1000, 1000 + 99 * 30, 30);
        assert_eq!(r.steps(), 100);
        assert_eq!(r.chunks(), vec![r]);
    }

    #[test]
    fn one_point_is_one_chunk() {
        let r = range(5, 5, 30);
        assert_eq!(chunk_points(&r.chunks()), [1]);
    }

    #[test]
    fn an_end_between_steps_is_not_a_point() {
        let r = range(0, 89, 30);
        assert_eq!(r.times().collect::<Vec<_>>(), [0, 30, 60]);
        assert_eq!(r.chunks()[0].end(), 60);
    }

    #[test]
    fn exactly_one_chunk_of_points_is_not_split() {
        let r = range(0, (CHUNK_STEPS as i64 - 1) * 15, 15);
        assert_eq!(chunk_points(&r.chunks()), [CHUNK_STEPS]);
    }

    #[test]
    fn one_point_more_makes_a_second_chunk_of_one() {
        let r = range(0, CHUNK_STEPS as i64 * 15, 15);
        let chunks = r.chunks();
        assert_eq!(chunk_points(&chunks), [CHUNK_STEPS, 1]);
        assert_eq!(chunks[1].start(), chunks[0].end() + 15);
    }

    #[test]
    fn a_week_at_30s_splits_under_the_limit_and_keeps_every_point_once() {
        let start = 1_790_000_000;
        let r = range(start, start + 7 * 86_400, 30);
        let chunks = r.chunks();
        assert_eq!(chunk_points(&chunks), [10_000, 10_000, 161]);
        assert!(chunks.iter().all(|c| c.steps() <= MAX_POINTS_PER_SERIES));
        let stitched: Vec<i64> = chunks.iter().flat_map(|c| c.times()).collect();
        assert_eq!(stitched, r.times().collect::<Vec<_>>());
        assert_eq!(chunks.last().map(Range::end), Some(r.end()));
    }

    #[test]
    fn too_many_steps_are_refused_and_the_bound_is_not() {
        assert!(Range::new(0, (MAX_RANGE_STEPS as i64 - 1) * 30, 30).is_ok());
        let err = Range::new(0, MAX_RANGE_STEPS as i64 * 30, 30).expect_err("too long");
        assert!(err.to_string().contains("1000001 steps"), "{err}");
    }

    #[test]
    fn a_backwards_range_or_a_zero_step_is_refused() {
        assert!(Range::new(10, 9, 1).is_err());
        assert!(Range::new(0, 10, 0).is_err());
        assert!(Range::new(i64::MIN, i64::MAX, 1).is_err());
    }

    #[test]
    fn form_body_names_start_end_and_step() {
        let body = range(60, 120, 30).form_body("up{a=\"b\"}");
        assert_eq!(body, "query=up%7Ba%3D%22b%22%7D&start=60&end=120&step=30s");
    }

    fn matrix(result: &str) -> String {
        format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{result}]}}}}")
    }

    #[test]
    fn a_matrix_decodes_with_all_labels() {
        let body = matrix(r#"{"metric":{"pod":"web-1","x":"y"},"values":[[60,"5"],[90,"NaN"]]}"#);
        let answer = decode_matrix("q", 200, body.as_bytes()).expect("decodes");
        assert_eq!(answer.series.len(), 1);
        let series = &answer.series[0];
        assert_eq!(series.label("pod"), Some("web-1"));
        assert_eq!(series.label("x"), Some("y"));
        assert_eq!(
            series.samples,
            vec![
                (60, SampleValue::Bytes(5.0)),
                (90, SampleValue::NotANumber("NaN".into()))
            ]
        );
    }

    #[test]
    fn a_vector_is_not_a_matrix() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let err = decode_matrix("q", 200, body.as_bytes()).expect_err("not a matrix");
        assert!(
            matches!(
                err,
                PromError::UnexpectedResultType {
                    expected: "matrix",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bad_samples_name_the_place() {
        for (series, expected) in [
            (
                r#"{"metric":{},"values":[[60.5,"1"]]}"#,
                "values[0]: timestamp 60.5",
            ),
            (r#"{"metric":{},"values":[[60]]}"#, "values[0]: not ["),
            (r#"{"metric":{}}"#, "no \"values\" array"),
            (r#"{"metric":{"pod":1},"values":[]}"#, "label \"pod\" is 1"),
        ] {
            match decode_matrix("q", 200, matrix(series).as_bytes()) {
                Err(PromError::Decode { detail, .. }) => {
                    assert!(detail.contains(expected), "{series}: {detail}")
                }
                other => panic!("{series}: {other:?}"),
            }
        }
    }

    /// What the fake server saw of one request.
    struct Seen {
        request_line: String,
        authorization: Option<String>,
        body: String,
    }

    /// Answers each of `answers` on its own connection, on 127.0.0.1, and
    /// reports each request; every read is bounded in time.
    fn fake_server(answers: Vec<String>) -> (String, std::sync::mpsc::Receiver<Seen>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let (mut length, mut authorization) = (0, None);
                for _ in 0..100 {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    let (key, value) = line.split_once(':').unwrap_or((&line, ""));
                    match key.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "authorization" => authorization = Some(value.trim().to_string()),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = sender.send(Seen {
                    request_line: request_line.trim_end().to_string(),
                    authorization,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        (url, receiver)
    }

    #[test]
    fn a_long_range_is_one_post_per_chunk_with_the_token_and_stitches() {
        let token_dir =
            std::env::temp_dir().join(format!("memhpa-range-token-{}", std::process::id()));
        std::fs::create_dir_all(&token_dir).expect("temp dir");
        let token_file = token_dir.join("token");
        std::fs::write(&token_file, "range-token\n").expect("write token");
        let answer = |t: i64| {
            matrix(&format!(
                r#"{{"metric":{{"pod":"a"}},"values":[[{t},"1"]]}}"#
            ))
        };
        // 20,001 points: two full chunks and one of a single point.
        let r = range(0, 20_000, 1);
        let (url, seen) = fake_server(vec![answer(0), answer(10_000), answer(20_000)]);
        let client = Client::new(super::super::PromOptions {
            base_url: url,
            bearer_token_file: Some(token_file),
            ..super::super::PromOptions::default()
        })
        .expect("client");
        let answer = client.query_range("up", r).expect("answer");
        assert_eq!(
            answer.series,
            vec![series("a", &[(0, 1.0), (10_000, 1.0), (20_000, 1.0)])]
        );
        let bodies: Vec<Seen> = (0..3)
            .map(|_| {
                seen.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("a request per chunk")
            })
            .collect();
        for (request, (start, end)) in
            bodies
                .iter()
                .zip([(0, 9_999), (10_000, 19_999), (20_000, 20_000)])
        {
            assert_eq!(request.request_line, "POST /api/v1/query_range HTTP/1.1");
            assert_eq!(request.authorization.as_deref(), Some("Bearer range-token"));
            assert_eq!(
                request.body,
                format!("query=up&start={start}&end={end}&step=1s")
            );
        }
        let _ = std::fs::remove_dir_all(&token_dir);
    }

    fn series(pod: &str, samples: &[(i64, f64)]) -> RangeSeries {
        RangeSeries {
            labels: [("pod".to_string(), pod.to_string())].into(),
            samples: samples
                .iter()
                .map(|&(t, v)| (t, SampleValue::Bytes(v)))
                .collect(),
        }
    }

    #[test]
    fn stitching_merges_series_and_keeps_a_repeated_time_once() {
        let mut stitched = Stitched::default();
        let first = RangeAnswer {
            series: vec![
                series("a", &[(0, 1.0), (30, 2.0)]),
                series("b", &[(30, 7.0)]),
            ],
            warnings: vec![],
        };
        let second = RangeAnswer {
            series: vec![series("a", &[(30, 99.0), (60, 3.0)])],
            warnings: vec!["w".into()],
        };
        stitched.add("q", first).expect("first");
        stitched.add("q", second).expect("second");
        let answer = stitched.finish();
        assert_eq!(
            answer.series,
            vec![
                series("a", &[(0, 1.0), (30, 2.0), (60, 3.0)]),
                series("b", &[(30, 7.0)])
            ]
        );
        assert_eq!(answer.warnings, ["w"]);
    }
}
