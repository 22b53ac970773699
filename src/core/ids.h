/* SPDX-License-Identifier: Apache-2.0 */
/* Identifiers: random run ids (MLflow's 32 lowercase hex) and hex encoding. */
#ifndef TR_CORE_IDS_H
#define TR_CORE_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes 32 random lowercase hex digits and a NUL into OUT (33 bytes). */
void tr_ids_run_id(char out[33]);
/* The value of hex digit C (0-15), or -1 when C is not one. */
int tr_hex_digit(char c);
/* Hex-encodes LEN bytes of IN into OUT (2*LEN+1 bytes). */
void tr_ids_hex(const uint8_t *in, size_t len, char *out);
/* Picks a run name like MLflow's "adjective-animal-NNN" into OUT. */
void tr_ids_run_name(char *out, size_t n);

#endif
