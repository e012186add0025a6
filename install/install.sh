#!/usr/bin/env bash

# ------------------------------------------------------------
# Copyright The dapr-cli Authors.
# Licensed under the Apache License, Version 2.0.
# ------------------------------------------------------------
#
# Installs the `dapr` CLI and the `daprd` sidecar from a release archive.
#
#   curl -fsSL <url>/install.sh | bash              # latest release
#   curl -fsSL <url>/install.sh | bash -s 1.2.3     # a given version (a leading "v" is optional)
#
# What it downloads: `dapr-cli_<os>_<arch>.tar.gz` (holding `dapr` and `daprd` at its root)
# and `dapr-cli_<os>_<arch>.tar.gz.sha256` (`<hex>  <file>`, or a bare hex digest).
# Supported platforms: linux-amd64, linux-arm64, linux-arm, darwin-amd64, darwin-arm64.
#
# Where it downloads from (the URL rule):
#   DAPR_RELEASE_BASE_URL unset (GitHub releases of ${GITHUB_ORG}/${GITHUB_REPO}):
#     latest:      https://github.com/<org>/<repo>/releases/latest/download/<file>
#     version V:   https://github.com/<org>/<repo>/releases/download/v<V>/<file>
#   DAPR_RELEASE_BASE_URL set (a mirror, or the `dist/` folder of install/package.sh):
#     latest:      $DAPR_RELEASE_BASE_URL/<file>
#     version V:   $DAPR_RELEASE_BASE_URL/v<V>/<file>
#
# Where it installs: DAPR_INSTALL_DIR when set (created if missing; an error if not writable).
# Otherwise /usr/local/bin when writable, else $HOME/.local/bin. sudo is never used.
#
# Nothing is half-installed: the archive is downloaded, verified against its checksum,
# extracted and test-run in a temporary directory; the binaries are then copied next to
# their destination under temporary names and renamed into place, so any failure leaves a
# previous installation untouched.

# A failing command inside a pipeline fails the pipeline (e.g. `sha256sum | cut`).
set -o pipefail

# Release location, overridable (see the URL rule above).
: "${GITHUB_ORG:=dapr-cli-rs}"
: "${GITHUB_REPO:=dapr-cli}"
: "${DAPR_RELEASE_BASE_URL:=}"

# Install location; empty means "pick the default" (see above).
: "${DAPR_INSTALL_DIR:=}"

# The archive's name prefix and the binaries it must hold.
DAPR_ARTIFACT_PREFIX="dapr-cli"
DAPR_CLI_FILENAME="dapr"
DAPR_SIDECAR_FILENAME="daprd"

# Set by the functions below.
DAPR_HTTP_REQUEST_CLI=""
DAPR_TMP_ROOT=""
DAPR_STAGED_FILES=()
OS=""
ARCH=""

info() {
    echo "$*"
}

# Prints an error to stderr and exits; fail_trap then cleans up.
fail() {
    echo "Error: $*" >&2
    exit 1
}

getSystemInfo() {
    local machine
    machine=$(uname -m) || fail "could not run 'uname -m' to detect the CPU architecture"
    case "$machine" in
        x86_64 | amd64) ARCH="amd64" ;;
        aarch64 | arm64) ARCH="arm64" ;;
        armv7* | armv6* | arm) ARCH="arm" ;;
        *) ARCH="$machine" ;;
    esac

    local kernel
    kernel=$(uname -s) || fail "could not run 'uname -s' to detect the operating system"
    OS=$(echo "$kernel" | tr '[:upper:]' '[:lower:]')
}

verifySupported() {
    local supported=(linux-amd64 linux-arm64 linux-arm darwin-amd64 darwin-arm64)
    local current="${OS}-${ARCH}"
    local osarch
    for osarch in "${supported[@]}"; do
        if [ "$osarch" == "$current" ]; then
            info "Your system is ${OS}_${ARCH}"
            return
        fi
    done
    fail "no prebuilt binary for ${current} (supported: ${supported[*]})"
}

checkHttpRequestCLI() {
    if command -v curl >/dev/null 2>&1; then
        DAPR_HTTP_REQUEST_CLI=curl
    elif command -v wget >/dev/null 2>&1; then
        DAPR_HTTP_REQUEST_CLI=wget
    else
        fail "either curl or wget is required to download Dapr CLI; install one of them and retry"
    fi
}

# Chooses DAPR_INSTALL_DIR when the user did not.
chooseInstallDir() {
    if [ -n "$DAPR_INSTALL_DIR" ]; then
        mkdir -p "$DAPR_INSTALL_DIR" 2>/dev/null ||
            fail "cannot create the install directory ${DAPR_INSTALL_DIR} (set DAPR_INSTALL_DIR to a writable directory)"
        [ -w "$DAPR_INSTALL_DIR" ] ||
            fail "the install directory ${DAPR_INSTALL_DIR} is not writable (set DAPR_INSTALL_DIR to a writable directory)"
        return
    fi
    if [ -d /usr/local/bin ] && [ -w /usr/local/bin ]; then
        DAPR_INSTALL_DIR=/usr/local/bin
        return
    fi
    [ -n "${HOME:-}" ] || fail "/usr/local/bin is not writable and HOME is not set; set DAPR_INSTALL_DIR"
    DAPR_INSTALL_DIR="${HOME}/.local/bin"
    info "/usr/local/bin is not writable, installing into ${DAPR_INSTALL_DIR} instead"
    mkdir -p "$DAPR_INSTALL_DIR" 2>/dev/null ||
        fail "cannot create the install directory ${DAPR_INSTALL_DIR} (set DAPR_INSTALL_DIR to a writable directory)"
}

checkExistingDapr() {
    local existing="${DAPR_INSTALL_DIR}/${DAPR_CLI_FILENAME}"
    if [ -f "$existing" ]; then
        info "Dapr CLI is detected:"
        "$existing" --version </dev/null 2>/dev/null || info "(its version could not be read)"
        info "Reinstalling Dapr CLI - ${existing}..."
    else
        info "Installing Dapr CLI..."
    fi
}

# Fetches URL $1 into file $2; returns non-zero on any HTTP or network failure.
fetch() {
    if [ "$DAPR_HTTP_REQUEST_CLI" == "curl" ]; then
        curl --fail --silent --show-error --location --output "$2" "$1"
    else
        wget --quiet --output-document="$2" "$1"
    fi
}

# Builds the URL of release file $1 for version $2 (empty = latest).
releaseUrl() {
    local file=$1 version=$2
    if [ -n "$DAPR_RELEASE_BASE_URL" ]; then
        local base="${DAPR_RELEASE_BASE_URL%/}"
        if [ -n "$version" ]; then
            echo "${base}/v${version}/${file}"
        else
            echo "${base}/${file}"
        fi
    elif [ -n "$version" ]; then
        echo "https://github.com/${GITHUB_ORG}/${GITHUB_REPO}/releases/download/v${version}/${file}"
    else
        echo "https://github.com/${GITHUB_ORG}/${GITHUB_REPO}/releases/latest/download/${file}"
    fi
}

downloadFile() {
    local version=$1
    DAPR_ARTIFACT="${DAPR_ARTIFACT_PREFIX}_${OS}_${ARCH}.tar.gz"
    DAPR_TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/dapr-install-XXXXXX") ||
        fail "could not create a temporary directory"
    ARTIFACT_TMP_FILE="${DAPR_TMP_ROOT}/${DAPR_ARTIFACT}"
    CHECKSUM_TMP_FILE="${ARTIFACT_TMP_FILE}.sha256"

    local url
    url=$(releaseUrl "$DAPR_ARTIFACT" "$version")
    info "Downloading ${url} ..."
    fetch "$url" "$ARTIFACT_TMP_FILE" || fail "failed to download ${url}"
    url=$(releaseUrl "${DAPR_ARTIFACT}.sha256" "$version")
    fetch "$url" "$CHECKSUM_TMP_FILE" || fail "failed to download ${url}"
}

# Prints the SHA-256 hex digest of file $1.
sha256Of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        fail "either sha256sum or shasum is required to verify the download"
    fi
}

verifyFile() {
    local expected actual
    # First word of the first line: "<hex>  <file>" and a bare "<hex>" both work.
    read -r expected _ <"$CHECKSUM_TMP_FILE" || true
    expected=$(echo "$expected" | tr '[:upper:]' '[:lower:]')
    if ! [[ "$expected" =~ ^[0-9a-f]{64}$ ]]; then
        fail "the checksum file ${DAPR_ARTIFACT}.sha256 is malformed (expected a SHA-256 hex digest)"
    fi
    actual=$(sha256Of "$ARTIFACT_TMP_FILE") || exit 1
    if [ "$actual" != "$expected" ]; then
        fail "checksum mismatch for ${DAPR_ARTIFACT}: expected ${expected}, got ${actual}; the download is corrupt or was tampered with, nothing was installed"
    fi
    info "Checksum verified (sha256 ${actual})"
}

installFile() {
    local extracted="${DAPR_TMP_ROOT}/extracted"
    mkdir -p "$extracted"
    tar -xzf "$ARTIFACT_TMP_FILE" -C "$extracted" ||
        fail "could not extract ${DAPR_ARTIFACT}; the archive is damaged"

    local name
    for name in "$DAPR_CLI_FILENAME" "$DAPR_SIDECAR_FILENAME"; do
        [ -f "${extracted}/${name}" ] || fail "${DAPR_ARTIFACT} does not contain '${name}'"
        [ ! -L "${extracted}/${name}" ] || fail "'${name}' in ${DAPR_ARTIFACT} is a symlink, not a binary"
        chmod 755 "${extracted}/${name}"
    done
    # A binary for another platform, or a truncated one, fails here, before anything moves.
    local output
    for name in "$DAPR_CLI_FILENAME" "$DAPR_SIDECAR_FILENAME"; do
        output=$("${extracted}/${name}" --version </dev/null 2>&1) ||
            fail "the downloaded '${name}' does not run on this system ('${name} --version' failed: ${output:-no output})"
    done

    # Stage both next to their destination (same file system), then rename: a rename is atomic.
    for name in "$DAPR_SIDECAR_FILENAME" "$DAPR_CLI_FILENAME"; do
        local staged="${DAPR_INSTALL_DIR}/.${name}.tmp.$$"
        DAPR_STAGED_FILES+=("$staged")
        cp "${extracted}/${name}" "$staged" || fail "could not write ${staged}"
        chmod 755 "$staged"
    done
    for name in "$DAPR_SIDECAR_FILENAME" "$DAPR_CLI_FILENAME"; do
        mv -f "${DAPR_INSTALL_DIR}/.${name}.tmp.$$" "${DAPR_INSTALL_DIR}/${name}" ||
            fail "could not move ${name} into ${DAPR_INSTALL_DIR}"
    done
    DAPR_STAGED_FILES=()

    info "${DAPR_CLI_FILENAME} and ${DAPR_SIDECAR_FILENAME} installed into ${DAPR_INSTALL_DIR} successfully."
    "${DAPR_INSTALL_DIR}/${DAPR_CLI_FILENAME}" --version </dev/null
}

fail_trap() {
    local result=$?
    if [ "$result" != "0" ]; then
        echo "Failed to install Dapr CLI" >&2
    fi
    cleanup
    exit "$result"
}

cleanup() {
    local staged
    for staged in "${DAPR_STAGED_FILES[@]}"; do
        rm -f "$staged"
    done
    if [ -n "$DAPR_TMP_ROOT" ] && [ -d "$DAPR_TMP_ROOT" ]; then
        rm -rf "$DAPR_TMP_ROOT"
    fi
}

installCompleted() {
    case ":${PATH}:" in
        *":${DAPR_INSTALL_DIR}:"*) ;;
        *)
            info ""
            info "${DAPR_INSTALL_DIR} is not on your PATH. Add it with:"
            info "    export PATH=\"${DAPR_INSTALL_DIR}:\$PATH\""
            ;;
    esac
    info ""
    info "To get started with Dapr, run: dapr init"
    info "Docs: https://docs.dapr.io/getting-started"
}

# -----------------------------------------------------------------------------
# main
# -----------------------------------------------------------------------------
# Everything runs from one function called on the last line: with `curl | bash`, a
# download cut short ends inside a definition (a syntax error) or before the call, so a
# partial script never runs.
main() {
    trap "fail_trap" EXIT

    DAPR_VERSION="${1:-}"
    DAPR_VERSION="${DAPR_VERSION#v}"
    if [ -n "$DAPR_VERSION" ] && ! [[ "$DAPR_VERSION" =~ ^[0-9A-Za-z.+-]+$ ]]; then
        fail "invalid version '${1}': expected a release version such as 1.2.3 or v1.2.3"
    fi

    getSystemInfo
    verifySupported
    checkHttpRequestCLI
    chooseInstallDir
    checkExistingDapr

    downloadFile "$DAPR_VERSION"
    verifyFile
    installFile
    cleanup

    installCompleted
}

main "$@"
