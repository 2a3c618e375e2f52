#!/usr/bin/env bash
# Print a directory holding the prometheus-operator CRDs (monitoring.coreos.com_*.yaml,
# incl. prometheusrules and alertmanagerconfigs) for tests. They come from the upstream Go
# module in the local module cache, so no copy of that project's files lives in this repo.
set -euo pipefail
PROMOP_VERSION=${PROMOP_VERSION:-v0.85.0}   # pinned; matches the API the sinks target
GO=$(command -v go || echo /usr/local/go/bin/go)
# Outside any go.mod/go.work so the download cannot touch a module of ours; a cached
# module is served from the cache without network.
cd /
dir=$(GOWORK=off GOFLAGS= "$GO" mod download -json \
  "github.com/prometheus-operator/prometheus-operator@$PROMOP_VERSION" |
  sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
crds=$dir/example/prometheus-operator-crd
for f in prometheusrules alertmanagerconfigs; do
  [[ -f $crds/monitoring.coreos.com_$f.yaml ]] || { echo "promop-crds.sh: $f CRD not in $crds" >&2; exit 1; }
done
echo "$crds"
