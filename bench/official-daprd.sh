#!/usr/bin/env bash
# Builds the official Dapr runtime `daprd` (Go module github.com/dapr/dapr, cmd/daprd, plus the
# SQLite name resolver: see bench/official/main.go) from the wrapper module in bench/official,
# caches the binary outside the repository and prints its path. A cached binary is reused.
#
# Usage: bench/official-daprd.sh [--version X.Y.Z] [--rebuild]
#   --version  the github.com/dapr/dapr release to build (default: the one bench/official/go.mod
#              requires). Another version gets a wrapper generated from that release's own
#              go.mod (its `replace` directives are repeated, then `go mod tidy`).
#   --rebuild  build even when the cached binary exists
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/dapr-cli/official/<version>/daprd (override the root
# with DAPR_OFFICIAL_CACHE). The interop tests find it there, or via DAPR_OFFICIAL_DAPRD.
# Needs: go (module downloads come from the Go module proxy). First build on 2 cores: about 7
# minutes with the modules downloaded (13 with -p=1 on a busy host), plus about 1.5 GB of
# module cache; stdout is only the binary's path. .ci/run calls it so the interop tests run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WRAPPER="$ROOT/bench/official"
MODULE=github.com/dapr/dapr
PINNED=$(sed -n -E "s#^[[:space:]]*(require[[:space:]]+)?$MODULE v([0-9][^ ]*)\$#\\2#p" "$WRAPPER/go.mod" | head -1)
VERSION=$PINNED REBUILD=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) VERSION=${2#v}; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    *) echo "unknown option $1 (valid: --version X.Y.Z, --rebuild)" >&2; exit 2 ;;
  esac
done
if [[ -z $VERSION ]]; then
  echo "official-daprd: cannot read the required $MODULE version from $WRAPPER/go.mod" >&2
  exit 1
fi

CACHE_ROOT=${DAPR_OFFICIAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-cli/official}
OUT="$CACHE_ROOT/$VERSION"
BIN="$OUT/daprd"
if [[ $REBUILD == 0 && -x $BIN ]]; then
  echo "$BIN"
  exit 0
fi

fail() { # what, log file
  echo "official-daprd: $1" >&2
  if [[ -n ${2:-} && -s $2 ]]; then
    # Go names the failing module@version or package in its own error lines; show them.
    echo "--- go's output (last 40 lines; full log: $2) ---" >&2
    tail -n 40 "$2" >&2
  fi
  exit 1
}

command -v go >/dev/null || fail "go is not installed (needed to build $MODULE@v$VERSION)"
# Go builds with as many jobs as CPUs; set GOFLAGS=-p=1 to leave a core to other work.
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
mkdir -p "$OUT"
SRC="$OUT/src"
rm -rf "$SRC"
mkdir -p "$SRC"
LOG="$OUT/build.log"
: >"$LOG"
cp "$WRAPPER/main.go" "$SRC/"

echo "official-daprd: resolving $MODULE@v$VERSION ..." >&2
RC=0
go mod download -json "$MODULE@v$VERSION" >"$OUT/module.json" 2>>"$LOG" || RC=$?
WHY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Error",""))' "$OUT/module.json" 2>/dev/null || true)
if [[ $RC != 0 || -n $WHY ]]; then
  fail "module $MODULE@v$VERSION cannot be resolved (GOPROXY=$(go env GOPROXY)): ${WHY:-see the output of go below}" "$LOG"
fi

if [[ $VERSION == "$PINNED" ]]; then
  cp "$WRAPPER/go.mod" "$WRAPPER/go.sum" "$SRC/"
else
  # A wrapper for another release: its go directive, its requirement and its replaces.
  UPSTREAM_MOD=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "$OUT/module.json")
  GOVER=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$UPSTREAM_MOD")
  (
    cd "$SRC"
    printf 'module daprcli.local/bench/official\n\ngo %s\n\nrequire %s v%s\n' \
      "${GOVER:-1.22}" "$MODULE" "$VERSION" >go.mod
    go mod edit -json "$UPSTREAM_MOD" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    lhs = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    if not new.get("Version"):
        continue  # a local directory: only in the upstream checkout
    print(f"-replace={lhs}={new["Path"]}@{new["Version"]}")
' | xargs -r go mod edit
  ) >>"$LOG" 2>&1 || fail "cannot write a wrapper go.mod for $MODULE@v$VERSION" "$LOG"
  echo "official-daprd: go mod tidy for v$VERSION (downloads the dependencies) ..." >&2
  (cd "$SRC" && go mod tidy) >>"$LOG" 2>&1 ||
    fail "go mod tidy failed for $MODULE@v$VERSION: a dependency did not resolve (see the module@version in go's output)" "$LOG"
fi

echo "official-daprd: building $MODULE@v$VERSION cmd/daprd (-tags stablecomponents); the first build takes minutes ..." >&2
START=$(date +%s)
if ! (cd "$SRC" && go build -tags stablecomponents \
  -ldflags "-X $MODULE/pkg/buildinfo.version=$VERSION" -o "$BIN.tmp" .) >>"$LOG" 2>&1; then
  rm -f "$BIN.tmp"
  fail "building $MODULE@v$VERSION (cmd/daprd, -tags stablecomponents) failed" "$LOG"
fi
mv "$BIN.tmp" "$BIN"
echo "official-daprd: built in $(($(date +%s) - START)) s: $("$BIN" --version 2>/dev/null || echo '?')" >&2
echo "$BIN"
