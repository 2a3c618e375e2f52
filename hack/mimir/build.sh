#!/usr/bin/env bash
# Build Grafana Mimir (the single `mimir` binary, run monolithic by tests/support/mimir_env.py)
# from its Go module with the local Go. No binaries are downloaded: the source comes through the
# Go module proxy, like hack/k8s/build.sh and hack/promop/build.sh.
#
# The proxy only serves Mimir's main branch as a pseudo-version (its release tags are
# mimir-X.Y.Z, which are not Go semver tags), so we pin that pseudo-version. Mimir's go.mod
# replaces Prometheus with grafana/mimir-prometheus (and a few more forks); replaces only apply
# in the main module, so `go install module@version` cannot build it. Instead: download the
# module, copy its tree out of the read-only module cache, and build ./cmd/mimir inside it.
#
# Idempotent: if the binary is already cached it exits at once. The last line printed is
# always the bin dir. Cache: ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/mimir/<version>/bin
set -euo pipefail

MIMIR_MODULE_VERSION=${MIMIR_MODULE_VERSION:-v1.3.1-0.20260423142704-aced80d74930}  # main @ aced80d74930
MIMIR_VERSION=${MIMIR_VERSION:-3.0.5}          # its VERSION file at that commit (checked below)
CACHE_ROOT=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}
DEST=$CACHE_ROOT/mimir/$MIMIR_VERSION-${MIMIR_MODULE_VERSION##*-}
TOOLS=(mimir)
NAME=mimir
# shellcheck source=../lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gobuild.sh"  # cached? lock, work dir, Go env

mod=github.com/grafana/mimir@$MIMIR_MODULE_VERSION
# -json reports a failure on stdout (and exits 1): keep it to show it.
out=$("$GO" mod download -json "$mod" 2>&1) || true
dir=$(sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p' <<<"$out")
[[ -n $dir && -d $dir ]] || { echo "mimir/build.sh: could not download $mod:" >&2; echo "$out" >&2; exit 1; }
got=$(cat "$dir/VERSION")
[[ $got == "$MIMIR_VERSION" ]] || {
  echo "mimir/build.sh: $mod says VERSION $got, expected $MIMIR_VERSION; bump MIMIR_VERSION with it" >&2; exit 1; }

# Only what the build needs: the module also carries docs, operations and tools (~100 MB).
mkdir src
cp -r "$dir"/{go.mod,go.sum,VERSION,cmd,pkg} src/
chmod -R u+w src

# Same tags and version stamp as Mimir's Makefile (GO_TAGS, GO_FLAGS), so `mimir -version`
# and /api/v1/status/buildinfo report the real version.
v=github.com/grafana/mimir/pkg/util/version
rev=${MIMIR_MODULE_VERSION##*-}
ldflags="-s -w -X $v.Version=$MIMIR_VERSION -X $v.Revision=$rev -X $v.Branch=main"
mkdir -p out
(cd src && "$GO" build -trimpath -tags netgo,stringlabels -ldflags "$ldflags" -o ../out/mimir ./cmd/mimir) >&2

# Publish only complete builds: a killed build must not leave a half-filled bin dir.
mkdir -p "$BIN"
for t in "${TOOLS[@]}"; do mv -f "out/$t" "$BIN/$t"; done
echo "mimir/build.sh: built mimir $MIMIR_VERSION ($MIMIR_MODULE_VERSION) in $((SECONDS - start))s" >&2
echo "$BIN"
