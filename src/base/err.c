/* base/err: see err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

wp_status_t wp_err_set(wp_err_t *err, wp_status_t status, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *wp_status_str(wp_status_t status)
{
    switch (status) {
    case WP_OK:
        return "ok";
    case WP_EINVAL:
        return "invalid input";
    case WP_ENOMEM:
        return "out of memory";
    case WP_ELIMIT:
        return "limit reached";
    case WP_ENOTFOUND:
        return "not found";
    case WP_EIO:
        return "i/o error";
    case WP_EAGAIN:
        return "need more input";
    case WP_ETIMEDOUT:
        return "timed out";
    }
    return "unknown status";
}
