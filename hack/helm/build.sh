#!/usr/bin/env bash
# Build the helm CLI from its upstream Go module (helm.sh/helm/v3) with the local Go, for
# the chart tests (tests/e2e/test_helm_chart.py). No binaries are downloaded: the sources come
# through the Go module proxy, like hack/k8s/build.sh does for kube-apiserver.
#
# Idempotent: if helm is already cached it exits at once. The last line printed is always
# the bin dir. Cache: ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/helm/<version>/bin
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.21.4}          # pinned; a different version is cached separately
CACHE_ROOT=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}
DEST=$CACHE_ROOT/helm/$HELM_VERSION
BIN=$DEST/bin

if [[ -x $BIN/helm ]]; then echo "$BIN"; exit 0; fi

GO=$(command -v go || echo /usr/local/go/bin/go)
[[ -x $GO ]] || { echo "helm/build.sh: no Go toolchain (looked on PATH and /usr/local/go/bin)" >&2; exit 1; }

mkdir -p "$DEST"
# Parallel test workers may all call us at once: one builds, the others wait and reuse.
exec 9>"$DEST/.lock"
flock 9
if [[ -x $BIN/helm ]]; then echo "$BIN"; exit 0; fi

start=$SECONDS
work=$(mktemp -d "$DEST/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Outside any go.mod/go.work so `go install pkg@version` builds helm's own module graph.
cd "$work"
export GOWORK=off GOFLAGS= CGO_ENABLED=0 GOTOOLCHAIN=local

# Same stamping as helm's Makefile: its version, and the Kubernetes version it assumes by
# default (Capabilities.KubeVersion, lint) taken from the client-go it is built against.
gomod=$("$GO" mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[[ -f $gomod ]] || { echo "helm/build.sh: could not download helm.sh/helm/v3@$HELM_VERSION" >&2; exit 1; }
client_go=$(sed -n 's/^\s*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1)
[[ -n $client_go ]] || { echo "helm/build.sh: no k8s.io/client-go in $gomod" >&2; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go"
done

GOBIN=$work/out "$GO" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2

# Publish only complete builds: a killed build must not leave a half-written binary.
mkdir -p "$BIN"
mv -f "$work/out/helm" "$BIN/helm"
echo "helm/build.sh: built helm $HELM_VERSION in $((SECONDS - start))s" >&2
echo "$BIN"
