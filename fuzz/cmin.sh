#!/usr/bin/env bash
# Shrinks fuzz/corpus/<target>/ after a fuzzing run: keeps the named seeds, and of the
# inputs libFuzzer added (named by their SHA-1) only a set that covers the same edges
# (set-cover merge on edge coverage, without hit counts, which keeps a few hundred files).
# Usage (from the repository root): fuzz/cmin.sh <target>...
set -euo pipefail
cd "$(dirname "$0")/.."
for t in "$@"; do
  cargo +nightly fuzz build "$t"
  bin=$(ls -d fuzz/target/*/release/"$t" | head -1)
  all=$(mktemp -d)
  mv "fuzz/corpus/$t" "$all/$t"
  mkdir "fuzz/corpus/$t"
  find "$all/$t" -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' -exec cp {} "fuzz/corpus/$t/" \;
  if ! "$bin" -set_cover_merge=1 -use_counters=0 "fuzz/corpus/$t" "$all/$t" >"$all/merge.log" 2>&1; then
    rm -rf "fuzz/corpus/$t"
    mv "$all/$t" "fuzz/corpus/$t"
    echo "$t: merge failed, corpus left as it was; libFuzzer's output: $all/merge.log" >&2
    exit 1
  fi
  grep MERGE-OUTER "$all/merge.log" | tail -1
  echo "$t: $(find "$all/$t" -type f | wc -l) -> $(find "fuzz/corpus/$t" -type f | wc -l) files"
  rm -rf "$all"
done
