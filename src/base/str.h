/*
 * base/str: string slices, strict number parsing and plain number formatting.
 *
 * A wp_str_t borrows its bytes: it is valid as long as what it points into. Number
 * parsing accepts the whole slice or fails (no trailing garbage, no silent overflow);
 * this replaces atoi and friends, which are banned.
 */
#ifndef WP_BASE_STR_H
#define WP_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp_str_s {
    const char *p;
    size_t n;
} wp_str_t;

#define WP_STR(lit) ((wp_str_t){(lit), sizeof(lit) - 1})

wp_str_t wp_str_from(const char *s);
bool wp_str_eq(wp_str_t a, wp_str_t b);
bool wp_str_eq_cstr(wp_str_t a, const char *s);
bool wp_str_case_eq_cstr(wp_str_t a, const char *s);

wp_status_t wp_parse_i64(const char *s, size_t n, int64_t *out);
wp_status_t wp_parse_u64(const char *s, size_t n, uint64_t *out);
wp_status_t wp_parse_double(const char *s, size_t n, double *out);

/* Write v's digits at out, with no NUL, and return how many: decimal (at most 20), and
 * lowercase hexadecimal without leading zeros (at most 16). "%llu" and "%llx" without
 * printf's cost, for the paths every request takes. */
size_t wp_str_put_u64(char *out, uint64_t v);
size_t wp_str_put_hex(char *out, uint64_t v);

/* Copies at most cap-1 bytes and always NUL-terminates; returns false when cut. */
bool wp_strlcpy(char *dst, const char *src, size_t cap);
/* Appends n bytes of src to dst, a NUL-terminated string of *len bytes in cap: all of them
 * (true, *len grown) or, when they do not fit with the NUL, none (false). */
bool wp_str_append(char *dst, size_t cap, size_t *len, const char *src, size_t n);

#endif
