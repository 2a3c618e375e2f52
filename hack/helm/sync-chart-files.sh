#!/usr/bin/env bash
# Copy the files the chart ships from their source of truth into charts/alertplane/:
#   crds/*.yaml                        -> charts/alertplane/crds/   (generated from model/)
#   deploy/alertplane-self.rules.yml   -> charts/alertplane/files/  (the PrometheusRule's groups)
# Helm can only package files inside the chart directory, hence copies; tests/e2e/test_helm_chart.py
# fails when a copy drifts from its source. Run after regenerating the CRDs or editing the rules.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
chart=$root/charts/alertplane
mkdir -p "$chart/crds" "$chart/files"
rm -f "$chart"/crds/*.yaml
cp "$root"/crds/*.yaml "$chart/crds/"
cp "$root/deploy/alertplane-self.rules.yml" "$chart/files/alertplane-self.rules.yml"
echo "synced $(ls "$chart/crds" | wc -l) CRD file(s) and the self-alert rules into $chart"
