//! The unit tests of the shared HTTP pieces (tests/httpsupport), one file per
//! module. They are compiled by tests/fake_apiserver.rs alone: as
//! `#[cfg(test)]` modules inside httpsupport they ran again in every test
//! binary, and in the library's unit tests, that include it.

mod decode;
mod read;
mod write;
