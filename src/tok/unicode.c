/*
 * tok/unicode: class lookups and partial NFC over the generated tables.
 *
 * ASCII classes come from a 128-entry table; above it, a binary search over the sorted
 * ranges of each class. NFC works one code point at a time: replace a code point that NFC
 * changes on its own, then try to compose it with the last code point written (Hangul
 * arithmetically, otherwise a binary search over the sorted primary-composite pairs).
 */
#include "tok/unicode.h"

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

int wp__nfc_may_change(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0xcc)
            continue;
        uint32_t cp;
        size_t len = wp__utf8_decode(s + i, n - i, &cp);
        if (len == 0 || in_ranges(wp__uc_nfc_maybe, wp__uc_nfc_maybe_n, cp))
            return 1;
        i += len - 1;
    }
    return 0;
}

static const wp__uc_single_t *find_single(uint32_t cp)
{
    size_t lo = 0, hi = wp__uc_nfc_single_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < wp__uc_nfc_single[mid].cp)
            hi = mid;
        else if (cp > wp__uc_nfc_single[mid].cp)
            lo = mid + 1;
        else
            return &wp__uc_nfc_single[mid];
    }
    return NULL;
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

size_t wp__nfc(const unsigned char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    size_t last_at = 0; /* where the last code point written starts */
    uint32_t last = 0;
    int have_last = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = wp__utf8_decode(s + i, n - i, &cp);
        if (len == 0) { /* not ours to judge: copied as it is */
            out[o++] = s[i++];
            have_last = 0;
            continue;
        }
        i += len;
        uint32_t seq[4] = {cp, 0, 0, 0};
        size_t nseq = 1;
        if (cp >= 0x300) {
            const wp__uc_single_t *sg = find_single(cp);
            if (sg) {
                nseq = sg->n;
                for (size_t k = 0; k < nseq; k++)
                    seq[k] = sg->seq[k];
            }
        }
        for (size_t k = 0; k < nseq; k++) {
            uint32_t c = seq[k];
            uint32_t comp = have_last && c >= 0x300 ? compose(last, c) : 0;
            if (comp) {
                o = last_at;
                c = comp;
            }
            last_at = o;
            o += wp__utf8_encode(c, out + o);
            last = c;
            have_last = 1;
        }
    }
    return o;
}
