//! Fuzzer bytes choose every step of the lab; a broken invariant is a crash.
//! Canaries: `SHARDSIM_FUZZ_CANARIES=stub-acks-writes,ack-before-durable cargo +nightly fuzz run message_order`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shardsim::lab::fuzz::message_order(data));
