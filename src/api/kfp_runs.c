/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP runs and recurring runs (/runs, /recurringruns): a stub that claims no
 * path, so those answer 404 until the lead engineer replaces this file.
 */
#include "api/kfp.h"

bool tr_api_kfp_runs(struct tr_api *api, struct tr_req *r)
{
	return false;
}
