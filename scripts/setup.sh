#!/bin/sh
# Install what building (and, with --test, testing) PAIA needs on Debian.
# Idempotent: packages already present are not reinstalled.
#
#   scripts/setup.sh          build dependencies and the demo's ffmpeg
#   scripts/setup.sh --test   also what `make check` needs
set -eu

build_pkgs="build-essential autoconf automake autoconf-archive libtool pkg-config
librdkafka-dev libcurl4-openssl-dev libcjson-dev libssh2-1-dev libncurses-dev
libevent-dev libinih-dev libssl-dev libyaml-dev ffmpeg python3"
test_pkgs="libcmocka-dev procps tmux valgrind curl maven openjdk-17-jre-headless"

want=$build_pkgs
case "${1:-}" in
--test) want="$build_pkgs $test_pkgs" ;;
"") ;;
-h|--help) sed -n '2,7p' "$0"; exit 0 ;;
*) echo "setup.sh: unknown option $1 (use --test or nothing)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "setup.sh: all packages present"
	exit 0
fi
echo "setup.sh: installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
