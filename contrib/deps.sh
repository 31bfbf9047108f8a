#!/bin/sh
# deps.sh: installs every package needed to build and test tallyd on Debian 12
# (apt-get, --no-install-recommends). Idempotent: packages already installed
# are left alone, and apt-get update runs only when something is missing.
# Uses sudo only when not run as root.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
libevent-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev libcunit1-dev
redis-server graphite-carbon python3-whisper python3 netcat-openbsd curl
clang clang-format libclang-rt-14-dev groff-base ca-certificates"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "deps.sh: run as root or install sudo" >&2
	exit 1
fi

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps.sh: all build and test dependencies are installed"
	exit 0
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
