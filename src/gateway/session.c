/*
 * gateway/session: the tokens of session affinity (the "session-affinity" scorer, sched/).
 *
 * As llm-d's session-affinity scorer: when the pool's scheduler runs that scorer, every
 * answer the gateway proxies carries `x-session-token: TOKEN`, TOKEN naming the endpoint
 * that served it; a later request that sends the header back names that endpoint as its
 * session's (wp_sched_request_t.session_ep), which the scorer scores 1 and the others 0,
 * weighed by its weight like any scorer, while the endpoint is in the pool (an endpoint
 * out of the pool is no candidate, so the request goes elsewhere and its answer carries the
 * new endpoint's token).
 *
 * TOKEN is the endpoint's name in standard base64 with padding (llm-d encodes the pod's
 * namespaced name the same way), so it stays valid across reloads that keep the name and
 * across gateway replicas with the same config. Decoding never trusts the header: a token
 * that is not base64, or not the name of an endpoint of the request's generation, is -1
 * (no session), never an error. Nothing is allocated or kept.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <string.h>

#define SESSION_HEADER "x-session-token"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(char c)
{
    const char *at = c != '\0' ? strchr(alphabet, c) : NULL;
    return at != NULL ? (int)(at - alphabet) : -1;
}

size_t wp__gw_session_encode(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), need = (n + 2) / 3 * 4;
    if (cap <= need)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)name[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)name[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)name[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* Standard base64 with padding into out (at most cap - 1 bytes, NUL-terminated); false on
 * anything else: a bad length or character, padding inside, bits set in the padding, or a
 * result too long. */
static bool decode(const char *tok, size_t len, char *out, size_t cap)
{
    if (len == 0 || len % 4 != 0 || len / 4 * 3 >= cap)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last && tok[i + 3] == '=' ? (tok[i + 2] == '=' ? 2 : 1) : 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int s = k >= 4 - pad ? 0 : sextet(tok[i + (size_t)k]);
            if (s < 0)
                return false;
            v = v << 6 | (uint32_t)s;
        }
        if ((pad == 2 && (v >> 8 & 0xff) != 0) || (pad == 1 && (v & 0xff) != 0))
            return false; /* stray bits: one name, one token */
        out[o++] = (char)(v >> 16);
        if (pad < 2)
            out[o++] = (char)(v >> 8 & 0xff);
        if (pad < 1)
            out[o++] = (char)(v & 0xff);
    }
    out[o] = '\0';
    return strlen(out) == o; /* a NUL inside names nothing */
}

int wp__gw_session_decode(const wp_sched_t *s, const char *token, size_t len)
{
    char name[sizeof(((wp_gateway_endpoint_cfg_t *)0)->name)];
    if (s == NULL || token == NULL || !decode(token, len, name, sizeof(name)))
        return -1;
    return wp_sched_endpoint_find(s, name);
}

int wp__gw_session_endpoint(const gw_proxy_t *p)
{
    if (!wp_sched_uses_scorer(p->pool->sched, "session-affinity"))
        return -1;
    wp_str_t v = wp_http_headers_get(&p->req->headers, SESSION_HEADER);
    return v.p != NULL ? wp__gw_session_decode(p->pool->sched, v.p, v.n) : -1;
}

size_t wp__gw_session_header(const gw_proxy_t *p, char *out, size_t cap)
{
    char tok[128];
    out[0] = '\0';
    if (p->ep == NULL || !wp_sched_uses_scorer(p->pool->sched, "session-affinity") ||
        wp__gw_session_encode(p->ep->cfg.name, tok, sizeof(tok)) == 0)
        return 0;
    int n = snprintf(out, cap, SESSION_HEADER ": %s\r\n", tok);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}
