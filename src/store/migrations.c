/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Numbered schema migrations. Migration N brings the schema from N-1 to N and
 * runs in one transaction with the version bump. Only an empty store is
 * migrated at server start; an older schema needs `trellis db upgrade`.
 * The SQL is kept portable between SQLite and PostgreSQL.
 */
#include "core/buf.h"
#include "store/store_internal.h"

#include <stddef.h>

static const char *const migrations[] = {
    /* 1: tracking and the audit log */
    "CREATE TABLE experiments ("
    "  experiment_id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  artifact_location TEXT NOT NULL,"
    "  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
    "  creation_time BIGINT NOT NULL,"
    "  last_update_time BIGINT NOT NULL);"
    "CREATE TABLE experiment_tags ("
    "  experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),"
    "  key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (experiment_id, key));"
    "CREATE TABLE runs ("
    "  run_uuid TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),"
    "  user_id TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL,"
    "  start_time BIGINT,"
    "  end_time BIGINT,"
    "  lifecycle_stage TEXT NOT NULL,"
    "  artifact_uri TEXT NOT NULL,"
    "  deleted_time BIGINT) WITHOUT ROWID;"
    "CREATE INDEX runs_experiment ON runs (experiment_id, start_time, run_uuid);"
    "CREATE TABLE params (run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
    "CREATE INDEX params_key_value ON params (key, value, run_uuid);"
    "CREATE TABLE tags (run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
    "CREATE INDEX tags_key_value ON tags (key, value, run_uuid);"
    "CREATE TABLE metric_chunks ("
    "  run_uuid TEXT NOT NULL, key TEXT NOT NULL, seq BIGINT NOT NULL,"
    "  n INTEGER NOT NULL, min_step BIGINT NOT NULL, max_step BIGINT NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (run_uuid, key, seq)) WITHOUT ROWID;"
    "CREATE TABLE latest_metrics ("
    "  run_uuid TEXT NOT NULL, key TEXT NOT NULL,"
    "  step BIGINT NOT NULL, timestamp BIGINT NOT NULL,"
    "  value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
    "CREATE INDEX latest_metrics_key_value ON latest_metrics (key, is_nan, value, run_uuid);"
    "CREATE TABLE datasets ("
    "  dataset_uuid TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL, digest TEXT NOT NULL, source_type TEXT NOT NULL,"
    "  source TEXT NOT NULL, schema TEXT, profile TEXT,"
    "  UNIQUE (experiment_id, name, digest));"
    "CREATE TABLE inputs ("
    "  input_uuid TEXT PRIMARY KEY, source_type TEXT NOT NULL, source_id TEXT NOT NULL,"
    "  destination_type TEXT NOT NULL, destination_id TEXT NOT NULL,"
    "  UNIQUE (source_type, source_id, destination_type, destination_id));"
    "CREATE INDEX inputs_destination ON inputs (destination_id, destination_type);"
    "CREATE TABLE input_tags (input_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (input_uuid, key));"
    "CREATE TABLE audit_log ("
    "  seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL, actor TEXT NOT NULL,"
    "  action TEXT NOT NULL, resource TEXT NOT NULL, outcome TEXT NOT NULL,"
    "  detail TEXT NOT NULL, request_digest TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,"
    "  creation_time, last_update_time) VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active',"
    "  CAST(strftime('%s','now') AS INTEGER) * 1000, CAST(strftime('%s','now') AS INTEGER) * "
    "1000);",
    /* 2: stored artifacts, with their size and SHA-256 digest */
    "CREATE TABLE artifacts ("
    "  path TEXT PRIMARY KEY, size BIGINT NOT NULL, sha256 TEXT NOT NULL,"
    "  updated_ms BIGINT NOT NULL) WITHOUT ROWID;",
    /* 3: the model registry and MLflow 3 logged models. Registry rows are
     * keyed by model name (a rename updates every table in one transaction);
     * a deleted version stays as stage 'Deleted_Internal' so that its number
     * is never given out again, and is hidden from every read. */
    "CREATE TABLE registered_models ("
    "  name TEXT PRIMARY KEY,"
    "  creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE INDEX registered_models_updated ON registered_models (last_updated_time, name);"
    "CREATE TABLE registered_model_tags (name TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY (name, key)) WITHOUT ROWID;"
    "CREATE TABLE registered_model_aliases (name TEXT NOT NULL, alias TEXT NOT NULL,"
    "  version INTEGER NOT NULL, PRIMARY KEY (name, alias)) WITHOUT ROWID;"
    "CREATE TABLE model_versions ("
    "  name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',"
    "  current_stage TEXT NOT NULL DEFAULT 'None',"
    "  source TEXT NOT NULL, storage_location TEXT NOT NULL,"
    "  run_id TEXT NOT NULL DEFAULT '', run_link TEXT NOT NULL DEFAULT '',"
    "  model_id TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL DEFAULT 'READY', status_message TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (name, version)) WITHOUT ROWID;"
    "CREATE INDEX model_versions_run ON model_versions (run_id);"
    "CREATE INDEX model_versions_storage ON model_versions (storage_location);"
    "CREATE TABLE model_version_tags (name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, version, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_models ("
    "  model_id TEXT PRIMARY KEY,"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),"
    "  name TEXT NOT NULL, artifact_location TEXT NOT NULL,"
    "  creation_timestamp BIGINT NOT NULL, last_updated_timestamp BIGINT NOT NULL,"
    "  status TEXT NOT NULL, lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
    "  model_type TEXT NOT NULL DEFAULT '', source_run_id TEXT NOT NULL DEFAULT '',"
    "  status_message TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_timestamp);"
    "CREATE INDEX logged_models_run ON logged_models (source_run_id);"
    "CREATE TABLE logged_model_params (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY (model_id, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_model_tags (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY (model_id, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_model_metrics (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    "  value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,"
    "  timestamp BIGINT NOT NULL, step BIGINT NOT NULL, run_id TEXT NOT NULL,"
    "  dataset_name TEXT NOT NULL DEFAULT '', dataset_digest TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (model_id, key, step, timestamp, dataset_name, dataset_digest, run_id))"
    "  WITHOUT ROWID;"
    "CREATE TABLE run_outputs (run_uuid TEXT NOT NULL, model_id TEXT NOT NULL,"
    "  step BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_uuid, model_id)) WITHOUT ROWID;",
    /* 4: pipeline runs, their tasks (written ahead of every action, so a
     * killed run resumes) and the task cache */
    "CREATE TABLE pipeline_runs ("
    "  run_id TEXT PRIMARY KEY, name TEXT NOT NULL, spec_path TEXT NOT NULL,"
    "  spec_sha256 TEXT NOT NULL, params TEXT NOT NULL, root TEXT NOT NULL,"
    "  state TEXT NOT NULL, created_ms BIGINT NOT NULL, finished_ms BIGINT) WITHOUT ROWID;"
    "CREATE TABLE pipeline_tasks ("
    "  run_id TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, attempt_dir TEXT NOT NULL DEFAULT '',"
    "  outputs TEXT, message TEXT NOT NULL DEFAULT '', fingerprint TEXT NOT NULL DEFAULT '',"
    "  cached INTEGER NOT NULL DEFAULT 0, start_ms BIGINT, end_ms BIGINT,"
    "  PRIMARY KEY (run_id, path)) WITHOUT ROWID;"
    "CREATE TABLE pipeline_cache ("
    "  fingerprint TEXT PRIMARY KEY, pipeline TEXT NOT NULL, run_id TEXT NOT NULL,"
    "  path TEXT NOT NULL, outputs TEXT NOT NULL, created_ms BIGINT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX pipeline_cache_created ON pipeline_cache (created_ms);",
    /* 5: pipelines in the server: KFP pipelines and their versions, recurring
     * runs, what a server run carries beyond a CLI run (its experiment, the
     * spec as submitted, KFP's run fields), each task attempt's MLflow run, and
     * the lineage graph's edges between nodes named "<kind>:<id>" */
    "ALTER TABLE pipeline_runs ADD COLUMN experiment_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN display_name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN description TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN storage_state TEXT NOT NULL DEFAULT 'AVAILABLE';"
    "ALTER TABLE pipeline_runs ADD COLUMN spec_text TEXT;"
    "ALTER TABLE pipeline_runs ADD COLUMN pipeline_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN pipeline_version_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN recurring_run_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN runtime_config TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE pipeline_runs ADD COLUMN state_history TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE pipeline_runs ADD COLUMN error TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE pipeline_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';"
    "ALTER TABLE pipeline_runs ADD COLUMN options TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE pipeline_tasks ADD COLUMN mlflow_run_id TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX pipeline_runs_experiment ON pipeline_runs (experiment_id, created_ms);"
    "CREATE INDEX pipeline_runs_state ON pipeline_runs (state);"
    "CREATE TABLE kfp_pipelines (pipeline_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  display_name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    "  created_ms BIGINT NOT NULL, tags TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID;"
    "CREATE TABLE kfp_pipeline_versions (pipeline_version_id TEXT PRIMARY KEY,"
    "  pipeline_id TEXT NOT NULL, name TEXT NOT NULL, display_name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '', created_ms BIGINT NOT NULL,"
    "  spec_text TEXT NOT NULL, code_source_url TEXT NOT NULL DEFAULT '',"
    "  tags TEXT NOT NULL DEFAULT '{}', UNIQUE (pipeline_id, name)) WITHOUT ROWID;"
    "CREATE TABLE kfp_recurring_runs (recurring_run_id TEXT PRIMARY KEY,"
    "  display_name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    "  experiment_id TEXT NOT NULL, spec_text TEXT, pipeline_id TEXT NOT NULL DEFAULT '',"
    "  pipeline_version_id TEXT NOT NULL DEFAULT '', runtime_config TEXT NOT NULL DEFAULT '{}',"
    "  max_concurrency INTEGER NOT NULL DEFAULT 1, trigger_spec TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL, no_catchup INTEGER NOT NULL DEFAULT 0,"
    "  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, next_fire_ms BIGINT,"
    "  last_fire_ms BIGINT, error TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE TABLE lineage_edges (src TEXT NOT NULL, dst TEXT NOT NULL, relation TEXT NOT NULL,"
    "  created_ms BIGINT NOT NULL, PRIMARY KEY (src, dst, relation)) WITHOUT ROWID;"
    "CREATE INDEX lineage_edges_dst ON lineage_edges (dst, src);",
    /* 6: indexes for the audit log's filters (store_audit.c), each ending in
     * seq so that a filtered page is one index range read newest first; and
     * for runs/search ordered by run name, which then reads the experiment's
     * runs in name order instead of sorting them all (the web UI sorts by any
     * column) */
    "CREATE INDEX audit_log_actor ON audit_log (actor, seq);"
    "CREATE INDEX audit_log_action ON audit_log (action, seq);"
    "CREATE INDEX audit_log_resource ON audit_log (resource, seq);"
    "CREATE INDEX audit_log_time ON audit_log (time_ms, seq);"
    "CREATE INDEX runs_experiment_name ON runs (experiment_id, name);",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(N_MIGRATIONS == TR_SCHEMA_VERSION, "one migration per schema version");

enum tr_err store_schema_version(struct tr_db *db, int *out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	*out = -1;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'",
	    &st, err);
	if (rc)
		return rc;
	rc = tr_db_step(db, st, &row, err);
	int64_t has = row ? tr_db_col_int64(db, st, 0) : 0;
	tr_db_done(db, st);
	if (rc || !has)
		return rc;
	rc = tr_db_prepare(db, "SELECT version FROM schema_version", &st, err);
	if (rc)
		return rc;
	rc = tr_db_step(db, st, &row, err);
	*out = 0;
	if (!rc && row)
		*out = (int)tr_db_col_int64(db, st, 0);
	tr_db_done(db, st);
	return rc;
}

enum tr_err store_migrate(struct tr_db *db, int from, struct tr_buf *err)
{
	/* One transaction for the whole way, with the version read again under
	 * the write lock: a server and a `trellis run` opening a new store at the
	 * same moment migrate it once, and nobody ever sees it half-migrated. */
	(void)from;
	enum tr_err rc = tr_db_exec(db, "BEGIN IMMEDIATE", err);
	if (rc)
		return rc;
	int now = -1;
	rc = store_schema_version(db, &now, err);
	if (!rc && now < 0) {
		rc = tr_db_exec(db,
				"CREATE TABLE schema_version (version INTEGER NOT NULL);"
				"INSERT INTO schema_version (version) VALUES (0);",
				err);
		now = 0;
	}
	for (int v = now + 1; !rc && v <= N_MIGRATIONS; v++) {
		rc = tr_db_exec(db, migrations[v - 1], err);
		if (!rc)
			rc = tr_db_run(db, err, "UPDATE schema_version SET version = ?", "i",
				       (int64_t)v);
	}
	if (!rc)
		rc = tr_db_exec(db, "COMMIT", err);
	if (rc) {
		struct tr_buf ignore = TR_BUF_INIT;
		if (tr_db_exec(db, "ROLLBACK", &ignore))
			tr_buf_reset(&ignore);
		tr_buf_release(&ignore);
	}
	return rc;
}
