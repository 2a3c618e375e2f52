#!/usr/bin/env bash
# Build prometheus-operator (the operator binary) and the Alertmanager it targets (alertmanager,
# amtool) from their upstream Go modules with the local Go, for the tests that run the real
# prometheus-operator against the test API server (tests/support/promop_env.py). No binaries are
# downloaded: the sources come through the Go module proxy, like hack/k8s/build.sh.
#
# Idempotent: if the binaries are already cached it exits at once. The last line printed is
# always the bin dir. Cache: ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/promop/<version>/bin
set -euo pipefail

PROMOP_VERSION=${PROMOP_VERSION:-v0.85.0}      # pinned; the API the sinks target (promop-crds.sh)
AM_VERSION=${AM_VERSION:-v0.28.1}              # the Alertmanager PO v0.85 deploys by default
CACHE_ROOT=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}
# AM_VERSION is the one PO_VERSION targets, so the PO version alone names the cache dir;
# bump both together.
DEST=$CACHE_ROOT/promop/$PROMOP_VERSION
TOOLS=(operator alertmanager amtool)
NAME=promop
# shellcheck source=../lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gobuild.sh"  # cached? lock, work dir, Go env

moddir() {  # the module cache dir of module $1 (downloaded if missing)
  local out d
  # -json reports a failure on stdout (and exits 1): keep it to show it.
  out=$("$GO" mod download -json "$1" 2>&1) || true
  d=$(sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p' <<<"$out")
  [[ -n $d && -d $d ]] || { echo "promop/build.sh: could not download $1:" >&2; echo "$out" >&2; exit 1; }
  echo "$d"
}
stamp() {  # the -ldflags prometheus/common's version package reads (`operator --version`, ...)
  local v=github.com/prometheus/common/version
  echo "-s -w -X $v.Version=${1#v} -X $v.Revision=$1 -X $v.Branch=$1 -X $v.BuildUser=alertplane"
}

# prometheus-operator's go.mod replaces its nested modules pkg/apis/monitoring and pkg/client
# with ./pkg/..., which `go install module@version` refuses and which the module zip leaves out
# (each has its own go.mod). So build a copy of the module with those two published modules,
# same version, put in at the paths the replaces name.
po=github.com/prometheus-operator/prometheus-operator
dir=$(moddir "$po@$PROMOP_VERSION")      # a plain assignment, so set -e stops on failure
cp -r "$dir" src
chmod -R u+w src
for sub in pkg/apis/monitoring pkg/client; do
  dir=$(moddir "$po/$sub@$PROMOP_VERSION")
  rm -rf "src/$sub"
  mkdir -p "src/$(dirname "$sub")"
  cp -r "$dir" "src/$sub"
done
chmod -R u+w src
mkdir -p out
(cd src && "$GO" build -trimpath -ldflags "$(stamp "$PROMOP_VERSION")" -o ../out/operator ./cmd/operator) >&2

# Alertmanager has no replaces: build its own module graph as published.
GOFLAGS= GOBIN=$work/out "$GO" install -trimpath -ldflags "$(stamp "$AM_VERSION")" \
  "github.com/prometheus/alertmanager/cmd/alertmanager@$AM_VERSION" \
  "github.com/prometheus/alertmanager/cmd/amtool@$AM_VERSION" >&2

# Publish only complete builds: a killed build must not leave a half-filled bin dir.
mkdir -p "$BIN"
for t in "${TOOLS[@]}"; do mv -f "out/$t" "$BIN/$t"; done
echo "promop/build.sh: built prometheus-operator $PROMOP_VERSION, alertmanager+amtool $AM_VERSION in $((SECONDS - start))s" >&2
echo "$BIN"
