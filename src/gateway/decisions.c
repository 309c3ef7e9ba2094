/*
 * gateway/decisions: the decision log (gateway.decisionLog), the line format of
 * sched/decision.h written to a file, one line as each decision is taken, so that a user
 * can follow (tail -f) why each request went where it went. The file is opened for
 * appending at start and again on a reload (a new path takes effect; log rotation can
 * move the old file away and reload). Each line is written whole with one write, line
 * buffered: for debugging and tests, not for the hot path of a loaded gateway (a few
 * microseconds a decision).
 */
#include "gateway/internal.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

wp_status_t wp__gw_decisions_open(wp_gateway_t *gw, wp_err_t *err)
{
    wp__gw_decisions_close(gw);
    if (gw->cfg.decision_log[0] == '\0')
        return WP_OK;
    gw->decision_log = fopen(gw->cfg.decision_log, "a");
    if (gw->decision_log == NULL)
        return wp_err_set(err, WP_EIO, "gateway.decisionLog: cannot open %s: %s",
                          gw->cfg.decision_log, strerror(errno));
    setvbuf(gw->decision_log, NULL, _IOLBF, 0);
    return WP_OK;
}

void wp__gw_decisions_close(wp_gateway_t *gw)
{
    if (gw->decision_log != NULL)
        fclose(gw->decision_log);
    gw->decision_log = NULL;
}

void wp__gw_decision(wp_gateway_t *gw, const wp_sched_decision_t *d)
{
    if (gw->decision_log == NULL)
        return;
    wp_buf_t b;
    wp_buf_init(&b, 64 * 1024);
    double t = (double)(uv_now(gw->loop) - gw->start_ms) / 1000.0;
    wp_sched_decision_write(&b, t, d);
    if (b.len > 0 && fwrite(b.data, 1, b.len, gw->decision_log) != b.len)
        wp_log(WP_LOG_WARN, "decision log write failed", "path=%s", gw->cfg.decision_log);
    wp_buf_free(&b);
}
