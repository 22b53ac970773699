/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests of artifacts for the task cache: SHA-256 of a file's bytes;
 * for a folder, SHA-256 over its entries in name order ("f <name> <digest>\n"
 * or "d <name> <digest>\n", recursively). Symlinks are not followed.
 */
#ifndef TR_PIPELINE_DIGEST_H
#define TR_PIPELINE_DIGEST_H

#include "core/err.h"

struct tr_buf;

/* Fills HEX (65 bytes) with the digest of the file or folder at PATH;
 * RESOURCE_DOES_NOT_EXIST when there is nothing there. */
enum tr_err tr_digest_path(const char *path, char hex[65], struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
