//! A transport for unit tests: canned answers in order, every request kept.

use std::collections::VecDeque;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::client::Client;
use super::config::KubeConfig;
use super::transport::{Incoming, Outgoing, Transport, TransportError};

/// The base URL of every client made by [`FakeTransport::client`].
pub(crate) const FAKE_BASE: &str = "https://api.test:6443";

/// A canned answer: status, Retry-After, body; or no response at all.
pub(crate) type Canned = Result<(u16, Option<String>, Vec<u8>), TransportError>;

/// Answers in order; once they run out, every request is a transport error.
#[derive(Clone, Default)]
pub(crate) struct FakeTransport {
    answers: Arc<Mutex<VecDeque<Canned>>>,
    sent: Arc<Mutex<Vec<Outgoing>>>,
}

impl FakeTransport {
    pub(crate) fn answer(&self, status: u16, body: &str) -> &FakeTransport {
        self.push(Ok((status, None, body.as_bytes().to_vec())))
    }

    pub(crate) fn push(&self, answer: Canned) -> &FakeTransport {
        self.answers.lock().expect("answers").push_back(answer);
        self
    }

    pub(crate) fn sent(&self) -> Vec<Outgoing> {
        self.sent.lock().expect("sent").clone()
    }

    /// Method and path (with query) of every request, in order.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.sent()
            .into_iter()
            .map(|request| request.url.trim_start_matches(FAKE_BASE).to_string())
            .collect()
    }

    pub(crate) fn client(&self, token_file: Option<PathBuf>) -> Client {
        let config = KubeConfig {
            token_file,
            ..KubeConfig::new(FAKE_BASE)
        };
        Client::with_transport(config, Box::new(self.clone())).expect("client")
    }
}

impl Transport for FakeTransport {
    fn send(&self, request: &Outgoing) -> Result<Incoming, TransportError> {
        self.sent.lock().expect("sent").push(request.clone());
        let next = self.answers.lock().expect("answers").pop_front();
        let (status, retry_after, body) =
            next.unwrap_or_else(|| Err(TransportError::Other("no answer left".into())))?;
        Ok(Incoming {
            status,
            retry_after,
            location: None,
            body: Box::new(Cursor::new(body)),
        })
    }

    fn shutdown(&self) {}
}
