/*
 * os/dns: see dns.h. c-ares on the loop: its sockets watched with uv_poll handles (opened
 * and closed as c-ares says through its socket-state callback), its timeouts with one timer
 * re-armed after every event. A lookup is a count of queries in flight (A and AAAA for a
 * name; the SRV query, then A and AAAA per target) and what they found; the last to end
 * calls back.
 */
#include "os/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"

#define MAX_SOCKS 16 /* c-ares's own sockets: one or two per server */

/* Class and record types (RFC 1035, RFC 3596 for AAAA, RFC 2782 for SRV). */
enum { CLASS_IN = 1, TYPE_A = 1, TYPE_AAAA = 28, TYPE_SRV = 33 };

typedef struct sock_s {
    uv_poll_t poll;
    ares_socket_t fd;
    struct wp_dns_s *d;
    bool used;
} sock_t;

struct wp_dns_s {
    uv_loop_t *loop;
    ares_channel channel;
    uv_timer_t timer;
    sock_t socks[MAX_SOCKS];
    bool freeing;
    int depth;        /* callbacks to the caller running (wp_dns_free waits for them) */
    int open_handles; /* the timer and the polls not yet closed */
};

typedef struct lookup_s {
    wp_dns_t *d;
    wp_dns_cb cb;
    void *ud;
    int pending; /* queries in flight */
    bool found;  /* some query found records */
    int status;  /* the first failure other than "no such name/records" */
    char why[160];
    uint32_t ttl;         /* the smallest TTL seen */
    wp_dns_addr_t *addrs; /* every address found (owned), sorted and cut at the end */
    size_t n, cap;
} lookup_t;

/* One address query for a lookup: the port its addresses go with. */
typedef struct query_s {
    lookup_t *l;
    int port;
} query_t;

/* ---- c-ares on the loop ---- */

static void arm_timer(wp_dns_t *d);

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = h->data;
    ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
    if (status < 0 || (events & UV_READABLE))
        r = s->fd; /* an error: let c-ares read it and fail the query */
    if (events & UV_WRITABLE)
        w = s->fd;
    ares_process_fd(s->d->channel, r, w);
    arm_timer(s->d);
}

static void on_timer(uv_timer_t *t)
{
    wp_dns_t *d = t->data;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer(d);
}

static void arm_timer(wp_dns_t *d)
{
    if (d->freeing)
        return;
    struct timeval tv, *t = ares_timeout(d->channel, NULL, &tv);
    if (t == NULL) {
        uv_timer_stop(&d->timer);
        return;
    }
    uint64_t ms = (uint64_t)t->tv_sec * 1000 + (uint64_t)t->tv_usec / 1000;
    uv_timer_start(&d->timer, on_timer, ms ? ms : 1, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    wp_dns_t *d;
    if (h->type == UV_TIMER) {
        d = h->data;
    } else {
        sock_t *s = h->data;
        d = s->d;
        s->used = false;
    }
    if (--d->open_handles == 0 && d->freeing)
        free(d);
}

/* c-ares opens, watches and closes its sockets: a poll handle follows each. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    wp_dns_t *d = data;
    sock_t *s = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_SOCKS; i++) {
        /* A slot still closing is not this socket any more: c-ares closes a socket and opens
         * the next one in one call, and the kernel hands back the same fd number. */
        if (d->socks[i].used && d->socks[i].fd == fd &&
            !uv_is_closing((uv_handle_t *)&d->socks[i].poll))
            s = &d->socks[i];
        else if (!d->socks[i].used && free_slot == NULL)
            free_slot = &d->socks[i];
    }
    if (!readable && !writable) {
        if (s != NULL && !uv_is_closing((uv_handle_t *)&s->poll)) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_handle_closed);
        }
        return;
    }
    if (s == NULL) {
        if (free_slot == NULL || uv_poll_init_socket(d->loop, &free_slot->poll, fd) != 0)
            return; /* c-ares times the query out */
        s = free_slot;
        s->used = true;
        s->fd = fd;
        s->d = d;
        s->poll.data = s;
        d->open_handles++;
    }
    uv_poll_start(&s->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

wp_dns_t *wp_dns_new(uv_loop_t *loop, const char *servers, wp_err_t *err)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        wp_err_set(err, WP_EIO, "DNS resolver: %s", ares_strerror(rc));
        return NULL;
    }
    wp_dns_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    d->loop = loop;
    struct ares_options o = {.sock_state_cb = on_sock_state, .sock_state_cb_data = d};
    rc = ares_init_options(&d->channel, &o, ARES_OPT_SOCK_STATE_CB);
    if (rc == ARES_SUCCESS && servers != NULL && servers[0] != '\0') {
        rc = ares_set_servers_ports_csv(d->channel, servers);
        if (rc != ARES_SUCCESS) {
            wp_err_set(err, WP_EINVAL, "DNS servers \"%s\": %s (expected ip[:port],...)", servers,
                       ares_strerror(rc));
            ares_destroy(d->channel);
            free(d);
            return NULL;
        }
    }
    if (rc != ARES_SUCCESS) {
        wp_err_set(err, WP_EIO, "DNS resolver: %s", ares_strerror(rc));
        free(d);
        return NULL;
    }
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    d->open_handles = 1;
    return d;
}

/* ---- lookups ---- */

static int cmp_addr(const void *a, const void *b)
{
    const wp_dns_addr_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c != 0 ? c : x->port - y->port;
}

/* Adds an address (duplicates go at the end); false when out of memory. */
static bool add_addr(lookup_t *l, const char *host, int port)
{
    if (wp_array_reserve((void **)&l->addrs, &l->cap, l->n, 1, sizeof(*l->addrs), 16) != WP_OK)
        return false;
    wp_strlcpy(l->addrs[l->n].host, host, sizeof(l->addrs[0].host));
    l->addrs[l->n++].port = port;
    return true;
}

/* Sorted, without duplicates, at most WP_DNS_ADDRS_MAX: the same set gives the same list
 * whatever order the server shuffled its records into. */
static void settle_addrs(lookup_t *l)
{
    if (l->n == 0)
        return;
    qsort(l->addrs, l->n, sizeof(l->addrs[0]), cmp_addr);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (cmp_addr(&l->addrs[i], &l->addrs[k - 1]) != 0)
            l->addrs[k++] = l->addrs[i];
    l->n = k < WP_DNS_ADDRS_MAX ? k : WP_DNS_ADDRS_MAX;
}

/* A query ended: the last one calls back. */
static void query_done(lookup_t *l)
{
    if (--l->pending > 0)
        return;
    wp_dns_t *d = l->d;
    if (!d->freeing) {
        d->depth++;
        settle_addrs(l);
        /* A query that failed (not "no such name or records") fails the lookup, even with
         * addresses from the others: a part of the set is not the set. */
        if (l->status != ARES_SUCCESS)
            l->cb(l->ud, l->status == ARES_ETIMEOUT ? WP_ETIMEDOUT : WP_EIO, l->why, NULL, 0, 0);
        else if (l->n > 0)
            l->cb(l->ud, WP_OK, NULL, l->addrs, l->n, l->ttl);
        else
            l->cb(l->ud, WP_ENOTFOUND,
                  l->found ? "no address for the name's records"
                           : "no such name (NXDOMAIN) or no "
                             "records of the type asked",
                  NULL, 0, 0);
        d->depth--;
    }
    free(l->addrs);
    free(l);
}

/* A failure that is not "no such name or records" is kept to be told. */
static void note_status(lookup_t *l, int status)
{
    if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA ||
        l->status != ARES_SUCCESS)
        return;
    l->status = status;
    wp_strlcpy(l->why, ares_strerror(status), sizeof(l->why));
}

#define TTLS_MAX 64 /* records whose TTL is read from one answer (their addresses: all) */

/* Adds every address of an A (or, v6, AAAA) answer to l, and the smallest TTL among the
 * first TTLS_MAX records; how many, or -1 when the answer does not parse (or memory ran out). */
static int read_answer(lookup_t *l, int port, bool v6, const unsigned char *abuf, int alen)
{
    struct ares_addrttl a[TTLS_MAX];
    struct ares_addr6ttl a6[TTLS_MAX];
    struct hostent *host = NULL;
    int nt = TTLS_MAX;
    int rc = v6 ? ares_parse_aaaa_reply(abuf, alen, &host, a6, &nt)
                : ares_parse_a_reply(abuf, alen, &host, a, &nt);
    if (rc == ARES_ENODATA)
        return 0; /* an answer without such records */
    if (rc != ARES_SUCCESS || host == NULL)
        return -1;
    for (int i = 0; i < nt; i++) {
        int t = v6 ? a6[i].ttl : a[i].ttl;
        uint32_t ttl = (uint32_t)(t > 0 ? t : 0);
        l->ttl = ttl < l->ttl ? ttl : l->ttl;
    }
    int n = 0;
    for (char **p = host->h_addr_list; p != NULL && *p != NULL && n >= 0; p++, n++) {
        char text[46];
        inet_ntop(host->h_addrtype, *p, text, sizeof(text));
        if (!add_addr(l, text, port))
            n = -2; /* -1 after the loop's increment */
    }
    ares_free_hostent(host);
    return n;
}

static void on_address_answer(query_t *q, bool v6, int status, const unsigned char *abuf, int alen)
{
    lookup_t *l = q->l;
    int n = status == ARES_SUCCESS ? read_answer(l, q->port, v6, abuf, alen) : -1;
    l->found |= n > 0;
    if (n < 0)
        note_status(l, status == ARES_SUCCESS ? ARES_EBADRESP : status);
    free(q);
    query_done(l);
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    on_address_answer(arg, false, status, abuf, alen);
}

static void on_aaaa(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    on_address_answer(arg, true, status, abuf, alen);
}

/* Queries A and AAAA of name for l, their addresses going with port. */
static void query_addresses(lookup_t *l, const char *name, int port)
{
    for (int k = 0; k < 2; k++) {
        query_t *q = malloc(sizeof(*q));
        if (q == NULL) {
            note_status(l, ARES_ENOMEM);
            continue;
        }
        *q = (query_t){.l = l, .port = port};
        l->pending++;
        ares_query(l->d->channel, name, CLASS_IN, k == 0 ? TYPE_A : TYPE_AAAA,
                   k == 0 ? on_a : on_aaaa, q);
    }
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    lookup_t *l = arg;
    struct ares_srv_reply *srv = NULL;
    if (status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &srv) == ARES_SUCCESS) {
        l->found = true;
        for (struct ares_srv_reply *r = srv; r != NULL && !l->d->freeing; r = r->next)
            query_addresses(l, r->host, r->port);
        ares_free_data(srv);
    } else {
        note_status(l, status);
    }
    query_done(l);
}

wp_status_t wp_dns_lookup(wp_dns_t *d, const char *name, bool srv, wp_dns_cb cb, void *ud)
{
    lookup_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return WP_ENOMEM;
    *l = (lookup_t){.d = d, .cb = cb, .ud = ud, .ttl = UINT32_MAX, .pending = 1};
    if (srv) {
        ares_query(d->channel, name, CLASS_IN, TYPE_SRV, on_srv, l); /* takes the count's 1 */
    } else {
        query_addresses(l, name, 0);
        query_done(l); /* the count's own 1 */
    }
    arm_timer(d);
    return WP_OK;
}

static void destroy(wp_dns_t *d)
{
    ares_destroy(d->channel); /* ends the queries: their callbacks see freeing, call nothing */
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_handle_closed);
    for (int i = 0; i < MAX_SOCKS; i++)
        if (d->socks[i].used && !uv_is_closing((uv_handle_t *)&d->socks[i].poll))
            uv_close((uv_handle_t *)&d->socks[i].poll, on_handle_closed);
}

static void on_destroy_timer(uv_timer_t *t)
{
    destroy(t->data);
}

void wp_dns_free(wp_dns_t *d)
{
    d->freeing = true;
    if (d->depth == 0) {
        destroy(d);
        return;
    }
    /* Called back from a lookup, inside c-ares: destroyed once it has returned. */
    uv_timer_start(&d->timer, on_destroy_timer, 0, 0);
}
