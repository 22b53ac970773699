/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric chunks: the points of one (run, key) packed into one blob, so that a
 * log-batch of 1,000 points is one row write instead of 1,000 (see
 * docs/ARCHITECTURE.md, "Metric storage", for the measurements behind this).
 *
 * Encoding, little-endian, per point: step i64, timestamp i64, value f64
 * (0 when NaN), flags u8 (1 NaN, 2 model_id, 4 dataset_name, 8 dataset_digest),
 * then for each flagged string a u16 length and its bytes. A chunk is a plain
 * concatenation of points, so appending is concatenation. Pure functions: no I/O.
 */
#ifndef TR_STORE_METRIC_CHUNK_H
#define TR_STORE_METRIC_CHUNK_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct tr_point {
	int64_t step;
	int64_t timestamp;
	double value;					      /* NaN and ±Inf as themselves */
	const char *model_id, *dataset_name, *dataset_digest; /* NULL when absent */
};

/* Appends the encoding of P to OUT. */
void tr_chunk_append(struct tr_buf *out, const struct tr_point *p);

/*
 * Decodes every point of the LEN bytes at DATA, appending them to *POINTS
 * (a tr_xrealloc'd array of *N entries with capacity *CAP; strings point into
 * DATA and live as long as it). Returns TR_ERR_DATA_LOSS on a malformed blob.
 */
enum tr_err tr_chunk_decode(const unsigned char *data, size_t len, struct tr_point **points,
			    size_t *n, size_t *cap) __attribute__((warn_unused_result));

/* Sorts points by MLflow's history order (timestamp, step, value; NaN after
 * numbers) and drops exact duplicates, as MLflow's primary key does. Returns
 * the new count. */
size_t tr_chunk_sort_unique(struct tr_point *points, size_t n);

#endif
