#!/bin/bash
# install-deps.sh: install the Debian 12 packages LCR needs to build, test and run its demo.
# Idempotent: packages already installed are left alone. Run as root.
set -euo pipefail

PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libslurm-dev slurmctld slurmd slurm-client
	libpmix-dev libyaml-dev libcmocka-dev munge libmunge-dev libxxhash-dev libssl-dev libisal-dev
	iproute2 procps psmisc util-linux passwd stress-ng gnuplot-nox valgrind python3-torch
	clang-14 libclang-rt-14-dev libfuzzer-14-dev
	debhelper rpm mmdebstrap
)

missing=()
for package in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-deps: missing ${missing[*]}; run as root to install them" >&2; exit 1; }
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
