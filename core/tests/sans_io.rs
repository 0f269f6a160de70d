//! The core stays sans-IO: no clock, socket, file, thread, OS randomness or async runtime,
//! in its source and in its dependencies.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime",
    "thread_rng",
    "rand::random",
    "RandomState",
    "HashMap",
    "HashSet",
    "std::net",
    "std::fs",
    "std::thread",
    "std::time",
    "std::env",
    "std::process",
    "tokio",
    "madsim",
    "async fn",
];

/// Serialization and logging, and a pure function: crc32fast checksums stored records.
const ALLOWED_DEPENDENCIES: &[&str] = &["serde", "bytes", "tracing", "postcard", "crc32fast"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn core_source_reads_no_clock_io_threads_or_hidden_randomness() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 10, "found the core's sources");
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        // The one place a hash map is named: with its hasher pinned (no `RandomState`).
        let pins_the_hasher = file.ends_with("fixed_hash.rs");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) && !(pins_the_hasher && *word == "HashMap") {
                    offences.push(format!("{}:{}: {word}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the core must stay sans-IO:\n{}", offences.join("\n"));
}

#[test]
fn core_depends_only_on_serialization_and_logging_crates() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let section = manifest.split("[dependencies]").nth(1).expect("a dependencies section");
    let section = section.split("\n[").next().unwrap();
    for line in section.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let name = line.split(['=', '.']).next().unwrap().trim();
        assert!(ALLOWED_DEPENDENCIES.contains(&name), "core may not depend on {name}");
    }
}
