#!/bin/bash
# ensure-test-users.sh: creates the unprivileged users the tests run jobs and helpers as,
# lcrtest and lcrtest2, when they are missing, each with a home directory (0700) as real
# users have (the default checkpoint directory is in it). Idempotent; needs root. Used by the
# helper tests and the cluster tests.
set -e
if [ "$(id -u)" -ne 0 ]; then
	echo "ensure-test-users.sh: needs root to create users" >&2
	exit 1
fi
for user in lcrtest lcrtest2; do
	if ! id -u "$user" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
	fi
	home=$(getent passwd "$user" | cut -d: -f6)
	if [ ! -d "$home" ]; then
		mkdir -p "$home"
		chown "$user:" "$home"
		chmod 0700 "$home"
	fi
done
