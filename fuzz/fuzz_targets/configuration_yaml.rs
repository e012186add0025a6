//! `cargo +nightly fuzz run configuration_yaml`: see `dapr_cli::fuzzing::configuration_yaml` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::configuration_yaml(data));
