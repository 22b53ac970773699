/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the pipeline loaders (YAML reader, KFP IR, Trellis YAML, checks) on
 * arbitrary bytes, under small limits so alias and depth bombs are refused quickly. */
#include "pipeline/diag.h"
#include "pipeline/spec.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_pipeline_limits lim = {1u << 20, 40, 64, 100000, 2000};
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *spec = NULL;
	enum tr_err rc = tr_pipeline_load_buf((const char *)data, size, &lim, &spec, &d);
	if (rc == TR_OK && (!spec || d.errors))
		abort(); /* a loaded spec has no errors */
	if (rc != TR_OK && spec)
		abort();
	if (spec && tr_pipeline_task_count(spec) > lim.max_tasks)
		abort();
	tr_pipeline_spec_free(spec);
	tr_diags_release(&d);
	return 0;
}
