//! `cargo +nightly fuzz run http_api`: see `dapr_cli::fuzzing::http_api` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::http_api(data));
