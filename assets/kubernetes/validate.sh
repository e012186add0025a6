#!/bin/sh
# Validate the embedded control-plane manifests against the official Kubernetes JSON
# schemas (strict mode, Kubernetes 1.29 and 1.33) with PyPI kubernetes-validate, installed
# in a throw-away virtualenv. Run from the repository root; CI runs it as well.
set -eu
venv="${TMPDIR:-/tmp}/dapr-cli-kubernetes-validate"
[ -x "$venv/bin/kubernetes-validate" ] || {
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate
}
KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate" \
    cargo test --test it cli_k8s::rendered_manifests_pass_kubernetes_validate_strict -- --ignored
