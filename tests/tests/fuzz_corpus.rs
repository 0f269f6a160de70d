//! The checked-in fuzz corpus, replayed through the very functions the cargo-fuzz targets
//! call, on the stable toolchain: what the fuzzers found fine stays fine.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("the corpus is checked in").map(|entry| entry.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 5, "{} holds only {} inputs", dir.display(), files.len());
    files
}

#[test]
fn the_message_order_corpus_breaks_no_invariant() {
    assert!(std::env::var(shardsim::lab::fuzz::CANARIES_VARIABLE).is_err(), "run the corpus on the correct core");
    for file in corpus("message_order") {
        let bytes = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| shardsim::lab::fuzz::message_order(&bytes));
        assert!(outcome.is_ok(), "{} broke an invariant", file.display());
    }
}

#[test]
fn the_decode_corpus_never_panics() {
    for file in corpus("decode") {
        let bytes = std::fs::read(&file).unwrap();
        shardsim::lab::fuzz::decode(&bytes);
    }
}
