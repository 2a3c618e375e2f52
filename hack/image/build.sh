#!/usr/bin/env bash
# `make image`: build the alertplane image from the repository's Dockerfile with buildah,
# on a Debian base made locally with debootstrap (hack/image/base.sh) and tagged as the
# Dockerfile's FROM, so the same Dockerfile builds unchanged where a registry serves it.
# The product image is tagged as the chart's default image: values.yaml `image.repository`
# : Chart.yaml `appVersion`. Run it with hack/image/podman (same storage and settings).
#
# Idempotent: the tools are installed only when missing, the base is made once and cached
# under ${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/image/, and buildah reuses its layer
# cache (a warm build with nothing changed takes seconds). Needs root (debootstrap, apt).
# The last line printed is the image's name.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/image/storage.sh
start=$SECONDS

need=()
for tool in buildah podman debootstrap runc; do command -v $tool >/dev/null || need+=("$tool"); done
if [[ ${#need[@]} -gt 0 ]]; then
  [[ $(id -u) = 0 ]] || { echo "build.sh: ${need[*]} missing; installing needs root" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The chart's default image is what this builds; its version must be the package's, or
# `alertplane --version` in the image would contradict its tag.
repository=$(awk '/^image:/ { inside = 1; next } /^[^ #]/ { inside = 0 }
  inside && $1 == "repository:" { print $2; exit }' charts/alertplane/values.yaml)
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/alertplane/Chart.yaml)
package_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)
[[ -n $repository && -n $app_version ]] || { echo "build.sh: no image.repository in charts/alertplane/values.yaml or appVersion in Chart.yaml" >&2; exit 1; }
[[ $app_version = "$package_version" ]] || { echo "build.sh: Chart.yaml appVersion $app_version != pyproject.toml version $package_version" >&2; exit 1; }
image=$repository:$app_version

# Every stage builds on one base; it is the only one this script can make.
base=$(awk 'toupper($1) == "FROM" { print $2 }' Dockerfile | sort -u)
[[ $base = docker.io/library/debian:bookworm-slim ]] || {
  echo "build.sh: the Dockerfile's FROM is '${base//$'\n'/ }'; only docker.io/library/debian:bookworm-slim can be made here (debootstrap)" >&2; exit 1; }

mkdir -p "$IMAGE_CACHE"
exec 9>"$IMAGE_CACHE/.lock"
flock 9   # two builds at once would race on the base import and the tag
if ! hack/image/podman image exists "$base"; then
  tarball=$(bash hack/image/base.sh "$IMAGE_CACHE")
  # What the official image sets: PATH and an interactive shell by default.
  hack/image/podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" "$base" >/dev/null
fi

# --isolation chroot: RUN steps need no OCI runtime, cgroups or network setup (works in
# sandboxes where root has no CAP_SYS_RESOURCE and cgroups are hybrid); --pull=never: the
# base is the local one, a registry is never asked.
# Where HTTPS goes through an inspecting proxy, the machine's CA bundle trusts it; pip in
# the build stage needs the same trust: the Dockerfile's optional secret `ca-bundle`
# (mounted for that RUN step only, never in a layer).
ca=/etc/ssl/certs/ca-certificates.crt
secrets=()
[[ -s $ca ]] && secrets=(--secret "id=ca-bundle,src=$ca")
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
bud=(buildah "${storage_args[@]}" bud --pull=never --isolation chroot --layers --force-rm "${secrets[@]}"
  --file Dockerfile)
# The earlier stages are tagged too: their layers are the cache a warm build reuses, and
# an untagged stage would be pruned below (then every build would download again).
for stage in tools build; do
  "${bud[@]}" --target "$stage" --tag "localhost/alertplane-stage:$stage" . >&2
done
"${bud[@]}" --label "org.opencontainers.image.version=$app_version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.title=alertplane" --tag "$image" . >&2
# Layers of earlier builds that no tag uses any more.
buildah "${storage_args[@]}" rmi --prune >/dev/null 2>&1 || true
size=$(hack/image/podman image inspect --format '{{.Size}}' "$image")
echo "build.sh: $image, $((size / 1000000)) MB, in $((SECONDS - start))s ($IMAGE_DRIVER storage)" >&2
echo "$image"
