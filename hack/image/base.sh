#!/usr/bin/env bash
# Make Debian bookworm's slim base image locally with debootstrap, as a root filesystem
# tarball: what docker.io/library/debian:bookworm-slim is (minbase + the same "slim"
# trimming: no docs but copyright files, no man pages or locales, no apt lists or caches),
# for machines that reach Debian's packages but no container registry.
#
# Idempotent: an existing tarball is reused. Prints the tarball's path last.
#   usage: base.sh DEST_DIR        (needs root: debootstrap)
#   DEBIAN_MIRROR  the mirror debootstrap uses (default: debootstrap's own)
set -euo pipefail
SUITE=bookworm
dest=${1:?usage: base.sh DEST_DIR}
tarball=$dest/debian-$SUITE-slim.tar
if [[ -s $tarball ]]; then echo "$tarball"; exit 0; fi
[[ $(id -u) = 0 ]] || { echo "base.sh: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base.sh: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }

mkdir -p "$dest"
work=$(mktemp -d "$dest/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
start=$SECONDS
debootstrap --variant=minbase "$SUITE" "$root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >&2

# The mirror debootstrap used, for the image's own apt sources (same layout as the
# official image: deb822, with -updates and the security archive beside it).
mirror=$(awk '$1 == "deb" { print $2; exit }' "$root/etc/apt/sources.list")
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# Slim: files later packages would install under these paths are never unpacked, and
# apt cleans its caches after each install (the official image's dpkg/apt settings).
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
# What the excludes above would have kept out of the packages debootstrap installed.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
rm -f "$root"/var/log/{dpkg.log,bootstrap.log,alternatives.log} "$root"/var/log/apt/*
: > "$root/etc/machine-id"

# Publish only a complete tarball (numeric owners, sorted: the same tree gives the same tar).
tar --numeric-owner --sort=name -C "$root" -cf "$work/base.tar" .
mv -f "$work/base.tar" "$tarball"
echo "base.sh: debootstrap $SUITE minbase, slimmed, in $((SECONDS - start))s" >&2
echo "$tarball"
