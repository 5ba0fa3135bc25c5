#!/bin/bash
# k9s, the Kubernetes terminal UI, as the console's peer in
# bench/console-k9s: built once from the Go module proxy into the test
# environment cache, beside the Kubernetes binaries tests/env/k8s.sh builds.
#
# usage: tests/env/k9s.sh build|path|version
#
#   build     build k9s once (a no-op when the cache has it):
#             go install github.com/derailed/k9s@$K9S_VERSION with the Go
#             1.26 on the machine (GOTOOLCHAIN=local: k9s v0.50.16 asks for
#             go 1.24.4), with module and build caches of its own, which
#             are deleted once the binary is in place (4.2 GB; nothing
#             else needs them); deleting the folder rebuilds from nothing
#   path      print the k9s binary's path (build first if needed)
#   version   print the version the built binary reports
#
# environment:
#   PAIA_TESTENV_CACHE  build cache (default $HOME/.cache/paia-testenv);
#                       the binary in .../k9s-<version>/bin, Go's module
#                       and build caches in .../k9s-<version>/go
#   K9S_VERSION         the module version (default v0.50.16, the newest the
#                       Go module proxy served on 2026-12-02)
#   K9S_BUILD_JOBS      go build -p (default 2)
#   K9S_KEEP_GO_CACHE   1: keep the Go caches (.../k9s-<version>/go) after
#                       the build
#   GO                  the go command (default: go on PATH, /usr/local/go/bin/go)
#
# Timings on the 2-core machine (measured 2026-12-07, go1.26.8, while
# other jobs kept the load average near 9): a cold build (empty cache:
# module downloads, then compiling; 480 CPU-seconds of user time) took
# 11 minutes 19 seconds; the binary is 126 MB; "path" with it built
# takes a few milliseconds.
set -eu

K9S_VERSION=${K9S_VERSION:-v0.50.16}
case $K9S_VERSION in
v[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "k9s: K9S_VERSION '$K9S_VERSION' is not a version like v0.50.16" >&2; exit 1 ;;
esac
CACHE=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}
INST=$CACHE/k9s-$K9S_VERSION
BIN=$INST/bin
STAMP=$INST/.installed
BUILD_JOBS=${K9S_BUILD_JOBS:-2}

ENV_NAME=k9s
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

installed() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "k9s $K9S_VERSION" ] && [ -x "$BIN/k9s" ]
}

do_build() {
	local go gov t0 tmp build_pid
	installed && return 0
	go=$(find_go 24) || die "no Go 1.24 or later (k9s $K9S_VERSION needs it): install one," \
		"e.g. in /usr/local/go, or set GO=/path/to/go"
	gov=$(GOTOOLCHAIN=local "$go" env GOVERSION)
	mkdir -p "$INST"
	# One builder at a time: a second waits, then finds it built.
	exec 9>"$CACHE/.k9s-$K9S_VERSION.lock"
	if command -v flock >/dev/null; then flock 9; fi
	if installed; then exec 9>&-; return 0; fi

	rm -rf "$INST/.build."*
	t0=$(date +%s)
	tmp=$(mktemp -d "$INST/.build.XXXXXX")
	say "building k9s $K9S_VERSION with $gov into $BIN (log: $INST/build.log)"
	build_pid=
	trap '[ -z "$build_pid" ] || kill -TERM "$build_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
	trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
	# go install MODULE@VERSION: go.mod and go.sum are the module's own,
	# checked against the checksum database; the module cache stays
	# writable so that rm -rf of the cache works.
	(cd "$tmp" && exec env GOTOOLCHAIN=local GOFLAGS="-mod=mod -modcacherw -buildvcs=false" \
		GOMODCACHE="$INST/go/mod" GOCACHE="$INST/go/cache" GOBIN="$tmp/bin" CGO_ENABLED=0 \
		"$go" install -p "$BUILD_JOBS" -trimpath \
		-ldflags "-s -w -X github.com/derailed/k9s/cmd.version=$K9S_VERSION" \
		"github.com/derailed/k9s@$K9S_VERSION") >"$INST/build.log" 2>&1 &
	build_pid=$!
	if ! wait "$build_pid"; then
		build_pid=
		tail -n 40 "$INST/build.log" >&2
		die "go install github.com/derailed/k9s@$K9S_VERSION failed"
	fi
	build_pid=
	[ -x "$tmp/bin/k9s" ] || die "go install left no $tmp/bin/k9s"
	"$tmp/bin/k9s" version --short 2>/dev/null | grep -q "${K9S_VERSION#v}" ||
		die "the built k9s does not report ${K9S_VERSION#v}: $("$tmp/bin/k9s" version --short 2>&1 | head -n 3)"
	rm -rf "$BIN"
	mv -T "$tmp/bin" "$BIN"
	rm -rf "$tmp"
	echo "k9s $K9S_VERSION" >"$STAMP"
	[ "${K9S_KEEP_GO_CACHE:-0}" = 1 ] || rm -rf "$INST/go"
	trap - EXIT HUP INT TERM
	exec 9>&-
	say "built $BIN/k9s: $(du -sm "$BIN/k9s" | cut -f1) MB, $(($(date +%s) - t0)) s"
}

case ${1:-} in
build) do_build ;;
path) do_build >&2; echo "$BIN/k9s" ;;
version) do_build >&2; "$BIN/k9s" version --short ;;
*) die "usage: $0 build|path|version" ;;
esac
