//! Arbitrary bytes into the wire decoder and every actor's input handler: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shardsim::lab::fuzz::decode(data));
