//! `cargo +nightly fuzz run runfile_yaml`: see `dapr_cli::fuzzing::runfile_yaml` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::runfile_yaml(data));
