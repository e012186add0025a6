//! `cargo +nightly fuzz run grpc_api`: see `dapr_cli::fuzzing::grpc_api` for what it covers.
//!
//! Byte-level mutations rarely keep protobuf valid (a string inside a state item sits
//! under three length prefixes), so most mutations here are structure-aware: the input's
//! frames are parsed, one message is parsed as protobuf wire format (recursively, where a
//! length-delimited field is itself a message), one field is changed, added, duplicated or
//! removed, and every length is re-encoded. Leaf bytes (keys, values, metadata strings)
//! are mutated by libFuzzer itself, so dictionary entries (`-dict=fuzz/dict/grpc_api.dict`)
//! land inside them, or get a number replaced by a boundary value
//! (`dapr_cli_fuzz::substitute_number`). One mutation in five is libFuzzer's plain
//! byte-level one.
#![no_main]

use dapr_cli_fuzz::{Rng, substitute_number};
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| dapr_cli::fuzzing::grpc_api(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(seed);
    let mut frames = parse_frames(&data[..size]);
    if frames.is_empty() || rng.below(5) == 0 {
        return fuzzer_mutate(data, size, max_size);
    }
    let i = rng.below(frames.len());
    match rng.below(10) {
        0 if frames.len() < 16 => {
            let copy = frames[i].clone();
            frames.insert(rng.below(frames.len() + 1), copy);
        }
        1 if frames.len() > 1 => {
            frames.remove(i);
        }
        2 => frames[i].0 = rng.next() as u8,
        _ => mutate_message(&mut frames[i].1, &mut rng, 0),
    }
    let out = encode_frames(&frames);
    if out.len() > max_size {
        return fuzzer_mutate(data, size, max_size);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
});

/// The frames as `dapr_cli::fuzzing::grpc_api` reads them: `[selector][len u16 LE][bytes]`.
fn parse_frames(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while let [sel, rest @ ..] = data {
        let (len, body) = match rest {
            [a, b, body @ ..] => (u16::from_le_bytes([*a, *b]) as usize, body),
            _ => (0, &[][..]),
        };
        let len = len.min(body.len());
        out.push((*sel, body[..len].to_vec()));
        data = &body[len..];
    }
    out
}

fn encode_frames(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (sel, msg) in frames {
        let msg = &msg[..msg.len().min(u16::MAX as usize)];
        out.push(*sel);
        out.extend_from_slice(&(msg.len() as u16).to_le_bytes());
        out.extend_from_slice(msg);
    }
    out
}

#[derive(Clone)]
enum Value {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

#[derive(Clone)]
struct Field {
    number: u64,
    value: Value,
}

fn read_varint(data: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = data.split_first()?;
        *data = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A whole protobuf message in wire format, or `None` when `data` is not one.
fn parse_message(mut data: &[u8]) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let key = read_varint(&mut data)?;
        let number = key >> 3;
        if number == 0 {
            return None;
        }
        let value = match key & 7 {
            0 => Value::Varint(read_varint(&mut data)?),
            1 => {
                let (v, rest) = data.split_first_chunk::<8>()?;
                data = rest;
                Value::Fixed64(*v)
            }
            2 => {
                let len = usize::try_from(read_varint(&mut data)?).ok()?;
                let (v, rest) = data.split_at_checked(len)?;
                data = rest;
                Value::Bytes(v.to_vec())
            }
            5 => {
                let (v, rest) = data.split_first_chunk::<4>()?;
                data = rest;
                Value::Fixed32(*v)
            }
            _ => return None,
        };
        fields.push(Field { number, value });
    }
    Some(fields)
}

fn encode_message(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        let wire = match f.value {
            Value::Varint(_) => 0,
            Value::Fixed64(_) => 1,
            Value::Bytes(_) => 2,
            Value::Fixed32(_) => 5,
        };
        write_varint(&mut out, f.number << 3 | wire);
        match &f.value {
            Value::Varint(v) => write_varint(&mut out, *v),
            Value::Fixed64(v) => out.extend_from_slice(v),
            Value::Bytes(v) => {
                write_varint(&mut out, v.len() as u64);
                out.extend_from_slice(v);
            }
            Value::Fixed32(v) => out.extend_from_slice(v),
        }
    }
    out
}

/// Boundary values for varint fields (enums, counts, bools, versions).
const VARINTS: &[u64] = &[
    0,
    1,
    2,
    3,
    0x7f,
    0x80,
    i32::MAX as u64,
    u32::MAX as u64,
    i64::MAX as u64,
    u64::MAX,
];

fn mutate_message(msg: &mut Vec<u8>, rng: &mut Rng, depth: usize) {
    let Some(mut fields) = parse_message(msg) else {
        mutate_bytes(msg, rng);
        return;
    };
    if fields.is_empty() || rng.below(8) == 0 {
        let value = match rng.below(3) {
            0 => Value::Varint(VARINTS[rng.below(VARINTS.len())]),
            _ => Value::Bytes(Vec::new()),
        };
        let number = 1 + rng.below(12) as u64;
        fields.insert(rng.below(fields.len() + 1), Field { number, value });
    } else {
        let i = rng.below(fields.len());
        match rng.below(12) {
            0 => {
                fields.remove(i);
            }
            1 => {
                let copy = fields[i].clone();
                fields.insert(i, copy);
            }
            _ => match &mut fields[i].value {
                Value::Varint(v) => {
                    *v = match rng.below(3) {
                        0 => VARINTS[rng.below(VARINTS.len())],
                        1 => v.wrapping_add(1),
                        _ => rng.next() >> rng.below(64),
                    }
                }
                Value::Fixed64(v) => *v = rng.next().to_le_bytes(),
                Value::Fixed32(v) => *v = (rng.next() as u32).to_le_bytes(),
                Value::Bytes(b) => {
                    let nested = depth < 6
                        && rng.below(4) != 0
                        && parse_message(b).is_some_and(|f| !f.is_empty());
                    if nested {
                        mutate_message(b, rng, depth + 1);
                    } else {
                        mutate_bytes(b, rng);
                    }
                }
            },
        }
    }
    *msg = encode_message(&fields);
}

/// libFuzzer's own mutation (dictionary insertions included) of one leaf, or a number of
/// it replaced by a boundary value.
fn mutate_bytes(b: &mut Vec<u8>, rng: &mut Rng) {
    if rng.below(3) == 0 && substitute_number(b, rng) {
        return;
    }
    let size = b.len();
    let cap = size + 32 + rng.below(64);
    b.resize(cap, 0);
    let n = fuzzer_mutate(b, size, cap);
    b.truncate(n);
}
