//! One watch response read line by line: kube-apiserver writes one JSON event
//! per line of a chunked body. What the events mean is the reflector's job.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use super::error::{excerpt, ErrorKind, KubeError};
use super::transport::{read_error, TransportError};
use crate::api::WatchEvent;

/// Longest event line accepted. A MemHpa is a few KiB; a line past this is a
/// broken or hostile stream, and reading on would only grow memory.
pub const MAX_WATCH_LINE: usize = 16 * 1024 * 1024;

/// The events of one watch response, until the server ends it.
///
/// A line that is not an event is an `Err` item; the iterator would yield the
/// lines after it, but the controller's watch thread ends the watch at its
/// first `Err` and resumes from the last resourceVersion it applied. A read
/// error or an over-long line is a last `Err` item, after which it yields `None`.
pub struct Watch {
    path: String,
    lines: BufReader<Box<dyn Read + Send>>,
    read_timeout: Duration,
    max_line: usize,
    ended: bool,
}

impl Watch {
    /// A watch over any reader of event lines: a response body, or a file in
    /// tests and replays. `path` names the stream in errors.
    pub fn from_reader(path: &str, reader: impl Read + Send + 'static) -> Watch {
        Watch::new(path.to_string(), Box::new(reader), Duration::ZERO)
    }

    pub(crate) fn new(path: String, body: Box<dyn Read + Send>, read_timeout: Duration) -> Watch {
        Watch {
            path,
            lines: BufReader::new(body),
            read_timeout,
            max_line: MAX_WATCH_LINE,
            ended: false,
        }
    }

    #[cfg(test)]
    fn with_max_line(mut self, max_line: usize) -> Watch {
        self.max_line = max_line;
        self
    }

    /// The next non-blank line without its newline; `Ok(None)` at the end.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, KubeError> {
        loop {
            let mut line = Vec::new();
            let limit = self.max_line as u64 + 1;
            let read = (&mut self.lines)
                .take(limit)
                .read_until(b'\n', &mut line)
                .map_err(|err| self.read_failed(read_error(err)))?;
            if read == 0 {
                return Ok(None);
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            } else if line.len() > self.max_line {
                return Err(self.failed(ErrorKind::Decode {
                    detail: format!("an event line is longer than {} bytes", self.max_line),
                    body: excerpt(&line[..line.len().min(200)]),
                }));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(line));
        }
    }

    fn read_failed(&self, err: TransportError) -> KubeError {
        self.failed(match err {
            TransportError::Timeout => ErrorKind::Timeout {
                timeout: self.read_timeout,
            },
            TransportError::Other(detail) => ErrorKind::Transport {
                detail: format!("the stream broke: {detail}"),
            },
        })
    }

    fn failed(&self, kind: ErrorKind) -> KubeError {
        KubeError::new("watch", self.path.clone(), kind)
    }
}

impl Iterator for Watch {
    type Item = Result<WatchEvent, KubeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.next_line() {
            Ok(Some(line)) => Some(serde_json::from_slice::<WatchEvent>(&line).map_err(|err| {
                self.failed(ErrorKind::Decode {
                    detail: format!("an event line is not a watch event: {err}"),
                    body: excerpt(&line),
                })
            })),
            Ok(None) => {
                self.ended = true;
                None
            }
            Err(err) => {
                self.ended = true;
                Some(Err(err))
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::io::Cursor;

    fn watch(text: &str) -> Watch {
        Watch::from_reader("/w", Cursor::new(text.as_bytes().to_vec()))
    }

    #[test]
    fn yields_one_event_per_line_and_skips_blank_lines() {
        let events: Vec<_> = watch(
            "{\"type\":\"ADDED\",\"object\":{}}\n\r\n\n{\"type\":\"BOOKMARK\",\"object\":{}}",
        )
        .collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].as_ref().expect("first").type_, "ADDED");
        assert_eq!(events[1].as_ref().expect("last").type_, "BOOKMARK");
    }

    #[test]
    fn malformed_line_is_an_error_and_the_stream_goes_on() {
        let items: Vec<_> =
            watch("{\"type\":\nnot json\n{\"type\":\"DELETED\",\"object\":{}}\n").collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(
            &items[0],
            Err(KubeError {
                kind: ErrorKind::Decode { .. },
                ..
            })
        ));
        assert!(matches!(
            &items[1],
            Err(KubeError {
                kind: ErrorKind::Decode { .. },
                ..
            })
        ));
        assert_eq!(items[2].as_ref().expect("deleted").type_, "DELETED");
    }

    #[test]
    fn overlong_line_ends_the_stream() {
        let long = format!(
            "{{\"type\":\"ADDED\",\"object\":\"{}\"}}\n",
            "x".repeat(100)
        );
        let text = format!("{long}{{\"type\":\"ADDED\",\"object\":{{}}}}\n");
        let items: Vec<_> = watch(&text).with_max_line(64).collect();
        assert_eq!(items.len(), 1, "{items:?}");
        let err = items[0].as_ref().expect_err("too long");
        assert!(err.to_string().contains("longer than 64 bytes"), "{err}");
    }

    #[test]
    fn line_exactly_at_the_cap_is_read() {
        let line = "{\"type\":\"ADDED\",\"object\":{}}";
        let items: Vec<_> = watch(&format!("{line}\n"))
            .with_max_line(line.len())
            .collect();
        assert_eq!(items.len(), 1);
        assert!(items[0].is_ok(), "{items:?}");
    }

    #[test]
    fn read_error_is_a_last_transport_error() {
        struct Broken(bool);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "reset",
                    ));
                }
                self.0 = true;
                let line = b"{\"type\":\"ADDED\",\"object\":{}}\n";
                buf[..line.len()].copy_from_slice(line);
                Ok(line.len())
            }
        }
        let items: Vec<_> = Watch::from_reader("/w", Broken(false)).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(
            matches!(&items[1], Err(KubeError { kind: ErrorKind::Transport { detail }, .. }) if detail.contains("reset")),
            "{items:?}"
        );
    }
}
