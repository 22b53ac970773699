# Trellis: one plain Makefile. `make`, `make test`, `make SANITIZE=address,undefined test`.
CC ?= cc
PKGS := libmicrohttpd jansson sqlite3 libsodium yajl libfyaml libcurl
TEST_PKGS := cmocka

ifdef SANITIZE
BUILD ?= build/san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT ?= -O1 -g
else
BUILD ?= build
OPT ?= -O2 -g
# jemalloc: jansson allocates per JSON value; glibc malloc made a 1,000-point
# log-batch cost 5.4 ms of CPU, jemalloc 3.3 ms (docs/benchmarks.md).
# Sanitizer builds keep the sanitizer's allocator.
MALLOC_LIBS := $(shell pkg-config --libs jemalloc)
endif

WERROR ?= -Werror
CFLAGS_ALL := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wno-unused-parameter $(WERROR) $(OPT) $(SAN_FLAGS) -Isrc \
	$(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LDLIBS_ALL := $(shell pkg-config --libs $(PKGS)) $(MALLOC_LIBS) -lpthread -lm $(LDLIBS)
# -z now: symbols are bound once at start (and RELRO is complete), so the
# supervisors the zygote forks do not each resolve them again lazily.
LDFLAGS_ALL := $(SAN_FLAGS) -Wl,-z,now -Wl,-z,relro $(LDFLAGS)
BANNED := -include src/core/banned.h

VERSION := $(shell cat VERSION)

CORE_SRC := src/core/alloc.c src/core/arena.c src/core/buf.c src/core/clock.c src/core/err.c \
	src/core/ids.c src/core/json.c src/core/log.c
STORE_SRC := src/store/db.c src/store/db_sqlite.c src/store/migrations.c src/store/search.c \
	src/store/store.c src/store/store_experiments.c src/store/store_runs.c src/store/store_search.c \
	src/store/store_metrics.c src/store/metric_chunk.c src/store/writer.c src/store/uri.c \
	src/store/store_artifacts.c src/store/store_registry.c src/store/store_logged_models.c \
	src/store/store_pipelines.c src/store/store_kfp.c src/store/store_lineage.c \
	src/store/store_audit.c
GOV_SRC := src/governance/audit.c
ARTIFACT_SRC := src/artifact/path.c src/artifact/fs.c
API_SRC := src/api/validate.c src/api/mlflow_tracking.c src/api/routes.c src/api/admin.c \
	src/api/mlflow_artifacts.c src/api/mlflow_registry.c \
	src/api/log_batch_json.c src/api/kfp.c src/api/kfp_experiments.c src/api/kfp_pipelines.c \
	src/api/kfp_upload.c src/api/kfp_runs.c src/api/kfp_recurring.c src/api/kfp_list.c \
	src/api/multipart.c src/api/trellis_lineage.c src/api/trellis_pipelines.c src/api/ui.c \
	src/api/trellis_audit.c
HTTP_SRC := src/http/server.c src/http/metrics.c
PIPELINE_SRC := src/pipeline/diag.c src/pipeline/yaml.c src/pipeline/fields.c src/pipeline/spec.c \
	src/pipeline/kfp_ir.c src/pipeline/trellis_yaml.c src/pipeline/cel.c src/pipeline/placeholder.c \
	src/pipeline/check.c src/pipeline/graph.c src/pipeline/resolve.c \
	src/pipeline/resolve_outputs.c src/pipeline/resolve_pip.c src/pipeline/run.c src/pipeline/digest.c \
	src/pipeline/recorder.c src/pipeline/service.c src/pipeline/cron.c src/pipeline/schedule.c
CLIENT_SRC := src/client/http_client.c
EXEC_SRC := src/exec/exec.c src/exec/limits.c src/exec/local.c src/exec/shim.c src/exec/zygote.c
CMD_SRC := cmd/trellis.c cmd/cmd_server.c cmd/cmd_db.c cmd/cmd_audit.c cmd/cmd_backup.c cmd/cmd_gc.c \
	cmd/cmd_pipeline.c cmd/cmd_task_shim.c cmd/cmd_run.c \
	cmd/cmd_cache.c

LIB_SRC := $(CORE_SRC) $(STORE_SRC) $(GOV_SRC) $(ARTIFACT_SRC) $(API_SRC) $(HTTP_SRC) $(PIPELINE_SRC) \
	$(EXEC_SRC) $(CLIENT_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/ui_assets.o
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)

UNIT_TESTS := test_core test_search test_validate test_store test_registry test_log_batch_json test_artifact \
	test_pipeline test_exec test_resolve test_kfp test_lineage test_client test_cron \
	test_recurring test_ui test_audit
UNIT_BIN := $(UNIT_TESTS:%=$(BUILD)/tests/unit/%)

.PHONY: all test unit compat pipeline-tests server-tests check clean format format-check bench fuzz \
	ui ui-tests FORCE
all: $(BUILD)/trellis

# ---- the web UI (web/, TypeScript + Vite; docs/ui.md) ----
# `make ui` builds web/dist with npm. Plain `make` builds it too when npm is
# on PATH and web/dist is older than its sources (UI=0 skips that); without
# Node.js the C build embeds whatever web/dist holds, or a page saying how to
# build the UI. The C build and the C tests never need Node.js.
UI_SRC := web/index.html web/package.json web/package-lock.json web/vite.config.ts \
	web/tsconfig.json $(wildcard web/src/*)
UI ?= $(if $(shell command -v npm 2>/dev/null),1,0)
ui:
	cd web && npm ci --no-audit --no-fund && npm run build

# A failed automatic build (offline, no registry) warns and embeds what
# web/dist holds, so the server still builds; `make ui` fails loudly instead.
web/dist/index.html: $(UI_SRC)
	cd web && { { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
		|| npm ci --no-audit --no-fund; } && npm run build; } \
		|| echo "warning: the UI build failed; embedding what web/dist holds (retry: make ui)" >&2

ifeq ($(UI),1)
UI_DIST_DEP := web/dist/index.html
endif

# The embedding generator (a build tool, run on this machine; no sanitizers).
build/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes $(WERROR) -O1 \
		$(BANNED) $(shell pkg-config --cflags libsodium) -o $@ $< \
		$(shell pkg-config --libs libsodium)

# Run every time; it rewrites the table only when web/dist's files changed.
$(BUILD)/gen/ui_assets.c: build/tools/embed $(UI_DIST_DEP) FORCE
	@mkdir -p $(dir $@)
	build/tools/embed web/dist $@ tr_ui_embedded

$(BUILD)/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c src/api/ui.h
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

# The browser tests (web/tests, node --test + playwright-core on Debian's
# chromium) against a real `trellis server` filled by the official mlflow client.
ui-tests: $(BUILD)/trellis
	cd web && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
		|| npm ci --no-audit --no-fund; }
	TRELLIS_BIN=$(abspath $(BUILD)/trellis) MLFLOW_PYTHON=$(abspath .venv/mlflow3/bin/python) \
		KFP_PYTHON=$(abspath .venv/kfp/bin/python) node --test web/tests/

$(BUILD)/trellis: $(CMD_OBJ) $(BUILD)/libtrellis.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CMD_OBJ) $(BUILD)/libtrellis.a $(LDLIBS_ALL)

$(BUILD)/libtrellis.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BANNED) -DTR_VERSION='"$(VERSION)"' -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libtrellis.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BANNED) $(shell pkg-config --cflags $(TEST_PKGS)) -DTR_VERSION='"$(VERSION)"' \
		-o $@ $< $(BUILD)/libtrellis.a $(LDFLAGS_ALL) $(LDLIBS_ALL) \
		$(shell pkg-config --libs $(TEST_PKGS))

# test_ui checks the generator's output on a fixture folder and on a missing one.
$(BUILD)/gen/ui_fixture.c: build/tools/embed $(wildcard tests/unit/ui_fixture/* tests/unit/ui_fixture/*/*)
	@mkdir -p $(dir $@)
	build/tools/embed tests/unit/ui_fixture $@ tr_ui_fixture
$(BUILD)/gen/ui_missing.c: build/tools/embed
	@mkdir -p $(dir $@)
	build/tools/embed tests/unit/ui_fixture/does-not-exist $@ tr_ui_missing
$(BUILD)/tests/unit/test_ui: tests/unit/test_ui.c $(BUILD)/gen/ui_fixture.c $(BUILD)/gen/ui_missing.c \
	$(BUILD)/libtrellis.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BANNED) $(shell pkg-config --cflags $(TEST_PKGS)) -o $@ $< \
		$(BUILD)/gen/ui_fixture.c $(BUILD)/gen/ui_missing.c $(BUILD)/libtrellis.a \
		$(LDFLAGS_ALL) $(LDLIBS_ALL) $(shell pkg-config --libs $(TEST_PKGS))

# test_exec runs real supervisors: it finds the binary through TRELLIS_BIN.
unit: $(UNIT_BIN) $(BUILD)/trellis
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; TRELLIS_BIN=$(abspath $(BUILD)/trellis) $$t; done

# Client-compatibility tests against the real mlflow client (needs scripts/test-deps.sh).
compat: $(BUILD)/trellis
	TRELLIS_BIN=$(abspath $(BUILD)/trellis) scripts/run-compat.sh

# End-to-end pipeline tests: pipelines written with the official kfp SDK (and in
# Trellis YAML) run by `trellis run`, compared with kfp.local (needs .venv/kfp from
# scripts/install-deps.sh --test).
pipeline-tests: $(BUILD)/trellis
	TRELLIS_BIN=$(abspath $(BUILD)/trellis) .venv/kfp/bin/python -m pytest tests/pipeline -q

# The KFP REST API (/apis/v2beta1) driven by the official kfp.Client against a
# real `trellis server` (needs .venv/kfp from scripts/install-deps.sh --test).
server-tests: $(BUILD)/trellis
	TRELLIS_BIN=$(abspath $(BUILD)/trellis) .venv/kfp/bin/python -m pytest tests/server -q

# libFuzzer targets (clang), each run briefly on its seed corpus by `make fuzz`;
# FUZZ_SECONDS=N runs each longer.
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -Isrc -include src/core/banned.h -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all $(shell pkg-config --cflags $(PKGS))
FUZZ_CORE := src/core/alloc.c src/core/arena.c src/core/buf.c src/core/err.c src/core/json.c \
	src/core/ids.c
FUZZ_TARGETS := search log_batch validate pipeline cel kfp cron
fuzz_search_SRC := src/store/search.c
fuzz_pipeline_SRC := $(filter-out src/pipeline/run.c src/pipeline/recorder.c src/pipeline/service.c src/pipeline/schedule.c,$(PIPELINE_SRC)) src/exec/limits.c
fuzz_cel_SRC := src/pipeline/cel.c
fuzz_cron_SRC := src/pipeline/cron.c
fuzz_log_batch_SRC := src/api/log_batch_json.c src/api/validate.c
fuzz_validate_SRC := src/api/validate.c
fuzz_kfp_SRC := src/api/kfp_list.c src/api/multipart.c

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE) src/store/search.c src/api/log_batch_json.c \
	src/api/validate.c $(PIPELINE_SRC) src/api/kfp_list.c src/api/multipart.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_CORE) $($(notdir $@)_SRC) \
		$(shell pkg-config --libs jansson yajl libsodium libfyaml) -lm

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		rm -rf build/fuzz/work-$$t && mkdir -p build/fuzz/work-$$t && \
		cp tests/fuzz/corpus/$$t/* build/fuzz/work-$$t/ && \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-artifact_prefix=build/fuzz/ build/fuzz/work-$$t > build/fuzz/$$t.log 2>&1 \
			|| { tail -n 40 build/fuzz/$$t.log; exit 1; }; \
		tail -n 1 build/fuzz/$$t.log; \
	done

test: unit compat pipeline-tests

check: test

format:
	clang-format -i $(LIB_SRC) $(CMD_SRC) $(wildcard src/*/*.h) $(wildcard tests/unit/*.c) $(wildcard tests/fuzz/*.c) tools/embed.c

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(CMD_SRC) $(wildcard src/*/*.h) $(wildcard tests/unit/*.c) $(wildcard tests/fuzz/*.c) tools/embed.c

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d)
