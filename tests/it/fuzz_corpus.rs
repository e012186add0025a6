//! The fuzz corpus replayed on stable: every file of `fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/` (fixed crash reproducers) goes through the same entry point
//! as the libFuzzer target (`dapr_cli::fuzzing`), so CI catches a regression on any input
//! the fuzzers once found interesting without running a fuzzer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use dapr_cli::fuzzing::{SQLITE_WORKER_THREAD, TARGETS};

/// Panics on the fuzz SQLite store's worker thread, which the caller only sees as an error
/// answer (under libFuzzer, its panic hook makes them crashes).
static WORKER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_worker_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SQLITE_WORKER_THREAD) {
                WORKER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_seed_corpus() {
    for (name, _) in TARGETS {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        assert!(
            text.contains(&format!("dapr_cli::fuzzing::{name}(")),
            "{} does not call dapr_cli::fuzzing::{name}",
            target.display()
        );
        let corpus = fuzz_dir().join("corpus").join(name);
        assert!(!files(&corpus).is_empty(), "{} is empty", corpus.display());
    }
}

#[test]
fn corpus_and_fixed_crashes_replay_without_panicking() {
    // Panics are caught per input and reported together at the end.
    count_worker_panics();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, run) in TARGETS {
        for dir in ["corpus", "artifacts"] {
            for file in files(&fuzz_dir().join(dir).join(name)) {
                let data = std::fs::read(&file).unwrap();
                replayed += 1;
                let worker_panics = WORKER_PANICS.load(Ordering::SeqCst);
                let result = catch_unwind(AssertUnwindSafe(|| run(&data)));
                if WORKER_PANICS.load(Ordering::SeqCst) != worker_panics {
                    failures.push(format!(
                        "{}: panic on {SQLITE_WORKER_THREAD}",
                        file.display()
                    ));
                }
                if let Err(panic) = result {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{}: {msg}", file.display()));
                }
            }
        }
    }
    assert!(replayed > 0, "no corpus under {}", fuzz_dir().display());
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs panicked (reproduce with `cargo +nightly fuzz run <target> <file>`):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
