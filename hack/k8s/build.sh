#!/usr/bin/env bash
# Build kube-apiserver, kubectl (and a matching etcd) from the k8s.io/kubernetes Go module,
# for tests against a real API server (tests/support/k8s_env.py). No Docker/kind here, and the only
# network is the Go module proxy, so we compile the upstream sources with the local Go.
#
# Idempotent: if the binaries are already cached it exits at once. The last line printed is
# always the bin dir. Cache: ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/k8s/<version>/bin
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.35.4}            # pinned; see README.md before bumping
CACHE_ROOT=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}
DEST=$CACHE_ROOT/k8s/$K8S_VERSION
TOOLS=(kube-apiserver kubectl etcd)
NAME=k8s
# shellcheck source=../lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gobuild.sh"  # cached? lock, work dir, Go env

# k8s.io/kubernetes' go.mod points its staging modules (k8s.io/api, client-go, ...) at
# ./staging/src/..., which Go ignores for a dependency. The same code is published as
# k8s.io/<name> v0.<minor>.<patch>, so pin each of them to that tag with our own replaces.
gomod=$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[[ -f $gomod ]] || { echo "build.sh: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
staging_version=v0.${K8S_VERSION#v1.}
{
  echo "module alertplane.test/k8sbuild"
  grep -E '^(go|godebug) ' "$gomod"          # same language version / GODEBUG defaults as upstream
  echo "require k8s.io/kubernetes $K8S_VERSION"
  sed -n "s#^\s*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#replace \1 => \1 $staging_version#p" "$gomod"
} > go.mod

# etcd: the server module k8s already depends on (so its version matches what the API
# server's client was tested with); Debian's etcd 3.4 is older than Kubernetes supports.
mkdir -p etcd
cat > etcd/main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
"$GO" get "go.etcd.io/etcd/server/v3@$(sed -n 's/^\s*go.etcd.io\/etcd\/server\/v3 \(v[^ ]*\).*/\1/p' "$gomod")" >&2

# Stamp the version so `kubectl version` and /version report the real release.
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"

mkdir -p out
"$GO" build -trimpath -ldflags "$ldflags" -o out/ \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2
"$GO" build -trimpath -ldflags "-s -w" -o out/etcd ./etcd >&2

# Publish only complete builds: a killed build must not leave a half-filled bin dir.
mkdir -p "$BIN"
for t in "${TOOLS[@]}"; do mv -f "out/$t" "$BIN/$t"; done
echo "build.sh: built ${TOOLS[*]} $K8S_VERSION in $((SECONDS - start))s" >&2
echo "$BIN"
