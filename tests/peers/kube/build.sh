#!/usr/bin/env bash
# Builds the real Kubernetes API server and its etcd for the Kubernetes tests
# (tests/it/k8s_real), from the Go modules pinned in this folder's go.mod:
#   kube-apiserver  k8s.io/kubernetes cmd/kube-apiserver (the staging modules via `replace`)
#   etcd            go.etcd.io/etcd/server/v3 behind etcd/main.go, at the version
#                   k8s.io/kubernetes itself requires
# and caches both outside the repository, in
#   ${DAPR_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-cli/kube}/<kubernetes version>/
# Does nothing when both binaries are already there (--rebuild builds anyway). The tests
# look there (or at DAPR_KUBE_APISERVER / DAPR_ETCD) and print a SKIP line without them.
# Prints timings on stderr and the cache folder on stdout.
#
# Needs: go >= 1.26 (modules come from the Go module proxy). First build on 2 cores: see
# README.md (Tests); a few hundred MB of module cache.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REBUILD=0
case "${1:-}" in
  --rebuild) REBUILD=1 ;;
  "") ;;
  *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

version_of() { # module path -> version required by go.mod
  sed -n -E "s#^[[:space:]]*(require[[:space:]]+)?$1 v([0-9][^ ]*).*#\\2#p" "$HERE/go.mod" | head -1
}
K8S=$(version_of k8s.io/kubernetes)
ETCD=$(version_of go.etcd.io/etcd/server/v3)
if [[ -z $K8S || -z $ETCD ]]; then
  echo "kube-peers: cannot read the k8s.io/kubernetes and go.etcd.io/etcd/server/v3 versions from $HERE/go.mod" >&2
  exit 1
fi

OUT=${DAPR_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-cli/kube}/$K8S
if [[ $REBUILD == 0 && -x $OUT/kube-apiserver && -x $OUT/etcd ]]; then
  echo "kube-peers: cached in $OUT (kube-apiserver v$K8S, etcd v$ETCD)" >&2
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || {
  echo "kube-peers: go is not installed (needed to build k8s.io/kubernetes@v$K8S and go.etcd.io/etcd/server/v3@v$ETCD)" >&2
  exit 1
}
mkdir -p "$OUT"
LOG="$OUT/build.log"
: >"$LOG"
fail() {
  echo "kube-peers: $1" >&2
  echo "--- go's output (last 40 lines; full log: $LOG) ---" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"
cd "$HERE"
T0=$(date +%s)

echo "kube-peers: downloading modules for k8s.io/kubernetes@v$K8S and go.etcd.io/etcd/server/v3@v$ETCD ..." >&2
go mod download >>"$LOG" 2>&1 ||
  fail "a module did not resolve (GOPROXY=$(go env GOPROXY)); go names the module@version below"
T1=$(date +%s)
echo "kube-peers: modules ready in $((T1 - T0)) s" >&2

# The version the server reports (/version, kubectl version), as Kubernetes' own build sets it.
MINOR=${K8S#*.}
MINOR=${MINOR%%.*}
LD="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $pkg.gitVersion=v$K8S -X $pkg.gitMajor=${K8S%%.*} -X $pkg.gitMinor=$MINOR -X $pkg.gitTreeState=clean"
done
echo "kube-peers: building kube-apiserver (k8s.io/kubernetes@v$K8S cmd/kube-apiserver) ..." >&2
go build -ldflags "$LD" -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >>"$LOG" 2>&1 ||
  fail "building k8s.io/kubernetes@v$K8S cmd/kube-apiserver failed"
T2=$(date +%s)
echo "kube-peers: kube-apiserver built in $((T2 - T1)) s" >&2

echo "kube-peers: building etcd (go.etcd.io/etcd/server/v3@v$ETCD etcdmain) ..." >&2
go build -ldflags "-s -w" -o "$OUT/etcd.tmp" ./etcd >>"$LOG" 2>&1 ||
  fail "building go.etcd.io/etcd/server/v3@v$ETCD (etcdmain) failed"
T3=$(date +%s)
echo "kube-peers: etcd built in $((T3 - T2)) s" >&2

mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
mv "$OUT/etcd.tmp" "$OUT/etcd"
echo "kube-peers: done in $((T3 - T0)) s: $OUT ($(du -h "$OUT/kube-apiserver" | cut -f1) kube-apiserver, $(du -h "$OUT/etcd" | cut -f1) etcd)" >&2
echo "$OUT"
