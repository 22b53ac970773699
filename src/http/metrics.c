/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request metrics for /metrics in Prometheus' text format: a counter per
 * (route, status) and one latency histogram per route. A small fixed table
 * under one mutex: the critical section is a few adds, far below the cost of
 * the request itself.
 */
#include "http/server.h"

#include <pthread.h>
#include <string.h>

#define MAX_ROUTES   160
#define MAX_STATUSES 12
static const double bucket_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				  0.1,	  0.25,	 0.5,	 1,	2.5,  5,     10};
#define N_BUCKETS (sizeof(bucket_s) / sizeof(bucket_s[0]))

struct route_stats {
	const char *route; /* static string from the route table */
	int status[MAX_STATUSES];
	uint64_t count[MAX_STATUSES];
	uint64_t buckets[N_BUCKETS];
	uint64_t total;
	double sum_s;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_stats routes[MAX_ROUTES];
static size_t n_routes;

void tr_http_metrics_observe(const char *route, int status, uint64_t micros)
{
	pthread_mutex_lock(&lock);
	struct route_stats *r = NULL;
	for (size_t i = 0; i < n_routes; i++)
		if (routes[i].route == route || !strcmp(routes[i].route, route)) {
			r = &routes[i];
			break;
		}
	if (!r && n_routes < MAX_ROUTES) {
		r = &routes[n_routes++];
		r->route = route;
	}
	if (r) {
		for (int i = 0; i < MAX_STATUSES; i++) {
			if (r->status[i] == status || r->status[i] == 0) {
				r->status[i] = status;
				r->count[i]++;
				break;
			}
		}
		double s = (double)micros / 1e6;
		for (size_t b = 0; b < N_BUCKETS; b++)
			if (s <= bucket_s[b])
				r->buckets[b]++;
		r->total++;
		r->sum_s += s;
	}
	pthread_mutex_unlock(&lock);
}

void tr_http_metrics_render(struct tr_buf *out)
{
	pthread_mutex_lock(&lock);
	tr_buf_appends(out,
		       "# HELP trellis_http_requests_total HTTP requests by route and status.\n"
		       "# TYPE trellis_http_requests_total counter\n");
	for (size_t i = 0; i < n_routes; i++)
		for (int k = 0; k < MAX_STATUSES && routes[i].status[k]; k++)
			tr_buf_appendf(
			    out, "trellis_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			    routes[i].route, routes[i].status[k],
			    (unsigned long long)routes[i].count[k]);
	tr_buf_appends(out, "# HELP trellis_http_request_duration_seconds Request latency.\n"
			    "# TYPE trellis_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < n_routes; i++) {
		const struct route_stats *r = &routes[i];
		for (size_t b = 0; b < N_BUCKETS; b++)
			tr_buf_appendf(out,
				       "trellis_http_request_duration_seconds_bucket{route=\"%s\","
				       "le=\"%g\"} %llu\n",
				       r->route, bucket_s[b], (unsigned long long)r->buckets[b]);
		tr_buf_appendf(
		    out,
		    "trellis_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "trellis_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "trellis_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    r->route, (unsigned long long)r->total, r->route, r->sum_s, r->route,
		    (unsigned long long)r->total);
	}
	pthread_mutex_unlock(&lock);
}
