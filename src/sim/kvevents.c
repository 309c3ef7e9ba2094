/*
 * sim/kvevents: vLLM's KV events (`--kv-events-config`) from each replica's engine.
 *
 * With the option, every replica publishes what its engine's pool does, as a vLLM server
 * would (kvev/pub.h: ZeroMQ PUB, [topic, seq, msgpack batch], replay on the ROUTER): one
 * batch per engine step that stored or evicted blocks, published when the step ends,
 * before its tokens go out. A block's hash is vLLM's (kvhash/: sha256_cbor chained from
 * PYTHONHASHSEED, cache_salt on the first block, the 64-bit form), given to the engine as
 * the request's block hashes, so the engine's cache and its events name blocks as the
 * server and a gateway that tokenizes the prompt do.
 *
 * From the engine's events (engine.h): consecutive stored blocks of one request become one
 * BlockStored (its hashes, the parent of the first, their tokens: the prompt's, and for
 * blocks of generated tokens the ids of the filler words the simulator writes), consecutive
 * evictions one BlockRemoved, both with medium "GPU"; with a CPU offload tier, the blocks the
 * GPU evicts into it as BlockStored and those it drops as BlockRemoved, medium "CPU". A restarted
 * replica (a crash fault) publishes AllBlocksCleared. Replica i offsets the configured ports by i
 * (vLLM offsets them per data-parallel rank; a simulated process serves several servers); a port 0
 * binds any free port, reported by wp_sim_kv_events_endpoint.
 */
#include "sim/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kvev/ctx.h"
#include "tok/tok.h"

wp_status_t wp__sim_kvev_open(wp_sim_t *sim, wp_err_t *err)
{
    const char *json = sim->cfg.kv_events_config;
    wp_kvev_pub_config_t c;
    if (!json[0] || wp_kvev_pub_config_parse(json, strlen(json), 0, &c, err) != WP_OK)
        return json[0] ? WP_EINVAL : WP_OK;
    if (!c.enabled)
        return WP_OK;
    const char *seed = getenv("PYTHONHASHSEED");
    if (seed == NULL) { /* vLLM draws a random seed: nobody else can match its hashes */
        uint64_t r[4] = {uv_hrtime(), (uint64_t)uv_os_getpid(), (uint64_t)(uintptr_t)sim, 0};
        memcpy(sim->kv_seed.b, r, sizeof(sim->kv_seed.b));
        wp_log(WP_LOG_WARN, "PYTHONHASHSEED is not set: block hashes are random",
               "hint=\"set it (the same on every server and as the gateway's kvHashSeed) for "
               "KV-event routing\"");
    } else if (wp_kvhash_seed(seed, strlen(seed), &sim->kv_seed) != WP_OK) {
        return wp_err_set(err, WP_EIO, "kv events: cannot hash PYTHONHASHSEED");
    }
    sim->zctx = wp_kvev_ctx_new(err);
    if (sim->zctx == NULL)
        return WP_EIO;
    sim->kvev = true;
    sim->ecfg.kv_events = true;
    return WP_OK;
}

/* Ports offset by the replica's index, unless the file asks for any free port (0). */
static bool port_zero(const char *ep)
{
    const char *colon = strrchr(ep, ':');
    return colon != NULL && strcmp(colon, ":0") == 0;
}

wp_status_t wp__sim_kvev_replica(sim_replica_t *r, wp_err_t *err)
{
    wp_sim_t *sim = r->sim;
    if (!sim->kvev)
        return WP_OK;
    const char *json = sim->cfg.kv_events_config;
    wp_kvev_pub_config_t c;
    wp_status_t st = wp_kvev_pub_config_parse(json, strlen(json), 0, &c, err);
    if (st == WP_OK && !port_zero(c.endpoint))
        st = wp_kvev_pub_config_parse(json, strlen(json), r->index, &c, err);
    if (st != WP_OK)
        return st;
    r->kvpub = wp_kvev_pub_new(sim->loop, sim->zctx, &c, err);
    return r->kvpub ? WP_OK : WP_EIO;
}

void wp__sim_kvev_close(sim_replica_t *r)
{
    if (r->kvpub != NULL)
        wp_kvev_pub_close(r->kvpub);
    r->kvpub = NULL;
}

uint64_t *wp__sim_kvev_hashes(const sim_req_t *q, const int32_t *ids, size_t n)
{
    const wp_sim_t *sim = q->r->sim;
    size_t bs = (size_t)sim->ecfg.block_size, blocks = n / bs;
    if (!sim->kvev || blocks == 0)
        return NULL;
    wp_kvhash_opts_t o = {.block_size = bs, .cache_salt = q->cache_salt};
    uint64_t *out = malloc(blocks * sizeof(uint64_t));
    if (out != NULL &&
        wp_kvhash_chain_u64(&sim->kv_seed, ids, n, &o, out, blocks, &blocks) != WP_OK) {
        free(out);
        out = NULL;
    }
    return out;
}

/* Token p of q's sequence: its prompt's, else the filler word the simulator wrote. */
static int32_t token_at(const sim_req_t *q, size_t p)
{
    if (p < q->n_ids)
        return q->ids[p];
    char word[16];
    size_t n = wp_tok_filler(q->id ^ q->r->sim->cfg.seed, p - q->n_ids, word, sizeof(word));
    return wp_tok_piece_id(word, n, (uint32_t)q->r->sim->model->vocab);
}

typedef struct batch_s {
    wp_kvev_event_t *ev;
    uint64_t *hashes;
    int32_t *tokens;
    size_t n_ev, n_hashes, n_tokens;
    const void *last_user; /* the request of the open BlockStored */
    int32_t last_block;
} batch_t;

static void add_stored(batch_t *b, const wp_engine_kv_event_t *e, int32_t bs)
{
    const sim_req_t *q = e->user;
    wp_kvev_event_t *open = b->n_ev ? &b->ev[b->n_ev - 1] : NULL;
    if (!open || open->type != WP_KVEV_STORED || b->last_user != q ||
        e->block != b->last_block + 1) {
        open = &b->ev[b->n_ev++];
        *open = (wp_kvev_event_t){.type = WP_KVEV_STORED,
                                  .hashes = b->hashes + b->n_hashes,
                                  .has_parent = e->has_parent,
                                  .parent = e->parent,
                                  .token_ids = b->tokens + b->n_tokens,
                                  .block_size = bs,
                                  .medium = WP_KVEV_MEDIUM_GPU};
    }
    b->hashes[b->n_hashes++] = e->hash;
    open->n_hashes++;
    for (int32_t k = 0; k < bs; k++)
        b->tokens[b->n_tokens++] = token_at(q, (size_t)e->block * (size_t)bs + (size_t)k);
    open->n_tokens += (size_t)bs;
    b->last_user = q;
    b->last_block = e->block;
}

/* A block the GPU evicted into the CPU tier, or any removal: consecutive ones of one type and
 * medium in one event (a CPU store carries no tokens or parent, as the offloading connector's). */
static void add_plain(batch_t *b, const wp_engine_kv_event_t *e, int32_t bs)
{
    wp_kvev_type_t type = e->type == WP_ENGINE_KV_STORED ? WP_KVEV_STORED : WP_KVEV_REMOVED;
    wp_kvev_medium_t medium = e->cpu ? WP_KVEV_MEDIUM_CPU : WP_KVEV_MEDIUM_GPU;
    wp_kvev_event_t *open = b->n_ev ? &b->ev[b->n_ev - 1] : NULL;
    if (!open || open->type != type || open->medium != medium || b->last_user != NULL) {
        open = &b->ev[b->n_ev++];
        *open = (wp_kvev_event_t){.type = type,
                                  .hashes = b->hashes + b->n_hashes,
                                  .block_size = type == WP_KVEV_STORED ? bs : 0,
                                  .medium = medium};
    }
    b->hashes[b->n_hashes++] = e->hash;
    open->n_hashes++;
    b->last_user = NULL;
}

static void publish_batch(sim_replica_t *r, const wp_kvev_event_t *ev, size_t n)
{
    wp_kvev_batch_t batch = {.ts = (double)uv_now(r->sim->loop) / 1000.0,
                             .events = ev,
                             .n_events = n,
                             .dp_rank = r->group->n_ranks > 1 ? r->rank : -1};
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
        batch.ts = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    wp_err_t err;
    if (wp_kvev_pub_send(r->kvpub, &batch, &err) != WP_OK)
        wp_log(WP_LOG_WARN, "kv events: batch not sent", "replica=%d error=\"%s\"", r->index,
               err.msg);
}

void wp__sim_kvev_publish(sim_replica_t *r, const wp_engine_step_t *st)
{
    if (r->kvpub == NULL || st->n_kv_events == 0)
        return;
    int32_t bs = r->sim->ecfg.block_size;
    size_t n = st->n_kv_events;
    batch_t b = {.ev = malloc(n * sizeof(wp_kvev_event_t)),
                 .hashes = malloc(n * sizeof(uint64_t)),
                 .tokens = malloc(n * (size_t)bs * sizeof(int32_t)),
                 .last_block = -2};
    if (b.ev && b.hashes && b.tokens) {
        for (size_t i = 0; i < n; i++) {
            const wp_engine_kv_event_t *e = &st->kv_events[i];
            if (e->type == WP_ENGINE_KV_STORED && !e->cpu)
                add_stored(&b, e, bs);
            else
                add_plain(&b, e, bs);
        }
        publish_batch(r, b.ev, b.n_ev);
    } else {
        wp_log(WP_LOG_ERROR, "kv events: out of memory, a step's events are lost", "replica=%d",
               r->index);
    }
    free(b.ev);
    free(b.hashes);
    free(b.tokens);
}

void wp__sim_kvev_cleared(sim_replica_t *r)
{
    if (r->kvpub == NULL)
        return;
    wp_kvev_event_t ev = {.type = WP_KVEV_CLEARED};
    publish_batch(r, &ev, 1);
}

const char *wp_sim_kv_events_endpoint(const wp_sim_t *sim, int replica, bool replay)
{
    const wp_kvev_pub_t *p = sim->replicas[replica].kvpub;
    if (p == NULL)
        return "";
    return replay ? wp_kvev_pub_replay_endpoint(p) : wp_kvev_pub_endpoint(p);
}
