/*
 * sched/wake: the scale-to-zero state machine (contract in wake.h).
 *
 * Arrivals are decided first by the state: an AWAKE and ready pool passes them; anything
 * else holds them (when holding is on), and an ASLEEP pool also starts waking. The tick
 * releases once AWAKE and ready, re-wakes an ASLEEP pool with requests held (a wake-up
 * that failed), and puts a pool to sleep after idle_after_s without any request. A pool
 * that is not ready cannot be put to sleep: there is nothing to sleep, and its demand is
 * what an autoscaler needs to see.
 */
#include "sched/wake.h"

#include <stddef.h>

static void enter(wp_sched_wake_t *w, wp_sched_wake_state_t s, double now)
{
    if (w->state != WP_SCHED_WAKE_AWAKE && s == WP_SCHED_WAKE_AWAKE)
        w->asleep_s += now - w->state_since;
    if (w->state == WP_SCHED_WAKE_AWAKE || s == WP_SCHED_WAKE_AWAKE)
        w->state_since = now;
    w->state = s;
}

void wp_sched_wake_init(wp_sched_wake_t *w, const wp_sched_wake_cfg_t *cfg, double now)
{
    *w = (wp_sched_wake_t){
        .cfg = *cfg, .state = WP_SCHED_WAKE_AWAKE, .last_busy = now, .state_since = now};
}

void wp_sched_wake_configure(wp_sched_wake_t *w, const wp_sched_wake_cfg_t *cfg, double now)
{
    if (cfg->enabled && !w->cfg.enabled)
        w->last_busy = now;
    w->cfg = *cfg;
}

/* An arrival; lead: this machine decides (it starts the wake-up) rather than follows. */
static wp_sched_wake_verdict_t arrive(wp_sched_wake_t *w, double now, bool ready, bool lead)
{
    w->last_busy = now;
    if (!w->cfg.hold || (w->state == WP_SCHED_WAKE_AWAKE && ready && w->held == 0))
        return WP_SCHED_WAKE_PASS;
    if (w->held >= w->cfg.max_queue)
        return WP_SCHED_WAKE_FULL;
    w->held++;
    if (w->state != WP_SCHED_WAKE_ASLEEP)
        return WP_SCHED_WAKE_HOLD;
    if (lead) {
        enter(w, WP_SCHED_WAKE_WAKING, now);
        w->wakes++;
    }
    return WP_SCHED_WAKE_HOLD_WAKE;
}

wp_sched_wake_verdict_t wp_sched_wake_arrive(wp_sched_wake_t *w, double now, bool ready)
{
    return arrive(w, now, ready, true);
}

wp_sched_wake_verdict_t wp_sched_wake_follower_arrive(wp_sched_wake_t *w, double now, bool ready)
{
    return arrive(w, now, ready, false);
}

void wp_sched_wake_leave(wp_sched_wake_t *w)
{
    if (w->held > 0)
        w->held--;
}

bool wp_sched_wake_expired(const wp_sched_wake_t *w, double held_at, double now)
{
    return now - held_at >= w->cfg.wake_timeout_s;
}

wp_sched_wake_action_t wp_sched_wake_tick(wp_sched_wake_t *w, double now, uint64_t in_flight,
                                          bool ready)
{
    if (in_flight > 0 || w->held > 0 || w->held_elsewhere > 0)
        w->last_busy = now;
    switch (w->state) {
    case WP_SCHED_WAKE_AWAKE:
        if (w->held > 0)
            return ready ? WP_SCHED_WAKE_RELEASE : WP_SCHED_WAKE_NOTHING;
        if (w->cfg.enabled && ready && in_flight == 0 &&
            now - w->last_busy >= w->cfg.idle_after_s) {
            enter(w, WP_SCHED_WAKE_ASLEEP, now);
            w->sleeps++;
            return WP_SCHED_WAKE_SLEEP;
        }
        return WP_SCHED_WAKE_NOTHING;
    case WP_SCHED_WAKE_ASLEEP:
        if (w->held > 0 || w->held_elsewhere > 0 || !w->cfg.enabled) {
            enter(w, WP_SCHED_WAKE_WAKING, now);
            w->wakes++;
            return WP_SCHED_WAKE_WAKE;
        }
        return WP_SCHED_WAKE_NOTHING;
    case WP_SCHED_WAKE_WAKING:
    default:
        return WP_SCHED_WAKE_NOTHING;
    }
}

void wp_sched_wake_woke(wp_sched_wake_t *w, double now, bool ok)
{
    if (ok && w->state != WP_SCHED_WAKE_AWAKE) {
        enter(w, WP_SCHED_WAKE_AWAKE, now);
        w->last_busy = now;
    } else if (!ok && w->state == WP_SCHED_WAKE_WAKING) {
        w->wake_failures++;
        w->state = WP_SCHED_WAKE_ASLEEP;
    }
}

void wp_sched_wake_sleep_refused(wp_sched_wake_t *w, double now)
{
    w->sleep_refusals++;
    if (w->state == WP_SCHED_WAKE_ASLEEP) {
        enter(w, WP_SCHED_WAKE_AWAKE, now);
        w->last_busy = now;
    }
}

void wp_sched_wake_elsewhere(wp_sched_wake_t *w, uint32_t held, double last_busy)
{
    w->held_elsewhere = held;
    if (last_busy > w->last_busy)
        w->last_busy = last_busy;
}

void wp_sched_wake_follow(wp_sched_wake_t *w, const wp_sched_wake_t *leader)
{
    wp_sched_wake_t own = *w;
    *w = *leader;
    w->cfg = own.cfg;
    w->held = own.held;
    w->held_elsewhere = 0;
    w->last_busy = own.last_busy;
}

bool wp_sched_wake_follower_release(const wp_sched_wake_t *w, bool ready)
{
    return w->state == WP_SCHED_WAKE_AWAKE && ready && w->held > 0;
}

double wp_sched_wake_asleep_seconds(const wp_sched_wake_t *w, double now)
{
    return w->asleep_s + (w->state != WP_SCHED_WAKE_AWAKE ? now - w->state_since : 0);
}

const char *wp_sched_wake_state_name(wp_sched_wake_state_t s)
{
    static const char *const names[] = {"awake", "asleep", "waking"};
    return (unsigned)s < 3 ? names[s] : "?";
}
