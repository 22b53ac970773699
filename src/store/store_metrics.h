/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/store: metric points, one row each, plus latest values maintained on write. */
#ifndef TR_STORE_METRICS_H
#define TR_STORE_METRICS_H

#include "store/store_internal.h"

/* Reads and validates one Metric object (key, value, timestamp, step). */
enum tr_err store_metric_parse(json_t *obj, struct tr_metric *m, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Validates a parsed metric: key name and timestamp. */
enum tr_err store_metric_check(const struct tr_metric *m, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Inserts N points for RUN_ID (exact duplicates are ignored) and moves each
 * key's latest value forward when a point is newer by (step, timestamp, value). */
enum tr_err store_metrics_insert(struct tr_db *db, const char *run_id, const struct tr_metric *ms,
				 size_t n, struct tr_buf *err) __attribute__((warn_unused_result));
/* A Metric object (new) from columns key, step, timestamp, value, is_nan of
 * ST starting at column COL. */
json_t *store_metric_row_json(struct tr_db *db, struct tr_db_stmt *st, int col);

#endif
