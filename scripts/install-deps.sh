#!/usr/bin/env bash
# Installs what Trellis needs and is missing: Debian packages for the build
# (the C libraries, and Node.js with npm for the web UI when no recent enough
# one is on PATH), with --test those of the tests (cmocka, clang, chromium
# for the UI's browser tests), and with --test the Python venvs holding
# the official mlflow clients the compatibility tests drive and the official
# kfp SDK that compiles the pipeline test fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

build_pkgs=(build-essential pkg-config libmicrohttpd-dev libjansson-dev libyajl-dev libsqlite3-dev libsodium-dev libjemalloc-dev libfyaml-dev libcurl4-gnutls-dev)
test_pkgs=(libcmocka-dev clang clang-format libclang-rt-14-dev python3-venv sqlite3 chromium)
# `make` builds the web UI with npm; its pinned tools (Vite 6, TypeScript 5.9,
# playwright-core) need Node.js >= 18: Debian 12's nodejs is 18.19. A Node.js
# already on PATH is kept when it is new enough.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ! command -v npm >/dev/null 2>&1 || [ "$node_major" -lt 18 ]; then
	build_pkgs+=(nodejs npm)
fi

missing=()
for p in "${build_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ $want_test = 1 ]; then
	for p in "${test_pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing Debian packages: ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ $want_test = 1 ]; then
	# One venv per official client version, and one with the kfp SDK that
	# compiles the pipeline fixtures; each rebuilt when its requirements change.
	for spec in mlflow3:tests/compat/requirements-mlflow3.txt \
		mlflow2:tests/compat/requirements-mlflow2.txt \
		kfp:tests/pipeline/requirements-kfp.txt; do
		v="${spec%%:*}"
		req="${spec#*:}"
		stamp=".venv/$v/.requirements"
		if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
			echo "creating .venv/$v from $req"
			rm -rf ".venv/$v"
			# the kfp venv runs pipeline steps, which run as an unprivileged
			# user when the tests run as root: Debian's python3 is one it can
			# execute (a pyenv python under /root is not)
			py=python3
			if [ "$v" = kfp ] && [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; fi
			"$py" -m venv ".venv/$v"
			".venv/$v/bin/pip" install -q --disable-pip-version-check -r "$req"
			cp "$req" "$stamp"
		fi
	done
fi
