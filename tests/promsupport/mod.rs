//! Test helpers for the Prometheus client: a cAdvisor-shaped exporter, a real
//! Prometheus launcher, a counting proxy and a canned-answer server. All of them
//! bind 127.0.0.1 only and bound every loop in count and time.
//!
//! A test file that uses it declares `mod httpsupport;` beside it.
//!
//! Each test file uses a different part of this module, so unused items are
//! expected in any one of them.
#![allow(dead_code)]

pub mod canned;
pub mod exporter;
pub mod http;
pub mod launcher;
pub mod proxy;
pub mod server;
