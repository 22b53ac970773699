/* SPDX-License-Identifier: Apache-2.0 */
/* /health, /version, /metrics, Trellis' own /api/2.0/trellis/version and
 * /api/2.0/trellis/lineage (trellis_lineage.c), /api/2.0/trellis/audit
 * (trellis_audit.c), and the embedded web UI at
 * "/" and "/assets/..." (ui.c). */
#include "api/api.h"
#include "api/ui.h"
#include "core/clock.h"

#include <string.h>

bool tr_api_admin(struct tr_api *api, struct tr_req *r)
{
	if (tr_api_lineage(api, r) || tr_api_trellis_pipelines(api, r) || tr_api_audit(api, r))
		return true;
	bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	if (!strcmp(r->path, "/health") && get) {
		r->route = "health";
		if (atomic_load(&api->ready))
			tr_req_text(r, 200, "text/plain; charset=utf-8", "OK");
		else
			tr_req_text(r, 503, "text/plain; charset=utf-8", "starting");
		return true;
	}
	if (!strcmp(r->path, "/version") && get) {
		r->route = "version";
		tr_req_text(r, 200, "text/plain; charset=utf-8", TR_MLFLOW_COMPAT_VERSION);
		return true;
	}
	if ((!strcmp(r->path, "/api/2.0/trellis/version") ||
	     !strcmp(r->path, "/ajax-api/2.0/trellis/version")) &&
	    get) {
		r->route = "trellis.version";
		tr_req_json(r, 200,
			    json_pack("{s:s,s:s,s:i}", "version", TR_VERSION, "mlflow_api_version",
				      TR_MLFLOW_COMPAT_VERSION, "schema_version",
				      TR_SCHEMA_VERSION));
		return true;
	}
	if (!strcmp(r->path, "/metrics") && get) {
		r->route = "metrics";
		struct tr_buf b = TR_BUF_INIT;
		uint64_t batches, writes;
		tr_http_metrics_render(&b);
		tr_store_stats(api->store, &batches, &writes);
		tr_buf_appendf(
		    &b,
		    "# HELP trellis_store_write_batches_total Group commits (one transaction, one "
		    "fsync each).\n"
		    "# TYPE trellis_store_write_batches_total counter\n"
		    "trellis_store_write_batches_total %llu\n"
		    "# HELP trellis_store_writes_total Writes applied by the group-commit writer.\n"
		    "# TYPE trellis_store_writes_total counter\n"
		    "trellis_store_writes_total %llu\n"
		    "# HELP trellis_uptime_seconds Seconds since the server started.\n"
		    "# TYPE trellis_uptime_seconds gauge\n"
		    "trellis_uptime_seconds %.3f\n",
		    (unsigned long long)batches, (unsigned long long)writes,
		    (double)(tr_clock_now_ms() - api->started_ms) / 1000.0);
		tr_req_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", tr_buf_str(&b));
		tr_buf_release(&b);
		return true;
	}
	return tr_ui_serve(&tr_ui_embedded, r);
}
