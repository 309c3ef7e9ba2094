/* cli/dnsdisc: see dnsdisc.h. */
#include "cli/dnsdisc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

#define TICK_MS 100 /* how often the names are looked at for a lookup due */

static bool same_set(const wp_cli_dns_name_t *nm, const wp_dns_addr_t *a, size_t n)
{
    if (nm->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (nm->addrs[i].port != a[i].port || strcmp(nm->addrs[i].host, a[i].host) != 0)
            return false;
    return true;
}

static uint64_t clamp_ms(const wp_cli_dnsdisc_t *d, uint64_t ms)
{
    uint64_t lo = (uint64_t)d->min_ttl_ms, hi = (uint64_t)d->max_ttl_ms;
    return ms < lo ? lo : ms > hi ? hi : ms;
}

static const char *kind(const wp_cli_dns_name_t *nm)
{
    return nm->srv ? "SRV" : "A/AAAA";
}

/* A lookup failed: the last good set stays; said when the name's state changes. */
static void lookup_failed(wp_cli_dns_name_t *nm, const char *why)
{
    wp_cli_dnsdisc_t *d = nm->owner;
    nm->failures++;
    bool news = nm->ok || strcmp(nm->error, why) != 0;
    nm->ok = false;
    wp_strlcpy(nm->error, why, sizeof(nm->error));
    nm->next_ms = uv_now(d->loop) + (uint64_t)d->min_ttl_ms;
    if (news)
        wp_log(WP_LOG_WARN, "DNS: lookup failed, keeping the last addresses",
               "name=%s type=%s addresses=%zu reason=\"%s\"", nm->host, kind(nm), nm->n, why);
    if (d->looked != NULL)
        d->looked(d->ud, nm->unapplied);
}

static void on_lookup(void *ud, wp_status_t st, const char *why, const wp_dns_addr_t *addrs,
                      size_t n, uint32_t ttl_s)
{
    wp_cli_dns_name_t *nm = ud;
    wp_cli_dnsdisc_t *d = nm->owner;
    nm->looking = false;
    if (!nm->listed) { /* dropped while in flight: the slot is free now */
        free(nm->addrs);
        memset(nm, 0, sizeof(*nm));
        return;
    }
    if (st != WP_OK) {
        lookup_failed(nm, why != NULL ? why : "lookup failed");
        return;
    }
    nm->ttl_s = ttl_s;
    nm->next_ms = uv_now(d->loop) + clamp_ms(d, (uint64_t)ttl_s * 1000);
    bool was_ok = nm->ok;
    nm->ok = nm->ever = true;
    nm->error[0] = '\0';
    if (same_set(nm, addrs, n)) {
        if (!was_ok)
            wp_log(WP_LOG_INFO, "DNS: name resolves again", "name=%s addresses=%zu", nm->host, n);
        if (d->looked != NULL)
            d->looked(d->ud, nm->unapplied);
        return;
    }
    wp_dns_addr_t *copy = malloc(n * sizeof(*copy));
    if (copy == NULL) {
        lookup_failed(nm, "out of memory");
        return;
    }
    memcpy(copy, addrs, n * sizeof(*copy));
    free(nm->addrs);
    nm->addrs = copy;
    nm->n = n;
    nm->unapplied = true;
    wp_log(WP_LOG_INFO, "DNS: addresses changed", "name=%s type=%s addresses=%zu ttl_s=%u",
           nm->host, kind(nm), n, ttl_s);
    if (d->looked != NULL)
        d->looked(d->ud, true);
}

static void look_up(wp_cli_dns_name_t *nm)
{
    wp_cli_dnsdisc_t *d = nm->owner;
    nm->lookups++;
    nm->looking = true;
    if (wp_dns_lookup(d->dns, nm->host, nm->srv, on_lookup, nm) != WP_OK) {
        nm->looking = false;
        lookup_failed(nm, "out of memory");
    }
}

static void on_tick(uv_timer_t *t)
{
    wp_cli_dnsdisc_t *d = t->data;
    uint64_t now = uv_now(d->loop);
    for (int i = 0; i < d->n_names; i++) {
        wp_cli_dns_name_t *nm = &d->names[i];
        if (nm->host[0] != '\0' && nm->listed && !nm->looking && now >= nm->next_ms)
            look_up(nm);
    }
}

static wp_cli_dns_name_t *find(const wp_cli_dnsdisc_t *d, const char *host, bool srv, int port)
{
    for (int i = 0; i < d->n_names; i++) {
        wp_cli_dns_name_t *nm = (wp_cli_dns_name_t *)&d->names[i];
        if (nm->host[0] != '\0' && nm->srv == srv && nm->port == port &&
            strcmp(nm->host, host) == 0)
            return nm;
    }
    return NULL;
}

static wp_cli_dns_name_t *add(wp_cli_dnsdisc_t *d, const char *host, bool srv, int port)
{
    wp_cli_dns_name_t *slot = NULL;
    for (int i = 0; i < d->n_names && slot == NULL; i++)
        if (d->names[i].host[0] == '\0' && !d->names[i].looking)
            slot = &d->names[i];
    if (slot == NULL) {
        if (d->n_names == WP_CLI_DNS_NAMES_MAX)
            return NULL;
        slot = &d->names[d->n_names++];
    }
    *slot = (wp_cli_dns_name_t){.owner = d, .srv = srv, .port = port};
    wp_strlcpy(slot->host, host, sizeof(slot->host));
    return slot;
}

/* The resolver for servers, made again when they change. */
static wp_status_t resolver(wp_cli_dnsdisc_t *d, uv_loop_t *loop, const char *servers,
                            wp_err_t *err)
{
    if (d->dns != NULL && strcmp(d->servers, servers) == 0)
        return WP_OK;
    wp_dns_t *dns = wp_dns_new(loop, servers, err);
    if (dns == NULL)
        return WP_EINVAL;
    if (d->dns != NULL) {
        wp_dns_free(d->dns); /* its lookups are dropped: look again */
        for (int i = 0; i < d->n_names; i++) {
            if (d->names[i].looking && !d->names[i].listed) {
                free(d->names[i].addrs);
                memset(&d->names[i], 0, sizeof(d->names[i]));
            }
            d->names[i].looking = false;
            d->names[i].next_ms = 0;
        }
    }
    d->dns = dns;
    wp_strlcpy(d->servers, servers, sizeof(d->servers));
    return WP_OK;
}

wp_status_t wp_cli_dnsdisc_sync(wp_cli_dnsdisc_t *d, uv_loop_t *loop, const wp_topology_t *t,
                                void (*looked)(void *ud, bool changed), void *ud, wp_err_t *err)
{
    bool any = false;
    for (size_t i = 0; i < t->n_endpoints && !any; i++)
        any = t->endpoints[i].discover != WP_TOPO_DISCOVER_NONE;
    if (!any && d->dns == NULL)
        return WP_OK;
    if (!d->open) {
        d->loop = loop;
        uv_timer_init(loop, &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, on_tick, TICK_MS, TICK_MS);
        d->open = true;
    }
    d->looked = looked;
    d->ud = ud;
    d->min_ttl_ms = t->gateway.dns.min_ttl_ms;
    d->max_ttl_ms = t->gateway.dns.max_ttl_ms;
    /* The names t lists must fit before anything changes: a refused sync leaves every name
     * followed as it was. */
    int wanted = 0;
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const wp_topology_endpoint_t *e = &t->endpoints[i];
        bool again = false;
        for (size_t k = 0; k < i && !again; k++)
            again = t->endpoints[k].discover == e->discover && t->endpoints[k].port == e->port &&
                    strcmp(t->endpoints[k].host, e->host) == 0;
        wanted += e->discover != WP_TOPO_DISCOVER_NONE && !again;
    }
    if (wanted > WP_CLI_DNS_NAMES_MAX)
        return wp_err_set(err, WP_ELIMIT, "endpoints: %d DNS names to follow, at most %d", wanted,
                          WP_CLI_DNS_NAMES_MAX);
    if (resolver(d, loop, t->gateway.dns.servers, err) != WP_OK)
        return WP_EINVAL;
    for (int i = 0; i < d->n_names; i++)
        d->names[i].listed = false;
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const wp_topology_endpoint_t *e = &t->endpoints[i];
        if (e->discover == WP_TOPO_DISCOVER_NONE)
            continue;
        bool srv = e->discover == WP_TOPO_DISCOVER_SRV;
        wp_cli_dns_name_t *nm = find(d, e->host, srv, e->port);
        if (nm == NULL && (nm = add(d, e->host, srv, e->port)) == NULL)
            return wp_err_set(err, WP_ELIMIT, "endpoints: more than %d DNS names to follow",
                              WP_CLI_DNS_NAMES_MAX);
        nm->listed = true;
        if (!nm->looking && !nm->ever && nm->lookups == 0)
            look_up(nm);
    }
    for (int i = 0; i < d->n_names; i++) {
        wp_cli_dns_name_t *nm = &d->names[i];
        if (nm->host[0] != '\0' && !nm->listed && !nm->looking) {
            free(nm->addrs);
            memset(nm, 0, sizeof(*nm));
        }
    }
    return WP_OK;
}

/* e's endpoint for address a: named "<name>@<address>:<port>" (the name cut to fit). */
static void one(const wp_topology_endpoint_t *e, const wp_dns_addr_t *a, wp_topology_endpoint_t *o)
{
    *o = *e;
    o->discover = WP_TOPO_DISCOVER_NONE;
    wp_strlcpy(o->host, a->host, sizeof(o->host));
    o->port = (uint16_t)(a->port ? a->port : e->port);
    char tail[64];
    bool v6 = strchr(a->host, ':') != NULL;
    snprintf(tail, sizeof(tail), "@%s%s%s:%d", v6 ? "[" : "", a->host, v6 ? "]" : "", o->port);
    size_t t = strlen(tail), room = sizeof(o->name) - 1 - t, len = strlen(e->name);
    len = len < room ? len : room;
    memcpy(o->name, e->name, len);
    memcpy(o->name + len, tail, t + 1);
    snprintf(o->url, sizeof(o->url), "http://%s%s%s:%d%s", v6 ? "[" : "", a->host, v6 ? "]" : "",
             o->port, e->base_path);
}

wp_status_t wp_cli_dnsdisc_expand(const wp_cli_dnsdisc_t *d, const wp_topology_t *t,
                                  wp_topology_t *out, wp_err_t *err)
{
    out->endpoints = NULL;
    out->n_endpoints = 0;
    size_t total = 0;
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const wp_topology_endpoint_t *e = &t->endpoints[i];
        const wp_cli_dns_name_t *nm =
            e->discover == WP_TOPO_DISCOVER_NONE
                ? NULL
                : find(d, e->host, e->discover == WP_TOPO_DISCOVER_SRV, e->port);
        total += e->discover == WP_TOPO_DISCOVER_NONE ? 1 : nm != NULL ? nm->n : 0;
    }
    if (total > WP_TOPO_MAX_ENDPOINTS)
        return wp_err_set(err, WP_ELIMIT, "DNS names give %zu endpoints, at most %d", total,
                          WP_TOPO_MAX_ENDPOINTS);
    if (total == 0)
        return WP_OK;
    out->endpoints = calloc(total, sizeof(*out->endpoints));
    if (out->endpoints == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const wp_topology_endpoint_t *e = &t->endpoints[i];
        if (e->discover == WP_TOPO_DISCOVER_NONE) {
            out->endpoints[k++] = *e;
            continue;
        }
        const wp_cli_dns_name_t *nm =
            find(d, e->host, e->discover == WP_TOPO_DISCOVER_SRV, e->port);
        if (nm != NULL && nm->n > 1 && e->has_data_parallel_rank) {
            wp_topology_free(out);
            return wp_err_set(err, WP_EINVAL,
                              "endpoint %s: %s gives %zu addresses, but dataParallelRank %d is one "
                              "server (name each rank's server apart)",
                              e->name, e->host, nm->n, e->data_parallel_rank);
        }
        for (size_t a = 0; nm != NULL && a < nm->n; a++)
            one(e, &nm->addrs[a], &out->endpoints[k++]);
    }
    out->n_endpoints = k;
    return WP_OK;
}

void wp_cli_dnsdisc_applied(wp_cli_dnsdisc_t *d)
{
    for (int i = 0; i < d->n_names; i++)
        d->names[i].unapplied = false;
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void wp_cli_dnsdisc_close(wp_cli_dnsdisc_t *d)
{
    if (d->dns != NULL)
        wp_dns_free(d->dns);
    d->dns = NULL;
    for (int i = 0; i < d->n_names; i++)
        free(d->names[i].addrs);
    d->n_names = 0;
    if (d->open)
        uv_close((uv_handle_t *)&d->timer, on_timer_closed);
    d->open = false;
}
