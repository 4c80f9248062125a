//! The unit tests of the fake API server's modules (tests/kubesupport), one
//! file per module. They are compiled by tests/fake_apiserver.rs alone: as
//! `#[cfg(test)]` modules inside kubesupport they ran again in every test
//! binary that includes the fake. They reach the modules through their
//! `pub(crate)` paths.

mod controls;
mod fields;
mod ids;
mod merge;
mod paging;
mod rbac;
mod routes;
mod schema;
mod selector;
mod shape;
mod status;
mod store;
mod wait;
