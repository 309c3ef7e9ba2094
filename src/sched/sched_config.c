/*
 * sched/sched_config: the scheduler's configuration — defaults, name setters that check the
 * registry as they go, and a full validation that wp_sched_new runs before using a config.
 * Names are stored inline (fixed arrays), so a config is plain data the caller can copy.
 */
#include "sched/sched_internal.h"

#include <math.h>
#include <string.h>

#include "base/str.h"

void wp_sched_config_default(wp_sched_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    wp_strlcpy(cfg->policy, "topology", sizeof(cfg->policy));
    wp_strlcpy(cfg->picker, "max-score", sizeof(cfg->picker));
    wp_strlcpy(cfg->scorers[0].type, "prefix-aware", sizeof(cfg->scorers[0].type));
    cfg->scorers[0].weight = 100.0;
    wp_strlcpy(cfg->scorers[1].type, "load-aware", sizeof(cfg->scorers[1].type));
    cfg->scorers[1].weight = 50.0;
    cfg->n_scorers = 2;
    cfg->block_chars = 64;
    cfg->max_blocks = WP_SCHED_MATCH_BLOCKS;
    cfg->lru_capacity = 31250;
    cfg->load_threshold = 128.0;
    cfg->stale_after_s = 2.0;
    cfg->sglang_cache_threshold = 0.5;
    cfg->sglang_balance_abs = 32.0;
    cfg->sglang_balance_rel = 1.0001;
    cfg->sglang_max_tree_chars = 1u << 24;
    cfg->dynamo_overlap_weight = 1.0;
    cfg->kv_capacity = 1u << 20;
    cfg->kv_cpu_weight = 0.8;
}

/* Copies name into dst when it fits; a name too long cannot be a valid one anyway. */
static bool store_name(char *dst, size_t cap, const char *name)
{
    return name && strlen(name) < cap && wp_strlcpy(dst, name, cap);
}

wp_status_t wp_sched_config_set_policy(wp_sched_config_t *cfg, const char *name, wp_err_t *err)
{
    if (!wp__sched_policy_find(name) || !store_name(cfg->policy, sizeof(cfg->policy), name))
        return wp__sched_unknown(err, 'P', name);
    return WP_OK;
}

wp_status_t wp_sched_config_set_picker(wp_sched_config_t *cfg, const char *name, wp_err_t *err)
{
    if (!wp__sched_picker_find(name) || !store_name(cfg->picker, sizeof(cfg->picker), name))
        return wp__sched_unknown(err, 'p', name);
    return WP_OK;
}

static wp_status_t check_weight(const char *type, double weight, wp_err_t *err)
{
    if (!isfinite(weight) || weight < 0.0)
        return wp_err_set(err, WP_EINVAL, "scorer '%s': weight %g must be finite and >= 0", type,
                          weight);
    return WP_OK;
}

wp_status_t wp_sched_config_add_scorer(wp_sched_config_t *cfg, const char *type, double weight,
                                       wp_err_t *err)
{
    if (cfg->n_scorers < 0 || cfg->n_scorers >= WP_SCHED_MAX_SCORERS)
        return wp_err_set(err, WP_ELIMIT, "at most %d scorers", WP_SCHED_MAX_SCORERS);
    wp_sched_scorer_cfg_t *sc = &cfg->scorers[cfg->n_scorers];
    if (!wp__sched_scorer_find(type) || !store_name(sc->type, sizeof(sc->type), type))
        return wp__sched_unknown(err, 's', type);
    wp_status_t st = check_weight(type, weight, err);
    if (st != WP_OK)
        return st;
    sc->weight = weight;
    cfg->n_scorers++;
    return WP_OK;
}

/* A name field read from caller memory: NULL when it is not NUL-terminated. */
static const char *terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) ? s : NULL;
}

static wp_status_t validate_scorers(const wp_sched_config_t *cfg, wp_err_t *err)
{
    if (cfg->n_scorers < 0 || cfg->n_scorers > WP_SCHED_MAX_SCORERS)
        return wp_err_set(err, WP_EINVAL, "scorer count %d out of range (0..%d)", cfg->n_scorers,
                          WP_SCHED_MAX_SCORERS);
    for (int i = 0; i < cfg->n_scorers; i++) {
        const wp_sched_scorer_cfg_t *sc = &cfg->scorers[i];
        const char *type = terminated(sc->type, sizeof(sc->type));
        if (!wp__sched_scorer_find(type))
            return wp__sched_unknown(err, 's', type);
        wp_status_t st = check_weight(sc->type, sc->weight, err);
        if (st != WP_OK)
            return st;
    }
    if (strcmp(cfg->policy, "topology") == 0 && cfg->n_scorers == 0)
        return wp_err_set(err, WP_EINVAL, "policy 'topology' needs at least one scorer");
    return WP_OK;
}

/* A peer parameter: finite and >= 0 (and <= hi when hi is finite). */
static wp_status_t check_param(const char *name, double v, double hi, wp_err_t *err)
{
    if (!isfinite(v) || v < 0.0 || v > hi)
        return wp_err_set(err, WP_EINVAL, "%s %g must be finite, >= 0%s", name, v,
                          isfinite(hi) ? " and <= 1" : "");
    return WP_OK;
}

static wp_status_t validate_peers(const wp_sched_config_t *cfg, wp_err_t *err)
{
    wp_status_t st = check_param("sglang cache_threshold", cfg->sglang_cache_threshold, 1.0, err);
    if (st == WP_OK)
        st = check_param("sglang balance_abs_threshold", cfg->sglang_balance_abs, INFINITY, err);
    if (st == WP_OK)
        st = check_param("sglang balance_rel_threshold", cfg->sglang_balance_rel, INFINITY, err);
    if (st == WP_OK)
        st = check_param("dynamo overlap_weight", cfg->dynamo_overlap_weight, INFINITY, err);
    if (st == WP_OK && cfg->sglang_max_tree_chars == 0)
        st = wp_err_set(err, WP_EINVAL, "sglang max_tree_size must be at least 1 character");
    if (st == WP_OK)
        st = check_param("precise-prefix cpu weight", cfg->kv_cpu_weight, 1.0, err);
    if (st == WP_OK && (cfg->kv_capacity == 0 || cfg->kv_capacity > (1u << 24)))
        st = wp_err_set(err, WP_EINVAL, "kv view capacity %u out of range (1..%u blocks)",
                        cfg->kv_capacity, 1u << 24);
    return st;
}

static wp_status_t validate_numbers(const wp_sched_config_t *cfg, wp_err_t *err)
{
    if (cfg->block_chars == 0)
        return wp_err_set(err, WP_EINVAL, "prefix block size must be at least 1 character");
    if (cfg->max_blocks == 0)
        return wp_err_set(err, WP_EINVAL, "max blocks must be at least 1");
    if (cfg->lru_capacity == 0)
        return wp_err_set(err, WP_EINVAL, "prefix LRU capacity must be at least 1 block");
    if (!isfinite(cfg->load_threshold) || cfg->load_threshold <= 0.0)
        return wp_err_set(err, WP_EINVAL, "load-aware threshold %g must be > 0",
                          cfg->load_threshold);
    if (!isfinite(cfg->stale_after_s) || cfg->stale_after_s < 0.0)
        return wp_err_set(err, WP_EINVAL, "stale_after_s %g must be >= 0", cfg->stale_after_s);
    return validate_peers(cfg, err);
}

wp_status_t wp_sched_config_validate(const wp_sched_config_t *cfg, wp_err_t *err)
{
    const char *policy = terminated(cfg->policy, sizeof(cfg->policy));
    if (!wp__sched_policy_find(policy))
        return wp__sched_unknown(err, 'P', policy);
    const char *picker = terminated(cfg->picker, sizeof(cfg->picker));
    if (!wp__sched_picker_find(picker))
        return wp__sched_unknown(err, 'p', picker);
    wp_status_t st = validate_scorers(cfg, err);
    if (st != WP_OK)
        return st;
    return validate_numbers(cfg, err);
}
