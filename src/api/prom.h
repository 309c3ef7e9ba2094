/*
 * api/prom: a parser for the Prometheus text exposition format, enough to read a model
 * server's /metrics (docs/reference.md §2). Pure and allocation-free.
 *
 * wp_api_prom_parse walks the text line by line and calls `on_sample` for every sample
 * with its metric name, the raw label text between the braces (without them; "" when
 * none) and its value. Comment lines (# HELP, # TYPE, others) and blank lines are
 * skipped; timestamps after the value are ignored. A malformed line stops the parse
 * with WP_EINVAL and a message naming the line. Label order on the wire is not
 * assumed: wp_api_prom_label finds one label's value in the raw label text.
 * Slices passed to the callback point into the input and are valid during the call.
 */
#ifndef WP_API_PROM_H
#define WP_API_PROM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/str.h"

typedef void (*wp_api_prom_sample_fn)(void *ud, wp_str_t name, wp_str_t labels, double value);

wp_status_t wp_api_prom_parse(const char *text, size_t len, wp_api_prom_sample_fn on_sample,
                              void *ud, wp_err_t *err);

/* Finds label `key` in raw label text (a="x",b="y"); writes its unescaped value into
 * out (NUL-terminated, cut to cap) and returns true when present. */
bool wp_api_prom_label(wp_str_t labels, const char *key, char *out, size_t cap);

#endif
