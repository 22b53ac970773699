/* SPDX-License-Identifier: Apache-2.0 */
/* Metric chunk codec; see metric_chunk.h for the format. */
#include "store/metric_chunk.h"
#include "core/alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { F_NAN = 1, F_MODEL = 2, F_DNAME = 4, F_DDIGEST = 8 };

static void put_u64(struct tr_buf *out, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tr_buf_append(out, b, 8);
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_str(struct tr_buf *out, const char *s)
{
	size_t n = strlen(s);
	if (n > 65535)
		n = 65535;
	unsigned char b[2] = {(unsigned char)(n & 0xff), (unsigned char)(n >> 8)};
	tr_buf_append(out, b, 2);
	tr_buf_append(out, s, n);
}

void tr_chunk_append(struct tr_buf *out, const struct tr_point *p)
{
	unsigned char flags =
	    (unsigned char)((isnan(p->value) ? F_NAN : 0) | (p->model_id ? F_MODEL : 0) |
			    (p->dataset_name ? F_DNAME : 0) | (p->dataset_digest ? F_DDIGEST : 0));
	double v = isnan(p->value) ? 0.0 : p->value;
	uint64_t bits;
	memcpy(&bits, &v, 8);
	put_u64(out, (uint64_t)p->step);
	put_u64(out, (uint64_t)p->timestamp);
	put_u64(out, bits);
	tr_buf_appendc(out, (char)flags);
	if (p->model_id)
		put_str(out, p->model_id);
	if (p->dataset_name)
		put_str(out, p->dataset_name);
	if (p->dataset_digest)
		put_str(out, p->dataset_digest);
}

enum tr_err tr_chunk_decode(const unsigned char *data, size_t len, struct tr_point **points,
			    size_t *n, size_t *cap)
{
	size_t off = 0;
	while (off < len) {
		if (off + 25 > len)
			return TR_ERR_DATA_LOSS;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			*points = tr_xrealloc(*points, *cap * sizeof(**points));
		}
		struct tr_point *p = &(*points)[*n];
		memset(p, 0, sizeof(*p));
		p->step = (int64_t)get_u64(data + off);
		p->timestamp = (int64_t)get_u64(data + off + 8);
		uint64_t bits = get_u64(data + off + 16);
		memcpy(&p->value, &bits, 8);
		unsigned char flags = data[off + 24];
		off += 25;
		if (flags & F_NAN)
			p->value = NAN;
		if (flags & (F_MODEL | F_DNAME | F_DDIGEST)) {
			/* The optional MLflow 3 fields are rare: skip them for history
			 * reads (MLflow's get-history does not return them). */
			for (int bit = F_MODEL; bit <= F_DDIGEST; bit <<= 1) {
				if (!(flags & bit))
					continue;
				if (off + 2 > len)
					return TR_ERR_DATA_LOSS;
				size_t sl = (size_t)data[off] | ((size_t)data[off + 1] << 8);
				off += 2;
				if (off + sl > len)
					return TR_ERR_DATA_LOSS;
				off += sl;
			}
		}
		(*n)++;
	}
	return TR_OK;
}

static int cmp_point(const void *x, const void *y)
{
	const struct tr_point *a = x, *b = y;
	if (a->timestamp != b->timestamp)
		return a->timestamp < b->timestamp ? -1 : 1;
	if (a->step != b->step)
		return a->step < b->step ? -1 : 1;
	bool an = isnan(a->value), bn = isnan(b->value);
	if (an || bn)
		return an == bn ? 0 : an ? 1 : -1;
	return a->value < b->value ? -1 : a->value > b->value;
}

size_t tr_chunk_sort_unique(struct tr_point *points, size_t n)
{
	if (n < 2)
		return n;
	qsort(points, n, sizeof(*points), cmp_point);
	size_t w = 1;
	for (size_t r = 1; r < n; r++)
		if (cmp_point(&points[r], &points[w - 1]))
			points[w++] = points[r];
	return w;
}
