/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/store: the store struct, transactions and the reader pool. */
#ifndef TR_STORE_INTERNAL_H
#define TR_STORE_INTERNAL_H

#include "store/db.h"
#include "store/store.h"

#include <pthread.h>

struct reader {
	struct tr_db *db;
	struct reader *next;
};

struct tr_store {
	const struct tr_db_ops *driver;
	char *path;
	char *artifact_root;
	struct tr_db *wdb; /* the writer's connection */
	pthread_mutex_t pool_lock;
	struct reader *free_readers;
	/* writer queue */
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct tr_write *q_head, *q_tail;
	bool stopping;
	bool writer_dead;
	pthread_t writer;
	bool writer_started;
	uint64_t n_batches, n_writes; /* under q_lock */
};

struct tr_store_tx {
	struct tr_store *s;
	struct tr_db *db;
	int64_t now_ms;
};

/* Borrows a read connection; give it back with store_reader_put(). */
enum tr_err store_reader_get(struct tr_store *s, struct tr_db **out, struct tr_buf *err)
	__attribute__((warn_unused_result));
void store_reader_put(struct tr_store *s, struct tr_db *db);

/* Writer thread lifecycle (writer.c). */
enum tr_err store_writer_start(struct tr_store *s, struct tr_buf *err)
	__attribute__((warn_unused_result));
void store_writer_stop(struct tr_store *s);

/* Migrations (migrations.c): the version found (-1: empty store, no schema_version
 * table), and bringing a store from FROM (-1 or a version) to TR_SCHEMA_VERSION. */
enum tr_err store_schema_version(struct tr_db *db, int *out, struct tr_buf *err)
	__attribute__((warn_unused_result));
enum tr_err store_migrate(struct tr_db *db, int from, struct tr_buf *err)
	__attribute__((warn_unused_result));

/* Resolves a store URI to a driver and a path (uri.c). PATH is a new string. */
enum tr_err tr_store_uri_parse(const char *uri, const struct tr_db_ops **driver, char **path,
			       struct tr_buf *err) __attribute__((warn_unused_result));

/* Shared readers used by several store files. */
json_t *store_run_json(struct tr_db *db, struct tr_db_stmt *row, struct tr_buf *err);
enum tr_err store_run_check_active(struct tr_db *db, const char *run_id, struct tr_buf *err)
	__attribute__((warn_unused_result));
/* The Experiment object ID on DB (a new object); RESOURCE_DOES_NOT_EXIST when absent. */
enum tr_err store_experiment_load(struct tr_db *db, const char *id, json_t **out, struct tr_buf *err)
	__attribute__((warn_unused_result));
/* Base64 page tokens {"offset": N}. */
enum tr_err store_page_token_parse(const char *token, int64_t *offset, struct tr_buf *err)
	__attribute__((warn_unused_result));
char *store_page_token_make(int64_t offset);
/* The run id from ARGS: run_id, falling back to the legacy run_uuid. */
enum tr_err store_args_run_id(json_t *args, const char **out, struct tr_buf *err)
	__attribute__((warn_unused_result));

#endif
