/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler of KFP recurring runs: one thread that sleeps until the
 * earliest next fire of an enabled recurring run (at most one second, so
 * runs created or enabled meanwhile are seen), then fires every due one by
 * submitting a pipeline run to the pipeline service (service.h).
 *
 * A fire: when fewer than max_concurrency runs the recurring run made are
 * unfinished, a run "<display_name>-<UTC time>" is submitted in its
 * experiment with its runtime_config and recurring_run_id; otherwise the fire
 * is skipped (not queued). Either way the next fire is computed from now, not
 * from the missed time, so after downtime a schedule fires once and then
 * keeps its rhythm: there is no catch-up of the backlog, whatever no_catchup
 * says. A fire that cannot submit (a deleted pipeline version, an invalid
 * spec) records the error on the recurring run and the schedule goes on.
 *
 * Lifecycle: tr_schedule_start() after tr_pipelines_start() ->
 * tr_schedule_stop() before tr_pipelines_stop().
 */
#ifndef TR_PIPELINE_SCHEDULE_H
#define TR_PIPELINE_SCHEDULE_H

#include "core/buf.h"
#include "core/err.h"
#include "pipeline/service.h"
#include "store/store.h"

struct tr_schedule;

/* Starts the scheduler thread over STORE, submitting to PIPELINES (both
 * borrowed; they must outlive it). Returns a new scheduler; stop it with
 * tr_schedule_stop(). */
enum tr_err tr_schedule_start(struct tr_store *store, struct tr_pipelines *pipelines,
			      struct tr_schedule **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Fires every due recurring run once, as the thread does at NOW_MS, and
 * returns the next time anything is due (0: nothing). For tests. */
int64_t tr_schedule_tick(struct tr_store *store, struct tr_pipelines *pipelines, int64_t now_ms);

/* Wakes the thread, waits for it to end (a fire in progress finishes first)
 * and frees SC. NULL is a no-op. */
void tr_schedule_stop(struct tr_schedule *sc);

#endif
