/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr: one line per event, with a level; JSON lines when
 * tr_log_set_json(true). Thread-safe (one write(2) per line).
 */
#ifndef TR_CORE_LOG_H
#define TR_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum tr_log_level { TR_LOG_DEBUG, TR_LOG_INFO, TR_LOG_WARN, TR_LOG_ERROR };

void tr_log_set_level(enum tr_log_level level);
void tr_log_set_json(bool json);
/* False when LEVEL is below the configured level (so callers can skip work). */
bool tr_log_enabled(enum tr_log_level level);
void tr_log(enum tr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The access-log line: method, path, status, duration in microseconds. */
void tr_log_access(const char *method, const char *path, int status, uint64_t micros);

#define tr_log_info(...)  tr_log(TR_LOG_INFO, __VA_ARGS__)
#define tr_log_warn(...)  tr_log(TR_LOG_WARN, __VA_ARGS__)
#define tr_log_error(...) tr_log(TR_LOG_ERROR, __VA_ARGS__)
#define tr_log_debug(...) tr_log(TR_LOG_DEBUG, __VA_ARGS__)

#endif
