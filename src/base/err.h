/*
 * base/err: status codes and error messages that say what was wrong and where.
 *
 * Functions that can fail on bad input return a wp_status_t and, when given a
 * wp_err_t, fill it with one line of text ("topology.yaml:12: key 'replicas': expected
 * an integer"). The caller owns the wp_err_t (usually on its stack); nothing here
 * allocates. A message longer than WP_ERR_MAX is cut, never overflowed.
 */
#ifndef WP_BASE_ERR_H
#define WP_BASE_ERR_H

#include <stddef.h>

#define WP_ERR_MAX 512

typedef enum {
    WP_OK = 0,
    WP_EINVAL = -1, /* bad input: the message says what and where */
    WP_ENOMEM = -2, /* allocation failed */
    WP_ELIMIT = -3, /* a size or count limit was reached */
    WP_ENOTFOUND = -4,
    WP_EIO = -5,
    WP_EAGAIN = -6,    /* need more input */
    WP_ETIMEDOUT = -7, /* a deadline passed */
} wp_status_t;

typedef struct wp_err_s {
    char msg[WP_ERR_MAX];
} wp_err_t;

/* Formats into err (when err is not NULL) and returns status, so a failing path can
 * say `return wp_err_set(err, WP_EINVAL, "line %d: ...", line);`. */
wp_status_t wp_err_set(wp_err_t *err, wp_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *wp_status_str(wp_status_t status);

#endif
