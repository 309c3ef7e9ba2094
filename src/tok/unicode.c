/*
 * tok/unicode: class lookups and NFC over the generated tables.
 *
 * ASCII classes come from a 128-entry table; above it, a binary search over the sorted
 * ranges of each class. NFC decodes the text into code points, decomposes each fully,
 * sorts each run of non-starters by combining class (stable), then composes: a code point
 * joins the last starter when a primary composite exists and nothing between them has a
 * class of zero or one at least its own (Hangul arithmetically, otherwise a binary search
 * over the sorted primary-composite pairs).
 */
#include "tok/unicode.h"

#include <stdlib.h>

static int in_ranges(const wp__uc_range_t *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static int ascii_class(uint32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return WP__UC_LETTER;
    if (c >= '0' && c <= '9')
        return WP__UC_NUMBER;
    if (c == ' ' || (c >= 0x09 && c <= 0x0d))
        return WP__UC_SPACE;
    return WP__UC_OTHER;
}

int wp__uc_class(uint32_t cp)
{
    if (cp < 0x80)
        return ascii_class(cp);
    if (in_ranges(wp__uc_letters, wp__uc_letters_n, cp))
        return WP__UC_LETTER;
    if (in_ranges(wp__uc_numbers, wp__uc_numbers_n, cp))
        return WP__UC_NUMBER;
    if (in_ranges(wp__uc_spaces, wp__uc_spaces_n, cp))
        return WP__UC_SPACE;
    return WP__UC_OTHER;
}

size_t wp__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

size_t wp__utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t ccc(uint32_t cp);

int wp__nfc_may_change(const unsigned char *s, size_t n)
{
    uint32_t last = 0; /* the combining class of the code point before */
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* ASCII: class 0 */
            i += wp__ascii_prefix(s + i, n - i);
            last = 0;
            continue;
        }
        if (s[i] < 0xcc) { /* a continuation byte, or a lead below U+0300: class 0 */
            if (s[i] >= 0xc0)
                last = 0;
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = wp__utf8_decode(s + i, n - i, &cp);
        if (len == 0 || in_ranges(wp__uc_nfc_maybe, wp__uc_nfc_maybe_n, cp))
            return 1;
        uint32_t cc = ccc(cp);
        if (cc && last > cc) /* marks out of canonical order */
            return 1;
        last = cc;
        i += len;
    }
    return 0;
}

static const wp__uc_single_t *find_nfd(uint32_t cp)
{
    size_t lo = 0, hi = wp__uc_nfd_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < wp__uc_nfd[mid].cp)
            hi = mid;
        else if (cp > wp__uc_nfd[mid].cp)
            lo = mid + 1;
        else
            return &wp__uc_nfd[mid];
    }
    return NULL;
}

static uint32_t ccc(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    size_t lo = 0, hi = wp__uc_ccc_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < wp__uc_ccc[mid].lo)
            hi = mid;
        else if (cp > wp__uc_ccc[mid].hi)
            lo = mid + 1;
        else
            return wp__uc_ccc[mid].cls;
    }
    return 0;
}

enum { H_SBASE = 0xac00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11a7 };
enum { H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28, H_NCOUNT = 588, H_SCOUNT = 11172 };

/* The composite of a then b, or 0 when they do not compose. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= H_LBASE && a < H_LBASE + H_LCOUNT && b >= H_VBASE && b < H_VBASE + H_VCOUNT)
        return H_SBASE + ((a - H_LBASE) * H_VCOUNT + (b - H_VBASE)) * H_TCOUNT;
    if (a >= H_SBASE && a < H_SBASE + H_SCOUNT && (a - H_SBASE) % H_TCOUNT == 0 && b > H_TBASE &&
        b < H_TBASE + H_TCOUNT)
        return a + (b - H_TBASE);
    size_t lo = 0, hi = wp__uc_nfc_pairs_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const wp__uc_pair_t *p = &wp__uc_nfc_pairs[mid];
        if (a < p->a || (a == p->a && b < p->b))
            hi = mid;
        else if (a > p->a || b > p->b)
            lo = mid + 1;
        else
            return p->composed;
    }
    return 0;
}

/* Appends the full canonical decomposition of cp to cps. */
static size_t decompose(uint32_t cp, uint32_t *cps)
{
    if (cp >= H_SBASE && cp < H_SBASE + H_SCOUNT) {
        uint32_t si = cp - H_SBASE, t = si % H_TCOUNT;
        cps[0] = H_LBASE + si / H_NCOUNT;
        cps[1] = H_VBASE + (si % H_NCOUNT) / H_TCOUNT;
        if (!t)
            return 2;
        cps[2] = H_TBASE + t;
        return 3;
    }
    const wp__uc_single_t *d = cp >= 0xc0 ? find_nfd(cp) : NULL;
    if (!d) {
        cps[0] = cp;
        return 1;
    }
    for (uint32_t k = 0; k < d->n; k++)
        cps[k] = d->seq[k];
    return d->n;
}

size_t wp__nfc(const unsigned char *s, size_t n, unsigned char *out)
{
    /* at most four code points per input code point, and at most n input code points */
    uint32_t *cps = malloc((4 * n + 1) * sizeof *cps);
    if (!cps)
        return SIZE_MAX;
    size_t m = 0, i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = wp__utf8_decode(s + i, n - i, &cp);
        if (len == 0) { /* callers pass valid text; a stray byte stands for itself */
            cp = s[i];
            len = 1;
        }
        i += len;
        m += decompose(cp, cps + m);
    }
    /* canonical order: a stable insertion sort of each run of non-starters */
    for (size_t k = 1; k < m; k++) {
        uint32_t c = cps[k], cc = ccc(c);
        if (!cc)
            continue;
        size_t j = k;
        while (j > 0 && ccc(cps[j - 1]) > cc) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = c;
    }
    /* composition */
    size_t w = 0, starter = SIZE_MAX;
    uint32_t last_class = 256;
    for (size_t k = 0; k < m; k++) {
        uint32_t c = cps[k], cc = ccc(c);
        if (starter != SIZE_MAX && (last_class < cc || (last_class == 0 && w == starter + 1))) {
            uint32_t comp = compose(cps[starter], c);
            if (comp) {
                cps[starter] = comp;
                continue;
            }
        }
        if (cc == 0)
            starter = w;
        last_class = cc;
        cps[w++] = c;
    }
    for (size_t k = 0; k < w; k++)
        o += wp__utf8_encode(cps[k], out + o);
    free(cps);
    return o;
}
