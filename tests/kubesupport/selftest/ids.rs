//! Tests of tests/kubesupport/ids.rs.

use crate::kubesupport::ids::{Ids, NAME_ALPHABET};

#[test]
fn uid_shape() {
    let uid = Ids::new().uid();
    let parts: Vec<usize> = uid.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{uid}");
}

#[test]
fn uids_differ() {
    let mut ids = Ids::new();
    assert_ne!(ids.uid(), ids.uid());
}

#[test]
fn suffix_alphabet() {
    let suffix = Ids::new().name_suffix();
    assert_eq!(suffix.len(), 5);
    assert!(
        suffix.bytes().all(|b| NAME_ALPHABET.contains(&b)),
        "{suffix}"
    );
}
