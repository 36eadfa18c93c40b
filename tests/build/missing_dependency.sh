#!/bin/bash
# missing_dependency.sh: ./configure on a machine without a required dependency stops with
# a message that names the Debian package to install. The machine is simulated by a
# pkg-config directory that holds every .pc file but the one taken away. Speaks TAP.
set -uo pipefail
: "${LCR_SRCDIR:?}"

cases=("cmocka libcmocka-dev" "pmix libpmix-dev" "yaml-0.1 libyaml-dev" "libisal libisal-dev")
echo "1..${#cases[@]}"
n=0
for entry in "${cases[@]}"; do
	read -r module package <<<"$entry"
	n=$((n + 1))
	scratch=$(mktemp -d)
	mkdir "$scratch/pc" "$scratch/build"
	for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
		for pc in "$dir"/*.pc; do
			[ -e "$pc" ] && [ "$(basename "$pc" .pc)" != "$module" ] && ln -sf "$pc" "$scratch/pc/"
		done
	done
	output=$(cd "$scratch/build" && PKG_CONFIG_LIBDIR="$scratch/pc" "$LCR_SRCDIR/configure" --without-cuda 2>&1)
	status=$?
	if [ $status -ne 0 ] && grep -q "install the Debian package $package" <<<"$output"; then
		echo "ok $n - without $module, configure fails naming $package"
	else
		echo "not ok $n - without $module, configure fails naming $package"
		tail -n 5 <<<"$output" | sed 's/^/# /'
	fi
	rm -rf "$scratch"
done
