//! `cargo +nightly fuzz run grpc_api`: see `dapr_cli::fuzzing::grpc_api` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::grpc_api(data));
