/*
 * base/log: structured log lines (logfmt by default, JSON by option) on stderr.
 *
 * For shells only: cores never log. One line per call:
 *   ts=2026-11-24T11:40:00.123Z level=info msg="listening" addr=127.0.0.1:8000
 * Fields are given as a printf-style tail already in key=value form; wp_log_kv
 * quotes a value when it needs it. The level and format are process-wide settings
 * of the shell (set once at start-up by cli/), the one piece of global state here.
 */
#ifndef WP_BASE_LOG_H
#define WP_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { WP_LOG_DEBUG, WP_LOG_INFO, WP_LOG_WARN, WP_LOG_ERROR } wp_log_level_t;

void wp_log_setup(wp_log_level_t level, bool json);
bool wp_log_enabled(wp_log_level_t level);
/* fields: "key=value key2=value2" (already formatted; use wp_log_quote for free text). */
void wp_log(wp_log_level_t level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes s into out as a logfmt value: bare when safe, else quoted and escaped. */
const char *wp_log_quote(char *out, size_t cap, const char *s);
wp_log_level_t wp_log_level_parse(const char *s, bool *ok);

#endif
