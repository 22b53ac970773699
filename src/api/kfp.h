/* SPDX-License-Identifier: Apache-2.0 */
/* TEMPORARY (replaced by the KFP API branch): the shared KFP helpers the runs
 * endpoints use. */
#ifndef TR_API_KFP_H
#define TR_API_KFP_H

#include "api/api.h"

#include <stdbool.h>
#include <stdint.h>

void tr_kfp_error(struct tr_req *r, enum tr_err code, const char *msg);
void tr_kfp_json(struct tr_req *r, json_t *body /* stolen */);
void tr_kfp_time(int64_t ms, char out[32]);
bool tr_api_kfp_runs(struct tr_api *api, struct tr_req *r);
void tr_api_kfp_runs_list(struct tr_api *api, struct tr_req *r);

#endif
