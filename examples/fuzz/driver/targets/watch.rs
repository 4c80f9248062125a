//! The watch stream: any bytes, read through [`Watch`] in one piece and again
//! split at random chunk boundaries. The events must not depend on where the
//! network cut the stream.

use std::io::{self, Read};

use memhpa::api::ObjectList;
use memhpa::kube::{Reflector, Watch};

use super::super::fixtures;
use super::super::rng::Rng;
use super::{message_ok, round_trip};
use crate::driver::engine::Target;

pub struct WatchStream {
    seeds: Vec<Vec<u8>>,
}

/// Hand-written lines: every event type, CRLF, blank lines, an unterminated
/// last line, and a line that is not an event.
const LINES: &[&str] = &[
    r#"{"type":"ADDED","object":{"kind":"MemHpa","metadata":{"name":"a","resourceVersion":"1"}}}"#,
    r#"{"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"2"}}}"#,
    r#"{"type":"DELETED","object":{"metadata":{"name":"a"}}}"#,
    r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}"#,
    r#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}"#,
    "",
    "\r",
    "not json",
];

impl WatchStream {
    pub fn new() -> WatchStream {
        let kube = fixtures::load("kube-apiserver-1.24");
        let mut seeds = fixtures::bodies(&kube, &["memhpa-watch"]);
        seeds.push(LINES.join("\n").into_bytes());
        seeds.push(LINES.join("\r\n").into_bytes());
        WatchStream { seeds }
    }
}

impl Target for WatchStream {
    fn name(&self) -> &'static str {
        "watch"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn generate(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..rng.range(1, 12) {
            out.extend_from_slice(rng.pick(LINES).as_bytes());
            let ends: [&[u8]; 4] = [b"\n", b"\r\n", b"\n\n", b""];
            let end = *rng.pick::<&[u8]>(&ends);
            out.extend_from_slice(end);
        }
        Some(out)
    }

    fn check(&mut self, input: &[u8], rng: &mut Rng) -> Result<(), String> {
        let whole = events(Watch::from_reader("/w", io::Cursor::new(input.to_vec())))?;
        let cuts = if rng.one_in(4) {
            vec![1]
        } else {
            (0..8).map(|_| rng.range(1, 64)).collect()
        };
        let split = events(Watch::from_reader(
            "/w",
            Chunks {
                data: input.to_vec(),
                at: 0,
                cuts,
                turn: 0,
            },
        ))?;
        if whole != split {
            return Err(format!(
                "watch: the events depend on the chunking: {} whole vs {} split",
                whole.len(),
                split.len()
            ));
        }
        let lines = input.split(|&b| b == b'\n').count();
        if whole.len() > lines {
            return Err(format!("watch: {} items from {lines} lines", whole.len()));
        }
        Ok(())
    }
}

/// Every item as text, events re-checked by a round trip on the way and
/// applied to a reflector, as the controller's watch loop does.
fn events(watch: Watch) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut reflector = Reflector::new();
    let mut applied = 0;
    reflector.listed(ObjectList {
        api_version: None,
        kind: None,
        metadata: Default::default(),
        items: Vec::new(),
    });
    for item in watch {
        match item {
            Ok(event) => {
                round_trip("watch event", &event)?;
                out.push(format!(
                    "ok {}",
                    serde_json::to_string(&event).unwrap_or_default()
                ));
                applied += usize::from(matches!(event.type_.as_str(), "ADDED" | "MODIFIED"));
                let _ = reflector.event(event);
                if reflector.len() > applied {
                    return Err("watch: the store holds more objects than were added".into());
                }
            }
            Err(err) => {
                message_ok("watch", &err)?;
                out.push(format!("err {err}"));
            }
        }
    }
    Ok(out)
}

/// A reader that hands out its data in chunks of the given sizes, in turn, as
/// a chunked HTTP body arrives off the network.
struct Chunks {
    data: Vec<u8>,
    at: usize,
    cuts: Vec<usize>,
    turn: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.cuts[self.turn % self.cuts.len()];
        self.turn += 1;
        let end = (self.at + size)
            .min(self.data.len())
            .min(self.at + buf.len());
        let n = end - self.at;
        buf[..n].copy_from_slice(&self.data[self.at..end]);
        self.at = end;
        Ok(n)
    }
}
