#!/usr/bin/env bash
# Build promql-ast (main.go): Prometheus' own PromQL parser printing the parsed tree as JSON,
# the oracle the importer's injector is tested against (tests/integration/test_import_oracle.py).
# Test infrastructure only, like hack/k8s/build.sh. The Prometheus module version is the one
# prometheus-operator v0.85.0 builds with (its go.mod), so no second Prometheus is pinned here.
#
# Idempotent: prints the binary's path at once when it is cached (keyed by the version and
# main.go's hash). Cache: ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/promql-ast/<key>/
set -euo pipefail

PROM_VERSION=${PROM_VERSION:-v0.305.0}       # = prometheus-operator v0.85.0's go.mod
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KEY=$PROM_VERSION-$(sha256sum "$HERE/main.go" | cut -c1-12)
DEST=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/promql-ast/$KEY
BIN=$DEST/promql-ast
if [[ -x $BIN ]]; then echo "$BIN"; exit 0; fi

GO=$(command -v go || echo /usr/local/go/bin/go)
[[ -x $GO ]] || { echo "build.sh: no Go toolchain (looked on PATH and /usr/local/go/bin)" >&2; exit 1; }
mkdir -p "$DEST"
exec 9>"$DEST/.lock"   # parallel test workers: one builds, the others wait and reuse
flock 9
if [[ -x $BIN ]]; then echo "$BIN"; exit 0; fi

work=$(mktemp -d "$DEST/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$HERE/main.go" "$work/"
cd "$work"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off
printf 'module alertplane.test/promqlast\n\ngo 1.24.0\n\nrequire github.com/prometheus/prometheus %s\n' \
  "$PROM_VERSION" > go.mod
"$GO" build -trimpath -ldflags "-s -w" -o promql-ast . >&2
mv -f promql-ast "$BIN"
echo "$BIN"
