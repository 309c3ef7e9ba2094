/*
 * api/sse: see sse.h. Bytes go into the current line; at each line end the line is
 * interpreted (field "data" appends to the event; an empty line dispatches it).
 */
#include "api/sse.h"

#include <string.h>

void wp_api_sse_init(wp_api_sse_t *p, size_t max_event, wp_api_sse_event_fn fn, void *ud)
{
    memset(p, 0, sizeof(*p));
    wp_buf_init(&p->line, max_event + 16);
    wp_buf_init(&p->data, max_event + 1);
    p->on_event = fn;
    p->ud = ud;
}

void wp_api_sse_free(wp_api_sse_t *p)
{
    wp_buf_free(&p->line);
    wp_buf_free(&p->data);
}

static wp_status_t end_line(wp_api_sse_t *p, wp_err_t *err)
{
    const char *l = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    if (n == 0) {
        if (p->has_data)
            p->on_event(p->ud, p->data.data ? p->data.data : "", p->data.len);
        wp_buf_reset(&p->data);
        p->has_data = false;
        return WP_OK;
    }
    wp_status_t st = WP_OK;
    bool is_data = (n == 4 && memcmp(l, "data", 4) == 0) || (n >= 5 && memcmp(l, "data:", 5) == 0);
    if (is_data) {
        const char *v = l + (n > 4 ? 5 : 4);
        size_t vn = n - (n > 4 ? 5 : 4);
        if (vn > 0 && v[0] == ' ') {
            v++;
            vn--;
        }
        if (p->has_data)
            st = wp_buf_append(&p->data, "\n", 1);
        if (st == WP_OK)
            st = wp_buf_append(&p->data, v, vn);
        p->has_data = true;
    }
    wp_buf_reset(&p->line);
    if (st != WP_OK)
        return wp_err_set(err, WP_ELIMIT, "event stream: an event exceeds %zu bytes at byte %zu",
                          p->data.max - 1, p->offset);
    return WP_OK;
}

wp_status_t wp_api_sse_feed(wp_api_sse_t *p, const char *bytes, size_t n, wp_err_t *err)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = bytes[i];
        if (c != '\n' && c != '\r') {
            p->last_cr = false;
            continue;
        }
        bool lf_after_cr = c == '\n' && p->last_cr;
        p->last_cr = c == '\r';
        if (wp_buf_append(&p->line, bytes + start, i - start) != WP_OK)
            return wp_err_set(err, WP_ELIMIT, "event stream: a line exceeds %zu bytes at byte %zu",
                              p->line.max - 1, p->offset + i);
        start = i + 1;
        if (lf_after_cr)
            continue;
        wp_status_t st = end_line(p, err);
        if (st != WP_OK)
            return st;
    }
    if (wp_buf_append(&p->line, bytes + start, n - start) != WP_OK)
        return wp_err_set(err, WP_ELIMIT, "event stream: a line exceeds %zu bytes at byte %zu",
                          p->line.max - 1, p->offset + n);
    p->offset += n;
    return WP_OK;
}

bool wp_api_sse_pending(const wp_api_sse_t *p)
{
    return p->line.len > 0 || p->has_data;
}
