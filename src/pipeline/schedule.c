/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recurring-run scheduler (schedule.h). The store holds each enabled
 * recurring run's next fire time; this thread only reads the due ones, fires
 * them and writes back the last and next fire times, so the schedule
 * survives restarts and the API never has to tell the thread anything: it
 * looks again at least every second. The thread waits on a condition
 * variable with a timeout, so tr_schedule_stop() wakes it at once.
 */
#include "pipeline/schedule.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "pipeline/cron.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_WAIT_MS 1000

struct tr_schedule {
	struct tr_store *store;
	struct tr_pipelines *pipelines;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping; /* under lock */
	pthread_t thread;
};

/* Records the fire of recurring run ID (audited as kfp.recurringruns.fire). */
static void record(struct tr_store *s, const char *id, int64_t last, int64_t next,
		   const char *error)
{
	struct tr_write w = {0};
	w.apply = tr_store_kfp_recurring_fired;
	w.args =
	    json_pack("{s:s,s:I,s:I,s:s}", "recurring_run_id", id, "last_fire_ms", (json_int_t)last,
		      "next_fire_ms", (json_int_t)next, "error", error ? error : "");
	w.action = "kfp.recurringruns.fire";
	w.actor = "scheduler";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(s, &w);
	if (rc && rc != TR_ERR_RESOURCE_DOES_NOT_EXIST) /* deleted meanwhile: fine */
		tr_log_warn("recurring run %s: cannot record its fire: %s", id, tr_buf_str(&w.err));
	json_decref(w.args);
	tr_write_release(&w);
}

/* Submits one run of recurring run ROW (borrowed) at NOW_MS; RUN_ID gets its id. */
static enum tr_err submit(struct tr_store *s, struct tr_pipelines *p, json_t *row, int64_t now_ms,
			  char run_id[64], struct tr_buf *err)
{
	const char *id = json_string_value(json_object_get(row, "recurring_run_id"));
	const char *pid = json_string_value(json_object_get(row, "pipeline_id"));
	const char *vid = json_string_value(json_object_get(row, "pipeline_version_id"));
	const char *inline_spec = json_string_value(json_object_get(row, "spec_text"));
	char *spec = NULL, *version_id = NULL;
	enum tr_err rc = TR_OK;
	if (inline_spec)
		spec = tr_xstrdup(inline_spec);
	else
		rc = tr_store_kfp_version_spec(s, pid, vid, &spec, &version_id, err);
	if (rc)
		return rc;
	time_t secs = (time_t)(now_ms / 1000);
	struct tm tm;
	char stamp[32], name[600];
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(name, sizeof(name), "%.500s-%s",
		 json_string_value(json_object_get(row, "display_name")), stamp);
	json_t *rtc = json_object_get(row, "runtime_config");
	json_t *params = json_object_get(rtc, "parameters");
	struct tr_pipeline_submit req = {
	    .spec_text = spec,
	    .spec_len = strlen(spec),
	    .experiment_id = json_string_value(json_object_get(row, "experiment_id")),
	    .display_name = name,
	    .description = json_string_value(json_object_get(row, "description")),
	    .params = json_is_object(params) ? params : NULL,
	    .runtime_config = rtc,
	    .pipeline_id = pid && *pid ? pid : NULL,
	    .pipeline_version_id = version_id,
	    .recurring_run_id = id,
	    .actor = "scheduler",
	};
	rc = tr_pipelines_submit(p, &req, run_id, err);
	free(spec);
	free(version_id);
	return rc;
}

/* Fires ROW (due at or before NOW_MS) unless it has max_concurrency runs
 * unfinished, and records the fire with the next time after now. */
static void fire(struct tr_store *s, struct tr_pipelines *p, json_t *row, int64_t now_ms)
{
	const char *id = json_string_value(json_object_get(row, "recurring_run_id"));
	struct tr_buf err = TR_BUF_INIT;
	int64_t active = 0, next = 0;
	enum tr_err rc = tr_store_kfp_recurring_active(s, id, &active, &err);
	char run_id[64] = "";
	bool skipped = false;
	if (!rc && active >= json_integer_value(json_object_get(row, "max_concurrency")))
		skipped = true;
	else if (!rc)
		rc = submit(s, p, row, now_ms, run_id, &err);
	if (rc)
		tr_log_warn("recurring run %s: the fire failed: %s", id, tr_buf_str(&err));
	else if (skipped)
		tr_log_info("recurring run %s: skipped a fire, %lld runs still unfinished", id,
			    (long long)active);
	else
		tr_log_info("recurring run %s: started run %s", id, run_id);
	/* from now, not from the missed time: no catch-up storm after downtime */
	struct tr_buf terr = TR_BUF_INIT;
	if (tr_cron_trigger_next(json_object_get(row, "trigger"), now_ms, &next, &terr))
		next = 0; /* a stored trigger was checked at create; cannot happen */
	tr_buf_release(&terr);
	record(s, id, skipped ? json_integer_value(json_object_get(row, "last_fire_ms")) : now_ms,
	       next, rc ? tr_buf_str(&err) : "");
	tr_buf_release(&err);
}

int64_t tr_schedule_tick(struct tr_store *store, struct tr_pipelines *pipelines, int64_t now_ms)
{
	json_t *due = NULL, *row;
	int64_t earliest = 0;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_store_kfp_recurring_due(store, now_ms, &due, &earliest, &err)) {
		tr_log_warn("recurring runs: %s", tr_buf_str(&err));
		tr_buf_release(&err);
		return 0;
	}
	tr_buf_release(&err);
	size_t i;
	json_array_foreach(due, i, row) fire(store, pipelines, row, now_ms);
	json_decref(due);
	return earliest;
}

static void *thread_main(void *arg)
{
	struct tr_schedule *sc = arg;
	pthread_mutex_lock(&sc->lock);
	while (!sc->stopping) {
		pthread_mutex_unlock(&sc->lock);
		int64_t now = tr_clock_now_ms();
		int64_t earliest = tr_schedule_tick(sc->store, sc->pipelines, now);
		int64_t wait = MAX_WAIT_MS;
		now = tr_clock_now_ms();
		if (earliest && earliest - now < wait)
			wait = earliest - now < 1 ? 1 : earliest - now;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&sc->lock);
		if (!sc->stopping)
			pthread_cond_timedwait(&sc->wake, &sc->lock, &ts);
	}
	pthread_mutex_unlock(&sc->lock);
	return NULL;
}

enum tr_err tr_schedule_start(struct tr_store *store, struct tr_pipelines *pipelines,
			      struct tr_schedule **out, struct tr_buf *err)
{
	struct tr_schedule *sc = tr_xcalloc(1, sizeof(*sc));
	sc->store = store;
	sc->pipelines = pipelines;
	pthread_mutex_init(&sc->lock, NULL);
	pthread_cond_init(&sc->wake, NULL);
	int e = pthread_create(&sc->thread, NULL, thread_main, sc);
	if (e) {
		pthread_mutex_destroy(&sc->lock);
		pthread_cond_destroy(&sc->wake);
		free(sc);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start the scheduler: %s",
			       strerror(e));
	}
	*out = sc;
	return TR_OK;
}

void tr_schedule_stop(struct tr_schedule *sc)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sc->lock);
	sc->stopping = true;
	pthread_cond_signal(&sc->wake);
	pthread_mutex_unlock(&sc->lock);
	pthread_join(sc->thread, NULL);
	pthread_mutex_destroy(&sc->lock);
	pthread_cond_destroy(&sc->wake);
	free(sc);
}
