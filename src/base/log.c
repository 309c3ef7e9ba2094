/*
 * base/log: see log.h. In JSON mode the key=value tail is turned into JSON members,
 * so call sites are the same in both modes.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/buf.h"

static wp_log_level_t g_level = WP_LOG_INFO;
static bool g_json = false;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void wp_log_setup(wp_log_level_t level, bool json)
{
    g_level = level;
    g_json = json;
}

bool wp_log_enabled(wp_log_level_t level)
{
    return level >= g_level;
}

wp_log_level_t wp_log_level_parse(const char *s, bool *ok)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *ok = true;
            return (wp_log_level_t)i;
        }
    }
    *ok = false;
    return WP_LOG_INFO;
}

const char *wp_log_quote(char *out, size_t cap, const char *s)
{
    bool bare = *s != '\0' && strpbrk(s, " \"=\\\n\t") == NULL;
    size_t k = 0;
    if (cap < 3) {
        if (cap)
            out[0] = '\0';
        return out;
    }
    if (!bare)
        out[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (!bare && (*s == '"' || *s == '\\'))
            out[k++] = '\\';
        out[k++] = (*s == '\n' || *s == '\t') ? ' ' : *s;
    }
    if (!bare)
        out[k++] = '"';
    out[k] = '\0';
    return out;
}

/* Turns `a=1 b="x y"` into `,"a":"1","b":"x y"`. */
static void fields_to_json(wp_buf_t *b, const char *f)
{
    while (*f) {
        while (*f == ' ')
            f++;
        const char *eq = strchr(f, '=');
        if (eq == NULL)
            break;
        wp_buf_puts(b, ",\"");
        wp_buf_json_escape(b, f, (size_t)(eq - f));
        wp_buf_puts(b, "\":\"");
        const char *v = eq + 1, *end;
        if (*v == '"') {
            v++;
            for (end = v; *end && *end != '"'; end++)
                if (*end == '\\' && end[1])
                    end++;
            wp_buf_json_escape(b, v, (size_t)(end - v));
            f = *end ? end + 1 : end;
        } else {
            end = strchr(v, ' ');
            if (end == NULL)
                end = v + strlen(v);
            wp_buf_json_escape(b, v, (size_t)(end - v));
            f = end;
        }
        wp_buf_puts(b, "\"");
    }
}

void wp_log(wp_log_level_t level, const char *msg, const char *fields_fmt, ...)
{
    if (!wp_log_enabled(level))
        return;
    char fields[2048] = "";
    if (fields_fmt != NULL) {
        va_list ap;
        va_start(ap, fields_fmt);
        vsnprintf(fields, sizeof(fields), fields_fmt, ap);
        va_end(ap);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[96];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    wp_buf_t b;
    wp_buf_init(&b, 8192);
    if (g_json) {
        wp_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
        wp_buf_json_escape(&b, msg, strlen(msg));
        wp_buf_puts(&b, "\"");
        fields_to_json(&b, fields);
        wp_buf_puts(&b, "}\n");
    } else {
        char q[512];
        wp_buf_printf(&b, "ts=%s level=%s msg=%s%s%s\n", ts, level_names[level],
                      wp_log_quote(q, sizeof(q), msg), fields[0] ? " " : "", fields);
    }
    if (b.data != NULL)
        fputs(b.data, stderr);
    wp_buf_free(&b);
}
