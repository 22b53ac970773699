/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store behind a pipeline run's hooks (run.h): task records go to the
 * store's group-commit writer without waiting, and flush() waits until every
 * one has committed, so the engine spawns a batch of attempts after one
 * commit. Output files under the artifact root are recorded like uploads
 * (path, size, SHA-256) so that lineage and gc see them. Used by `trellis
 * run` and by the server's pipeline service.
 *
 * Lifecycle: tr_recorder_new() -> tr_recorder_hooks() into a run's options ->
 * the run -> tr_recorder_flush() -> tr_recorder_free(). The hooks may be
 * called from one thread (the run's); flush() from any.
 */
#ifndef TR_PIPELINE_RECORDER_H
#define TR_PIPELINE_RECORDER_H

#include "core/err.h"
#include "pipeline/run.h"
#include "store/store.h"

struct tr_recorder;

/* A recorder for pipeline run RUN_ID of PIPELINE (names are copied). ARTIFACT_ROOT:
 * the absolute artifact folder whose files are recorded, or NULL. ACTOR names
 * the writer in the audit log. Returns a new recorder; free with tr_recorder_free(). */
struct tr_recorder *tr_recorder_new(struct tr_store *store, const char *run_id,
				    const char *pipeline, const char *artifact_root,
				    const char *actor);
/* Frees REC after waiting for its writes (NULL is a no-op). */
void tr_recorder_free(struct tr_recorder *rec);
/* Fills the persist/flush/cache_get members of HOOKS (and ctx) with REC's. */
void tr_recorder_hooks(struct tr_recorder *rec, struct tr_run_hooks *hooks);
/* Hands a write to the store without waiting; ARGS is stolen. Errors show at
 * the next flush. */
void tr_recorder_submit(struct tr_recorder *rec, tr_write_fn apply, json_t *args,
			const char *action, enum tr_audit_class cls);
/* Waits until every write submitted so far has committed; the first error. */
enum tr_err tr_recorder_flush(struct tr_recorder *rec, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Records pipeline run ARGS (see tr_store_pipeline_run_put) and waits. */
enum tr_err tr_recorder_put_run(struct tr_store *s, json_t *args, const char *actor,
				struct tr_buf *err) __attribute__((warn_unused_result));

#endif
