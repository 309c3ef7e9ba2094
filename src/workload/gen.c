/*
 * workload/gen: the generator (see workload.h).
 *
 * wp_workload_new draws every arrival time up front from the arrival stream of the seed:
 * exponential gaps at each stage's rate (poisson), or start + i / rate (constant), stage
 * after stage, until the stage's duration or the request limit ends it; the trace's
 * timestamps (minus the first, divided by speed); or -1 for a closed loop. So the total is
 * known before the first request and each stage is a contiguous range of indexes
 * (stage_end[k] is one past its last request). A sequential load (inference-perf's) draws
 * exactly floor(rate x duration) arrivals per stage, uncut by the duration; each stage's
 * nominal start (stage_start[k]) travels with its requests so the driver can move the
 * stage to when the previous one drained. The load.warmup warm-up requests come first:
 * closed loop, they are the first of the count; open loop, they arrive as the first
 * stage's requests do, from 0 and from their own arrival stream, uncut by a duration, and
 * the measured arrivals are then drawn as without a warm-up, from where the warm-up's
 * stream ends (its last arrival for Poisson, the next slot for constant): the pacer starts
 * the measured run when the warm-up drained, at the measured arrivals' offsets from there;
 * trace, the first entries. The stages, their starts and their ends count the measured
 * requests after the warm-up ones.
 *
 * Content is made on demand by wp_workload_next into one reused buffer, from the content
 * stream (sequential draws: shuffles, random lengths) and from keys that name each piece
 * of text (group g's system prompt, session s's turn t...), so a piece has the same text
 * wherever it appears. shared_prefix walks the (group, prompt) pairs in an order shuffled
 * per pass; a pass past the first reuses the system prompts with new questions (with
 * fixed_prompts, as inference-perf, one shuffle, the same questions again, and the
 * warm-up and each stage starting over from the first prompt of that order).
 * multi_turn goes turn by turn across sessions (all first turns, then all second turns),
 * so a session's turns are num_sessions requests apart; a pass past the first starts new
 * sessions. Text goes through one sink (internal.h), which also collects the token ids
 * once wp_workload_set_vocab was called and stops keeping bytes at max_text_bytes. An answer's
 * length is drawn from a stream keyed by (session, turn), so the same answer text reappears in
 * every later turn of its session.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workload/internal.h"

struct wp_workload_s {
    wp_workload_spec_t spec;
    const wp_workload_trace_t *trace;
    wp__workload_corpus_t corpus;
    wp_workload_stage_t stages[WP_WORKLOAD_MAX_STAGES];
    size_t stage_end[WP_WORKLOAD_MAX_STAGES];
    double stage_start[WP_WORKLOAD_MAX_STAGES]; /* nominal start of each stage's arrivals */
    size_t n_stages;
    double *arrivals; /* total entries; NULL in closed loop */
    size_t total, next, stage;
    size_t warmup; /* the first `warmup` requests are warm-ups (total counts them) */
    wp_rng_t content;
    uint32_t *perm; /* shared_prefix: groups x prompts */
    size_t n_perm;
    wp_buf_t text;
    wp__workload_sink_t sink; /* text -> &text; ids once a vocab is set */
};

/* ---- arrivals ---- */

static wp_status_t push(wp_workload_t *w, size_t *cap, double t, wp_err_t *err)
{
    if (w->total == *cap) {
        if (*cap >= WP_WORKLOAD_MAX_REQUESTS)
            return wp_err_set(err, WP_ELIMIT, "load: more than %d requests",
                              WP_WORKLOAD_MAX_REQUESTS);
        size_t n = *cap ? *cap * 2 : 1024;
        n = n > WP_WORKLOAD_MAX_REQUESTS ? WP_WORKLOAD_MAX_REQUESTS : n;
        double *a = realloc(w->arrivals, n * sizeof(*a));
        if (a == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory for %zu arrivals", n);
        w->arrivals = a;
        *cap = n;
    }
    w->arrivals[w->total++] = t;
    return WP_OK;
}

/* The i-th arrival (from 0) of a stream at `rate` that starts at `start`, t the one
 * before: a Poisson gap after t, or start + i / rate. */
static double next_arrival(const wp_workload_t *w, double t, double start, size_t i, double rate,
                           wp_rng_t *r)
{
    if (w->spec.load.type != WP_WORKLOAD_LOAD_CONSTANT)
        return t - log(1.0 - wp_rng_double(r)) / rate;
    return start + (double)i / rate;
}

/* Arrivals of stage k from time start, until its duration or limit requests in all; in a
 * sequential load exactly floor(rate x duration) of them, however long they take. */
static wp_status_t draw_stage(wp_workload_t *w, size_t k, double start, size_t limit, wp_rng_t *r,
                              size_t *cap, wp_err_t *err)
{
    const wp_workload_stage_t *s = &w->stages[k];
    bool exact = w->spec.load.sequential && s->duration > 0;
    size_t count = exact ? (size_t)floor(s->rate * s->duration) : SIZE_MAX;
    double t = start;
    wp_status_t st = WP_OK;
    for (size_t i = 0; st == WP_OK && w->total < limit && i < count; i++) {
        t = next_arrival(w, t, start, i, s->rate, r);
        if (!exact && s->duration > 0 && t >= start + s->duration)
            break;
        st = push(w, cap, t, err);
    }
    return st;
}

/* The warm-up's arrivals: as the first stage's, from 0, from their own stream, uncut by
 * its duration. *end is where the measured arrivals start: the last warm-up arrival
 * (Poisson gaps are memoryless) or, constant, the slot after it. */
static wp_status_t draw_warmup(wp_workload_t *w, size_t *cap, double *end, wp_err_t *err)
{
    wp_rng_t r;
    wp_rng_seed(&r, wp__workload_key((uint64_t)w->spec.seed, WP__WL_TAG_ARRIVAL, 1, 0));
    double rate = w->stages[0].rate, t = 0;
    wp_status_t st = WP_OK;
    for (size_t i = 0; st == WP_OK && i < w->warmup; i++) {
        t = next_arrival(w, t, 0, i, rate, &r);
        st = push(w, cap, t, err);
    }
    *end = w->spec.load.type == WP_WORKLOAD_LOAD_CONSTANT ? (double)w->warmup / rate : t;
    return st;
}

static wp_status_t draw_rate_arrivals(wp_workload_t *w, wp_err_t *err)
{
    size_t limit, cap = 0;
    w->n_stages = wp__workload_rate_stages(&w->spec, w->stages, &limit);
    limit = limit == SIZE_MAX ? SIZE_MAX : w->warmup + limit; /* limit counts measured ones */
    double start = 0;
    wp_status_t st = draw_warmup(w, &cap, &start, err);
    if (st != WP_OK)
        return st;
    wp_rng_t r;
    wp_rng_seed(&r, wp__workload_key((uint64_t)w->spec.seed, WP__WL_TAG_ARRIVAL, 0, 0));
    for (size_t k = 0; k < w->n_stages; k++) {
        w->stage_start[k] = start;
        st = draw_stage(w, k, start, limit, &r, &cap, err);
        if (st != WP_OK)
            return st;
        w->stage_end[k] = w->total;
        start += w->stages[k].duration;
        /* exact counts may run past the duration: keep arrivals in order */
        if (w->total > 0 && w->arrivals[w->total - 1] > start)
            start = w->arrivals[w->total - 1];
    }
    return WP_OK;
}

static size_t requested(const wp_workload_spec_t *s, size_t natural)
{
    return s->load.num_requests > 0 ? (size_t)s->load.num_requests : natural;
}

static wp_status_t trace_arrivals(wp_workload_t *w, wp_err_t *err)
{
    const wp_workload_trace_t *t = w->trace;
    if (t == NULL || t->n == 0)
        return wp_err_set(err, WP_EINVAL, "type trace: no trace given (parse the file first)");
    if (w->warmup >= t->n)
        return wp_err_set(err, WP_EINVAL,
                          "load.warmup: %zu warm-up requests leave none of the trace's %zu "
                          "entries to measure",
                          w->warmup, t->n);
    size_t n = requested(&w->spec, t->n - w->warmup); /* measured */
    n = n < t->n - w->warmup ? n : t->n - w->warmup;
    size_t total = w->warmup + n;
    w->arrivals = malloc(total * sizeof(*w->arrivals));
    if (w->arrivals == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory for %zu arrivals", total);
    double t0 = t->entries[0].timestamp_ms;
    for (size_t i = 0; i < total; i++)
        w->arrivals[i] = (t->entries[i].timestamp_ms - t0) / 1000.0 / w->spec.trace_speed;
    w->total = total;
    /* the measured entries start where the warm-up's last one arrived */
    w->stage_start[0] = w->warmup > 0 ? w->arrivals[w->warmup - 1] : 0;
    double span = w->arrivals[total - 1] - w->stage_start[0];
    w->stages[0] = (wp_workload_stage_t){.rate = span > 0 ? (double)n / span : 0, .duration = span};
    return WP_OK;
}

static wp_status_t draw_arrivals(wp_workload_t *w, wp_err_t *err)
{
    wp_workload_load_type_t t = wp__workload_load_type(&w->spec);
    w->spec.load.type = t;
    if (t != WP_WORKLOAD_LOAD_CONCURRENCY && t != WP_WORKLOAD_LOAD_TRACE)
        return draw_rate_arrivals(w, err);
    w->n_stages = 1;
    wp_status_t st = WP_OK;
    if (t == WP_WORKLOAD_LOAD_TRACE)
        st = trace_arrivals(w, err);
    else
        w->total = w->warmup + requested(&w->spec, wp__workload_natural_size(&w->spec));
    w->stage_end[0] = w->total;
    return st;
}

/* ---- content ---- */

static uint64_t seed_of(const wp_workload_t *w)
{
    return (uint64_t)w->spec.seed;
}

static wp_status_t put_text(wp_workload_t *w, uint64_t key, size_t n)
{
    return wp__workload_corpus_emit(&w->corpus, key, n, &w->sink);
}

static void shuffle(wp_workload_t *w)
{
    for (size_t i = 0; i < w->n_perm; i++)
        w->perm[i] = (uint32_t)i;
    for (size_t i = w->n_perm; i > 1; i--) {
        size_t j = (size_t)wp_rng_below(&w->content, i);
        uint32_t tmp = w->perm[i - 1];
        w->perm[i - 1] = w->perm[j];
        w->perm[j] = tmp;
    }
}

static wp_status_t make_shared_prefix(wp_workload_t *w, size_t i, wp_workload_req_t *r)
{
    const wp_workload_spec_t *s = &w->spec;
    size_t pass = i / w->n_perm, j = i % w->n_perm;
    if (s->fixed_prompts) { /* one shuffle; the warm-up and every stage start again from its
                               first prompt */
        size_t first = w->stage > 0 ? w->stage_end[w->stage - 1] : i < w->warmup ? 0 : w->warmup;
        pass = 0;
        j = (i - first) % w->n_perm;
        if (i == 0)
            shuffle(w);
    } else if (j == 0) {
        shuffle(w);
    }
    size_t g = w->perm[j] / (size_t)s->num_prompts_per_group;
    r->group = (int64_t)g;
    r->prefix_tokens = (size_t)s->system_prompt_len;
    r->prompt_tokens = r->prefix_tokens + (size_t)s->question_len;
    r->max_tokens = wp__workload_dist_sample(&s->output_len, &w->content);
    wp_status_t st = put_text(w, wp__workload_key(seed_of(w), WP__WL_TAG_SYSTEM, g, 0),
                              (size_t)s->system_prompt_len);
    if (st == WP_OK)
        st = put_text(w, wp__workload_key(seed_of(w), WP__WL_TAG_QUESTION, pass, w->perm[j]),
                      (size_t)s->question_len);
    return st;
}

static size_t answer_len(const wp_workload_t *w, size_t session, size_t turn)
{
    wp_rng_t r;
    wp_rng_seed(&r, wp__workload_key(seed_of(w), WP__WL_TAG_ANSWER_LEN, session, turn));
    return wp__workload_dist_sample(&w->spec.output_len, &r);
}

static wp_status_t make_multi_turn(wp_workload_t *w, size_t i, wp_workload_req_t *r)
{
    const wp_workload_spec_t *s = &w->spec;
    size_t per_pass = (size_t)s->num_sessions * (size_t)s->turns_per_session;
    size_t pass = i / per_pass, j = i % per_pass;
    size_t turn = j / (size_t)s->num_sessions;
    size_t session = pass * (size_t)s->num_sessions + j % (size_t)s->num_sessions;
    uint64_t seed = seed_of(w);
    size_t user = (size_t)s->user_turn_len, tokens = (size_t)s->system_prompt_len;
    wp_status_t st = put_text(w, wp__workload_key(seed, WP__WL_TAG_SYSTEM, session, 1), tokens);
    for (size_t k = 0; k < turn && st == WP_OK; k++) {
        size_t answer = answer_len(w, session, k);
        st = put_text(w, wp__workload_key(seed, WP__WL_TAG_USER, session, k), user);
        if (st == WP_OK)
            st = put_text(w, wp__workload_key(seed, WP__WL_TAG_ANSWER, session, k), answer);
        tokens += user + answer;
    }
    if (st == WP_OK)
        st = put_text(w, wp__workload_key(seed, WP__WL_TAG_USER, session, turn), user);
    r->session = (int64_t)session;
    r->turn = (int)turn;
    r->prefix_tokens = tokens;
    r->prompt_tokens = tokens + user;
    r->max_tokens = answer_len(w, session, turn);
    return st;
}

static wp_status_t make_random(wp_workload_t *w, size_t i, wp_workload_req_t *r)
{
    r->prompt_tokens = wp__workload_dist_sample(&w->spec.input_len, &w->content);
    r->max_tokens = wp__workload_dist_sample(&w->spec.output_len, &w->content);
    return put_text(w, wp__workload_key(seed_of(w), WP__WL_TAG_RANDOM, i, 0), r->prompt_tokens);
}

static wp_status_t make_trace(wp_workload_t *w, size_t i, wp_workload_req_t *r)
{
    const wp_workload_trace_entry_t *e = &w->trace->entries[i];
    size_t left = (size_t)e->input_length;
    wp_status_t st = WP_OK;
    for (size_t b = 0; b < e->n_hash_ids && left > 0 && st == WP_OK; b++) {
        size_t take = left < WP_WORKLOAD_BLOCK_TOKENS ? left : WP_WORKLOAD_BLOCK_TOKENS;
        st = put_text(w, wp__workload_key(0, WP__WL_TAG_BLOCK, e->hash_ids[b], 0), take);
        left -= take;
    }
    if (st == WP_OK && left > 0)
        st = put_text(w, wp__workload_key(seed_of(w), WP__WL_TAG_PAD, i, 0), left);
    r->prompt_tokens = (size_t)e->input_length;
    r->max_tokens = (size_t)e->output_length;
    return st;
}

static wp_status_t make_content(wp_workload_t *w, size_t i, wp_workload_req_t *r)
{
    switch (w->spec.type) {
    case WP_WORKLOAD_SHARED_PREFIX:
        return make_shared_prefix(w, i, r);
    case WP_WORKLOAD_MULTI_TURN:
        return make_multi_turn(w, i, r);
    case WP_WORKLOAD_RANDOM:
        return make_random(w, i, r);
    case WP_WORKLOAD_TRACE:
        return make_trace(w, i, r);
    }
    return WP_EINVAL;
}

/* ---- public API ---- */

static wp_status_t init_content(wp_workload_t *w, wp_err_t *err)
{
    wp_rng_seed(&w->content, wp__workload_key(seed_of(w), WP__WL_TAG_CONTENT, 0, 0));
    wp_buf_init(&w->text, WP_BUF_DEFAULT_MAX);
    w->sink = (wp__workload_sink_t){.text = &w->text, .text_max = SIZE_MAX};
    if (wp__workload_corpus_init(&w->corpus) != WP_OK)
        return wp_err_set(err, WP_ENOMEM, "out of memory for the text corpus");
    if (w->spec.type != WP_WORKLOAD_SHARED_PREFIX)
        return WP_OK;
    w->n_perm = wp__workload_natural_size(&w->spec);
    w->perm = malloc(w->n_perm * sizeof(*w->perm));
    if (w->perm == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory for %zu prompts", w->n_perm);
    return WP_OK;
}

wp_workload_t *wp_workload_new(const wp_workload_spec_t *spec, const wp_workload_trace_t *trace,
                               wp_err_t *err)
{
    if (wp_workload_spec_validate(spec, err) != WP_OK)
        return NULL;
    if (spec->type == WP_WORKLOAD_TRACE && trace != NULL &&
        wp_workload_trace_validate(trace, err) != WP_OK)
        return NULL;
    wp_workload_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    w->spec = *spec;
    w->warmup = (size_t)spec->load.warmup;
    w->trace = spec->type == WP_WORKLOAD_TRACE ? trace : NULL;
    if (draw_arrivals(w, err) != WP_OK || init_content(w, err) != WP_OK) {
        wp_workload_free(w);
        return NULL;
    }
    return w;
}

void wp_workload_free(wp_workload_t *w)
{
    if (w == NULL)
        return;
    wp__workload_corpus_free(&w->corpus);
    wp_buf_free(&w->text);
    wp__workload_sink_free(&w->sink);
    free(w->arrivals);
    free(w->perm);
    free(w);
}

wp_status_t wp_workload_next(wp_workload_t *w, wp_workload_req_t *out)
{
    if (w->next >= w->total)
        return WP_ENOTFOUND;
    size_t i = w->next;
    while (w->stage + 1 < w->n_stages && i >= w->stage_end[w->stage])
        w->stage++;
    bool warmup = i < w->warmup;
    memset(out, 0, sizeof(*out));
    *out =
        (wp_workload_req_t){.index = i,
                            .arrival_s = w->arrivals ? w->arrivals[i] : -1,
                            .stage = w->stage,
                            .stage_start_s = w->arrivals && !warmup ? w->stage_start[w->stage] : 0,
                            .warmup = warmup,
                            .group = -1,
                            .session = -1};
    wp_buf_reset(&w->text);
    w->sink.n_ids = 0;
    wp_status_t st = make_content(w, i, out);
    if (st != WP_OK)
        return st;
    w->next++;
    out->prompt = w->text.data ? w->text.data : "";
    out->prompt_len = w->text.len;
    out->ids = w->sink.want_ids ? w->sink.ids : NULL;
    out->n_ids = w->sink.want_ids ? w->sink.n_ids : 0;
    return WP_OK;
}

wp_status_t wp_workload_set_vocab(wp_workload_t *w, uint32_t vocab)
{
    wp_status_t st = wp__workload_corpus_set_vocab(&w->corpus, vocab);
    w->sink.want_ids = st == WP_OK;
    return st;
}

void wp_workload_set_max_text_bytes(wp_workload_t *w, size_t max_text_bytes)
{
    w->sink.text_max = max_text_bytes == 0 ? SIZE_MAX : max_text_bytes;
}

size_t wp_workload_total(const wp_workload_t *w)
{
    return w->total;
}

size_t wp_workload_stages(const wp_workload_t *w, const wp_workload_stage_t **out)
{
    *out = w->stages;
    return w->n_stages;
}

const wp_workload_spec_t *wp_workload_spec(const wp_workload_t *w)
{
    return &w->spec;
}

wp_status_t wp_workload_text(const wp_workload_t *w, uint64_t key, size_t ntokens, wp_buf_t *out)
{
    return wp__workload_corpus_text(&w->corpus, key, ntokens, out);
}

static wp_status_t validate_arrivals(const wp_workload_t *w, wp_err_t *err)
{
    for (size_t i = 0; w->arrivals != NULL && i < w->total; i++)
        if (!(w->arrivals[i] >= 0) || (i > 0 && w->arrivals[i] < w->arrivals[i - 1]))
            return wp_err_set(err, WP_EINVAL, "arrival %zu out of order", i);
    if (w->arrivals == NULL && w->spec.load.type != WP_WORKLOAD_LOAD_CONCURRENCY && w->total > 0)
        return wp_err_set(err, WP_EINVAL, "open-loop run without arrival times");
    if (w->n_stages == 0 || w->n_stages > WP_WORKLOAD_MAX_STAGES ||
        w->stage_end[w->n_stages - 1] != w->total || w->stage_end[0] < w->warmup)
        return wp_err_set(err, WP_EINVAL, "stages do not cover the %zu requests", w->total);
    for (size_t k = 1; k < w->n_stages; k++)
        if (w->stage_end[k] < w->stage_end[k - 1])
            return wp_err_set(err, WP_EINVAL, "stage %zu ends before stage %zu", k, k - 1);
    return WP_OK;
}

wp_status_t wp_workload_validate(const wp_workload_t *w, wp_err_t *err)
{
    if (w->next > w->total || w->stage >= w->n_stages)
        return wp_err_set(err, WP_EINVAL, "cursor %zu past total %zu", w->next, w->total);
    for (size_t i = 0; i < WP__WORKLOAD_CORPUS_TOKENS; i++)
        if (w->corpus.off[i] >= w->corpus.off[i + 1])
            return wp_err_set(err, WP_EINVAL, "corpus piece %zu is empty", i);
    if (w->text.len > w->sink.text_max || w->sink.n_ids > w->sink.cap_ids ||
        (w->sink.want_ids && w->corpus.ids == NULL))
        return wp_err_set(err, WP_EINVAL, "text or ids past their bounds");
    uint32_t vocab = w->corpus.vocab;
    int64_t limit = vocab == 0 || vocab > INT32_MAX ? INT32_MAX : (int64_t)vocab;
    for (size_t i = 0; w->corpus.ids != NULL && i < WP__WORKLOAD_CORPUS_TOKENS; i++)
        if (w->corpus.ids[i] < 0 || w->corpus.ids[i] >= limit)
            return wp_err_set(err, WP_EINVAL, "corpus id %zu out of the vocab", i);
    if (w->spec.type == WP_WORKLOAD_SHARED_PREFIX && w->n_perm == 0)
        return wp_err_set(err, WP_EINVAL, "shared_prefix without prompts");
    return validate_arrivals(w, err);
}
