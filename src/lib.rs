//! memhpa: a memory-based horizontal pod autoscaler for Kubernetes.
//!
//! The pure decision core is [`algorithm`]; everything else gathers its inputs
//! ([`kube`], [`prom`]) or carries out its outputs ([`controller`]). The binary in
//! `main.rs` only parses the command line ([`cli`]) and starts one of the two
//! modes: the controller or [`simulate`].

pub mod algorithm;
pub mod api;
pub mod cli;
pub mod controller;
pub mod daemon;
pub mod explain;
mod http;
pub mod kube;
pub mod leader;
pub mod metrics;
pub mod prom;
mod quote;
pub mod rfc3339;
mod seed;
pub mod serve;
pub mod shutdown;
pub mod simulate;
