//! Helpers for the end-to-end tests that run the memhpa binary as a child
//! process against the fake API server (tests/kubesupport) and a Prometheus
//! (real, via tests/promsupport, or [`stubprom`]).
//!
//! A test file that uses this module declares `kubesupport`, `promsupport`
//! and `httpsupport` beside it, since the diagnostics read the fake's request
//! log and the stub reuses the shared HTTP helpers.
//!
//! Everything binds 127.0.0.1 only, every loop is bounded in count and time,
//! and every child process is killed when its guard drops, assertion failure
//! or not.
#![allow(dead_code)]

pub mod objects;
pub mod process;
pub mod scrape;
pub mod stubprom;
pub mod wait;
