# shellcheck shell=bash
# Sourced by build.sh and podman: where this project's images live. A storage of its own
# (not /var/lib/containers), so it never meets a machine's other containers or their
# storage driver, and one `rm -rf` of the cache removes it.
#   ALERTPLANE_CACHE                 cache root (default ~/.cache/alertplane)
#   ALERTPLANE_IMAGE_STORAGE_DRIVER  overlay or vfs; by default overlay where the kernel
#                                    mounts it on the cache's filesystem (probed once, the
#                                    answer kept in image/driver), else vfs (plain copies:
#                                    works anywhere, ~3x slower to build and to start)
IMAGE_CACHE=${ALERTPLANE_CACHE:-$HOME/.cache/alertplane}/image
if [[ -n ${ALERTPLANE_IMAGE_STORAGE_DRIVER:-} ]]; then
  IMAGE_DRIVER=$ALERTPLANE_IMAGE_STORAGE_DRIVER
elif [[ -s $IMAGE_CACHE/driver ]]; then
  IMAGE_DRIVER=$(<"$IMAGE_CACHE/driver")
else
  mkdir -p "$IMAGE_CACHE"
  probe=$(mktemp -d "$IMAGE_CACHE/probe.XXXXXX")
  mkdir "$probe"/{lower,upper,work,merged}
  IMAGE_DRIVER=vfs
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
    "$probe/merged" 2>/dev/null; then
    umount "$probe/merged" && IMAGE_DRIVER=overlay
  fi
  rm -rf "$probe"
  echo "$IMAGE_DRIVER" > "$IMAGE_CACHE/driver"
fi
# runroot holds locks and mounts, which must not outlive a reboot: under /run.
IMAGE_RUNROOT=/run/alertplane-image/$IMAGE_DRIVER
# shellcheck disable=SC2034  # used by the scripts that source this file
storage_args=(--root "$IMAGE_CACHE/storage-$IMAGE_DRIVER" --runroot "$IMAGE_RUNROOT"
  --storage-driver "$IMAGE_DRIVER")
