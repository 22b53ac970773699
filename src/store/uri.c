/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store URIs as SQLAlchemy reads them: sqlite:///relative.db is relative to the
 * working directory, sqlite:////abs/path.db is absolute; a bare path is taken
 * as a SQLite file. A query string (?...) is ignored.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "store/store_internal.h"

#include <string.h>

enum tr_err tr_store_uri_parse(const char *uri, const struct tr_db_ops **driver, char **path,
			       struct tr_buf *err)
{
	const char *p;
	if (!strncmp(uri, "sqlite:///", 10)) {
		p = uri + 10; /* "sqlite:////abs" leaves "/abs"; "sqlite:///rel" leaves "rel" */
	} else if (!strncmp(uri, "sqlite://", 9)) {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "store uri '%s' names no file: use sqlite:///relative.db or "
			       "sqlite:////absolute.db",
			       uri);
	} else if (!strncmp(uri, "postgresql", 10) || !strncmp(uri, "postgres:", 9) ||
		   !strncmp(uri, "mysql", 5) || strstr(uri, "://")) {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "store uri '%s': this build supports sqlite only", uri);
	} else {
		p = uri;
	}
	size_t n = strcspn(p, "?");
	if (n == 0)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "store uri '%s' names no file",
			       uri);
	*driver = &tr_db_sqlite_ops;
	*path = tr_xstrndup(p, n);
	return TR_OK;
}
