/* des/heap: see heap.h. */
#include "des/heap.h"

#include <stdlib.h>

#include "base/buf.h"

void wp_des_heap_init(wp_des_heap_t *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
    h->next_seq = 0;
}

void wp_des_heap_free(wp_des_heap_t *h)
{
    free(h->v);
    wp_des_heap_init(h);
}

static int before(const wp_des_event_t *a, const wp_des_event_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

wp_status_t wp_des_heap_push(wp_des_heap_t *h, double t, int type, int index, void *ptr)
{
    if (wp_array_reserve((void **)&h->v, &h->cap, h->n, 1, sizeof(*h->v), 1024) != WP_OK)
        return WP_ENOMEM;
    wp_des_event_t e = {t, h->next_seq++, type, index, ptr};
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = e;
    return WP_OK;
}

int wp_des_heap_pop(wp_des_heap_t *h, wp_des_event_t *out)
{
    if (h->n == 0)
        return 0;
    *out = h->v[0];
    wp_des_event_t last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const wp_des_event_t *best = &last;
        if (l < h->n && before(&h->v[l], best)) {
            m = l;
            best = &h->v[l];
        }
        if (r < h->n && before(&h->v[r], best))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n > 0)
        h->v[i] = last;
    return 1;
}
