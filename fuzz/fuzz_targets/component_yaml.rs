//! `cargo +nightly fuzz run component_yaml`: see `dapr_cli::fuzzing::component_yaml` for what it covers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::component_yaml(data));

// libFuzzer's mutations plus boundary numbers (see `dapr_cli_fuzz::mutate_text`).
libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    dapr_cli_fuzz::mutate_text(data, size, max_size, seed)
});
