# Shared start of the Go-module builds (hack/{k8s,promop,mimir}/build.sh), sourced after the
# caller set NAME, DEST and TOOLS. When every tool is cached: print the bin dir, exit 0.
# Otherwise find Go, take the build lock (parallel test workers may all call a build at
# once: one builds, the others wait and reuse) and leave the caller in a fresh work dir,
# removed on exit, with the Go environment every build here uses.
BIN=$DEST/bin

have_all() { for t in "${TOOLS[@]}"; do [[ -x $BIN/$t ]] || return 1; done; }
if have_all; then echo "$BIN"; exit 0; fi

GO=$(command -v go || echo /usr/local/go/bin/go)
[[ -x $GO ]] || { echo "$NAME/build.sh: no Go toolchain (looked on PATH and /usr/local/go/bin)" >&2; exit 1; }

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
if have_all; then echo "$BIN"; exit 0; fi

start=$SECONDS
work=$(mktemp -d "$DEST/build.XXXXXX")
# A tree copied out of the read-only module cache keeps that mode: make it removable.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
