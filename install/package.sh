#!/usr/bin/env bash

# ------------------------------------------------------------
# Copyright The dapr-cli Authors.
# Licensed under the Apache License, Version 2.0.
# ------------------------------------------------------------
#
# Packages the `dapr` and `daprd` binaries into the release archive that install.sh downloads:
#
#   <dist>/dapr-cli_<os>_<arch>.tar.gz          `dapr` and `daprd` at the archive root
#   <dist>/dapr-cli_<os>_<arch>.tar.gz.sha256   `<hex>  dapr-cli_<os>_<arch>.tar.gz`
#
# Usage: install/package.sh [--no-build]
#
# Overridable variables:
#   DAPR_BIN_DIR     where `dapr` and `daprd` are taken from. Default: <repo>/target/release,
#                    built first with `cargo build --release`. Setting it skips the build.
#   DAPR_SKIP_BUILD  "1" (or the --no-build flag): use the existing release build as is.
#   DAPR_DIST_DIR    output directory (created if missing). Default: <repo>/dist.
#   DAPR_GZIP_LEVEL  gzip level 1 (fast) to 9 (small). Default: 9.
#   DAPR_OS, DAPR_ARCH  platform names in the archive name. Default: detected from `uname`,
#                    with the same names install.sh uses (linux|darwin, amd64|arm64|arm).
#                    Set them when packaging a cross-compiled build.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

: "${DAPR_BIN_DIR:=}"
: "${DAPR_SKIP_BUILD:=0}"
: "${DAPR_DIST_DIR:=${REPO_ROOT}/dist}"
: "${DAPR_OS:=}"
: "${DAPR_ARCH:=}"
: "${DAPR_GZIP_LEVEL:=9}"

DAPR_ARTIFACT_PREFIX="dapr-cli"
BINARIES=(dapr daprd)
PKG_TMP_ROOT=""

fail() {
    echo "Error: $*" >&2
    exit 1
}

cleanup() {
    if [ -n "$PKG_TMP_ROOT" ] && [ -d "$PKG_TMP_ROOT" ]; then
        rm -rf "$PKG_TMP_ROOT"
    fi
}

parseArgs() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            --no-build) DAPR_SKIP_BUILD=1 ;;
            -h | --help)
                sed -n '8,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
            *) fail "unknown argument '${arg}' (valid: --no-build, --help)" ;;
        esac
    done
}

getSystemInfo() {
    case "$DAPR_GZIP_LEVEL" in
        [1-9]) ;;
        *) fail "DAPR_GZIP_LEVEL must be a digit from 1 to 9, got '${DAPR_GZIP_LEVEL}'" ;;
    esac
    if [ -z "$DAPR_ARCH" ]; then
        local machine
        machine=$(uname -m)
        case "$machine" in
            x86_64 | amd64) DAPR_ARCH="amd64" ;;
            aarch64 | arm64) DAPR_ARCH="arm64" ;;
            armv7* | armv6* | arm) DAPR_ARCH="arm" ;;
            *) fail "unsupported architecture '${machine}'; set DAPR_ARCH to one of amd64, arm64, arm" ;;
        esac
    fi
    if [ -z "$DAPR_OS" ]; then
        DAPR_OS=$(uname -s | tr '[:upper:]' '[:lower:]')
    fi
    case "$DAPR_OS" in
        linux | darwin) ;;
        *) fail "unsupported operating system '${DAPR_OS}'; set DAPR_OS to linux or darwin" ;;
    esac
}

buildBinaries() {
    if [ -n "$DAPR_BIN_DIR" ]; then
        return
    fi
    DAPR_BIN_DIR="${REPO_ROOT}/target/release"
    if [ "$DAPR_SKIP_BUILD" == "1" ]; then
        return
    fi
    echo "Building release binaries (cargo build --release) ..."
    (cd "$REPO_ROOT" && cargo build --release --bin dapr --bin daprd)
}

checkBinaries() {
    local name
    for name in "${BINARIES[@]}"; do
        [ -f "${DAPR_BIN_DIR}/${name}" ] ||
            fail "${DAPR_BIN_DIR}/${name} not found (build it, or point DAPR_BIN_DIR at the directory holding dapr and daprd)"
        [ -x "${DAPR_BIN_DIR}/${name}" ] || fail "${DAPR_BIN_DIR}/${name} is not executable"
    done
}

# Prints the SHA-256 hex digest of file $1.
sha256Of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        fail "either sha256sum or shasum is required"
    fi
}

writeArchive() {
    local artifact="${DAPR_ARTIFACT_PREFIX}_${DAPR_OS}_${DAPR_ARCH}.tar.gz"
    mkdir -p "$DAPR_DIST_DIR"
    PKG_TMP_ROOT=$(mktemp -d "${DAPR_DIST_DIR}/.package-XXXXXX")

    # Copy first so the archive holds plain files at its root, whatever DAPR_BIN_DIR looks like.
    local name
    for name in "${BINARIES[@]}"; do
        cp "${DAPR_BIN_DIR}/${name}" "${PKG_TMP_ROOT}/${name}"
        chmod 755 "${PKG_TMP_ROOT}/${name}"
    done
    tar -cf - -C "$PKG_TMP_ROOT" "${BINARIES[@]}" | gzip "-${DAPR_GZIP_LEVEL}" >"${PKG_TMP_ROOT}/${artifact}"

    local digest
    digest=$(sha256Of "${PKG_TMP_ROOT}/${artifact}")
    printf '%s  %s\n' "$digest" "$artifact" >"${PKG_TMP_ROOT}/${artifact}.sha256"

    # Archive before checksum, each by rename, so a reader never sees a checksum without its archive.
    mv -f "${PKG_TMP_ROOT}/${artifact}" "${DAPR_DIST_DIR}/${artifact}"
    mv -f "${PKG_TMP_ROOT}/${artifact}.sha256" "${DAPR_DIST_DIR}/${artifact}.sha256"
    echo "Wrote ${DAPR_DIST_DIR}/${artifact}"
    echo "Wrote ${DAPR_DIST_DIR}/${artifact}.sha256 (${digest})"
}

# -----------------------------------------------------------------------------
# main
# -----------------------------------------------------------------------------
trap cleanup EXIT

parseArgs "$@"
getSystemInfo
buildBinaries
checkBinaries
writeArchive
