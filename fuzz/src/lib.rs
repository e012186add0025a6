//! Mutation helpers shared by the fuzz targets (the targets' inputs and what they run are
//! in `dapr_cli::fuzzing`; nothing here is needed to replay an input).
//!
//! libFuzzer's byte-level mutations seldom turn a decimal number of an input into one at
//! the edge of a type's range (a TTL of `9000000000000`, an `i64` bound, a count of
//! 2^32): they would have to insert the right digits at the right place. [`mutate_text`]
//! adds that one mutation — replace a run of digits with a boundary number, or make it
//! longer — and leaves the rest to libFuzzer.

use libfuzzer_sys::fuzzer_mutate;

/// Decimal boundary values: signed and unsigned 32/64-bit edges and just past them,
/// durations past what a date can hold, float overflow, values that parse as nothing.
pub const BOUNDARY_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9000000000000",
    "9223372036854775",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "-0",
    "0x10",
    "1_000",
];

/// splitmix64, seeded from libFuzzer's seed so that mutations reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        Rng(u64::from(seed) ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The custom mutator of the text targets: one time in four, [`substitute_number`] (when
/// the input has a number); otherwise libFuzzer's own mutation.
pub fn mutate_text(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(seed);
    if rng.below(4) == 0 {
        let mut v = data[..size].to_vec();
        if substitute_number(&mut v, &mut rng) && v.len() <= max_size {
            data[..v.len()].copy_from_slice(&v);
            return v.len();
        }
    }
    fuzzer_mutate(data, size, max_size)
}

/// Replaces one decimal number of `text` (a run of digits, with its sign) by a
/// [`BOUNDARY_NUMBERS`] entry, or by itself with digits appended. Returns `false` when
/// `text` holds no digit.
pub fn substitute_number(text: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let start = if i > 0 && text[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            while i < text.len() && text[i].is_ascii_digit() {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    if runs.is_empty() {
        return false;
    }
    let run = runs[rng.below(runs.len())].clone();
    let with: Vec<u8> = if rng.below(4) == 0 {
        let mut grown = text[run.clone()].to_vec();
        grown.extend(std::iter::repeat_n(b'9', 1 + rng.below(20)));
        grown
    } else {
        BOUNDARY_NUMBERS[rng.below(BOUNDARY_NUMBERS.len())]
            .as_bytes()
            .to_vec()
    };
    text.splice(run, with);
    true
}
