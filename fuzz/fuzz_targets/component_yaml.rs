//! `cargo +nightly fuzz run component_yaml`: see `dapr_cli::fuzzing::component_yaml` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::component_yaml(data));
