#!/usr/bin/env bash
# Installs the test dependencies, builds with -Werror, and runs every test:
# the cmocka unit tests, the client-compatibility tests (official mlflow
# 3.x and 2.x clients against a real `trellis server`) and the pipeline tests
# (kfp SDK pipelines run by `trellis run`, compared with kfp.local), the
# server tests (the KFP API with the official kfp.Client), the UI's browser
# tests (web/tests, Playwright on Debian's chromium), then the
# same again in an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

jobs="$(nproc)"
echo "== format check (clang-format)"
make format-check
echo "== build (gcc, -Werror)"
make -j"$jobs" WERROR=-Werror all
echo "== build (clang, -Werror)"
make -j"$jobs" CC=clang BUILD=build/clang WERROR=-Werror all >/dev/null

echo "== unit tests"
make -j"$jobs" unit
echo "== client compatibility tests"
make compat
echo "== pipeline tests (kfp SDK pipelines and Trellis YAML under trellis run)"
make pipeline-tests
echo "== server tests (the KFP API with the official kfp.Client)"
make server-tests
echo "== UI tests (playwright-core on chromium against a real trellis server)"
make ui-tests

echo "== unit tests under ASan+UBSan"
make -j"$jobs" SANITIZE=address,undefined unit
echo "== client compatibility tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make SANITIZE=address,undefined compat
echo "== pipeline tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make SANITIZE=address,undefined pipeline-tests
echo "== server tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make SANITIZE=address,undefined server-tests
echo "== fuzz targets (libFuzzer + ASan/UBSan, seed corpora, 10 s each)"
make fuzz FUZZ_SECONDS=10
echo "== all tests passed"
