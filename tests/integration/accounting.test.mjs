// Honest accounting at the gateway (issue 13, item 4):
// - a server that sends its answer's head, then dies before the first byte of the body, is
//   retried on another endpoint and the client never sees it (the head is held until the
//   first body byte);
// - a stream cut after its first bytes is counted as the failure it is (502 in
//   wellpath_gateway_requests_total and an error on the status page), not as the 200 its
//   head said, and the client gets an SSE error event;
// - the status page's TTFT percentiles are exact over the recent answers, not estimated
//   from histogram buckets;
// - a streamed request to a server that never sends its first token is cut after
//   gateway.firstTokenTimeoutMs and retried elsewhere, while a non-streamed answer, whose
//   head comes only with the whole answer, waits as long as firstByteTimeoutMs allows.
// The upstreams are node http servers in this file, so each failure is exact.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { MODEL, answerChecks, listenLocal, metrics, postStream, sample, startGateway, stopClean, waitUntil } from '../lib/wellpath.mjs';

// A vLLM look-alike whose completions behave as `mode` says: 'ok' (an SSE answer of two
// chunks after delayMs), 'head-then-die' (a 200 event-stream head, then the connection
// closes before any body), 'cut' (the head and one chunk, then the connection closes).
function upstream(mode, { delayMs = 0 } = {}) {
  const s = { mode, delayMs, completions: 0 };
  s.server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      req.rawBody = raw;
      if (answerChecks(req, res)) return;
      s.completions++;
      if (s.mode === 'hang') return; /* accepted, never answered (closed with the server) */
      if (!body_is_stream(req)) {
        return setTimeout(() => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ id: 'cmpl-x', object: 'text_completion', model: MODEL, choices: [{ index: 0, text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
        }, s.delayMs);
      }
      const chunk = (text) => `data: ${JSON.stringify({ id: 'cmpl-x', object: 'text_completion', model: MODEL, choices: [{ index: 0, text, finish_reason: null }] })}\n\n`;
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.flushHeaders();
      if (s.mode === 'head-then-die') return setImmediate(() => req.socket.destroy());
      setTimeout(() => {
        res.write(chunk('hello'));
        if (s.mode === 'cut') return setImmediate(() => req.socket.destroy());
        res.end(`${chunk(' world')}data: [DONE]\n\n`);
      }, s.delayMs);
    });
  });
  return listenLocal(s);
}

const body = { model: MODEL, prompt: 'hello there', max_tokens: 2, stream: true };
const body_is_stream = (req) => { try { return JSON.parse(req.rawBody).stream === true; } catch { return false; } };

describe('honest accounting', () => {
  const ups = {};
  let gw;
  before(async () => {
    ups.good = await upstream('ok');
    ups.dies = await upstream('head-then-die');
    ups.cut = await upstream('cut');
    const eps = Object.entries(ups).map(([name, u]) => ({ name, port: u.port }));
    // Outlier detection off: every request here meets the endpoint it is sent to.
    gw = await startGateway(eps, { extra: 'gateway:\n  retries: 2\n  outlierDetection: {consecutiveFailures: 0}\ninferenceScheduler:\n  policy: round-robin\n' });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const u of Object.values(ups)) {
      u.server.closeAllConnections();
      u.server.close();
    }
  });

  test('a head followed by nothing is retried unseen; a cut stream counts as failed', async () => {
    const before = await metrics(gw.url);
    const n = 12;
    const rs = [];
    for (let i = 0; i < n; i++) rs.push(await postStream(`${gw.url}/v1/completions`, body));
    // Round-robin sends a third of the first attempts to each server; the ones on `dies`
    // are retried (never to `dies` again) and land on `good` or `cut`.
    assert.ok(ups.dies.completions >= 1, 'some met the server that dies after its head');
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.notEqual(r.headers.get('x-wellpath-endpoint'), 'dies', 'the dead server is never the answer');
    }
    const cut = rs.filter((r) => r.headers.get('x-wellpath-endpoint') === 'cut');
    const whole = rs.filter((r) => r.headers.get('x-wellpath-endpoint') === 'good');
    assert.ok(cut.length >= 1 && whole.length >= 1, `both kinds of answer: ${cut.length} cut, ${whole.length} whole`);
    for (const r of cut) assert.equal(r.events[r.events.length - 1].data.error.code, 502, 'an SSE error event ends a cut stream');
    for (const r of whole) assert.equal(r.events[r.events.length - 1].data, '[DONE]');
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_in_flight') === 0, { what: 'nothing in flight' });
    const after = await metrics(gw.url);
    const delta = (ep, status) => (sample(after, 'wellpath_gateway_requests_total', { endpoint: ep, model: MODEL, status }) ?? 0)
      - (sample(before, 'wellpath_gateway_requests_total', { endpoint: ep, model: MODEL, status }) ?? 0);
    assert.equal(delta('cut', '502'), cut.length, 'cut streams are counted as 502');
    assert.equal(delta('cut', '200') || 0, 0, 'and not as 200');
    assert.equal(delta('good', '200'), whole.length);
    const status = await (await fetch(`${gw.url}/status`)).json();
    const cutEp = status.endpoints.find((e) => e.name === 'cut');
    assert.ok(cutEp.errors >= cut.length, `the status page counts them as errors: ${JSON.stringify(cutEp)}`);
  });

  test('the status page gives exact recent TTFT percentiles', async () => {
    // Only the good server now, answering its first byte after 260..300 ms.
    const solo = await upstream('ok');
    ups.solo = solo;
    const g = await startGateway([{ name: 'solo', port: solo.port }]);
    try {
      const client = []; // the first event as the client saw it: the gateway's TTFT and more
      for (const ms of [260, 270, 280, 290, 300]) {
        solo.delayMs = ms;
        const r = await postStream(`${g.url}/v1/completions`, body);
        assert.equal(r.status, 200);
        client.push(r.events[0].t);
      }
      client.sort((a, b) => a - b);
      const t = (await (await fetch(`${g.url}/status`)).json()).totals;
      assert.equal(t.ttft_samples, 5);
      // Exact percentiles of the gateway's own samples: at least the upstream's delays, at
      // most what the client saw of the same requests (the gateway's span is inside the
      // client's). A bucket estimate would say 375 ms for the median (all five fall in
      // vLLM's 0.25-0.5 s bucket), above the client's median unless the machine is slow.
      assert.ok(t.ttft_p50_ms >= 280 && t.ttft_p50_ms <= client[2] + 1, `p50 ${t.ttft_p50_ms}, client ${client}`);
      assert.ok(t.ttft_p95_ms >= t.ttft_p50_ms && t.ttft_p95_ms <= client[4] + 1, `p95 ${t.ttft_p95_ms}, client ${client}`);
      if (client[2] < 370) assert.ok(t.ttft_p50_ms < 370, `p50 ${t.ttft_p50_ms} reads like a bucket estimate`);
    } finally {
      await stopClean(assert, g.proc, 'gateway');
    }
  });

  test('a streamed request meets the first-token timeout; a non-streamed one waits for its head', async () => {
    const hang = await upstream('hang');
    const slow = await upstream('ok', { delayMs: 700 });
    ups.hang = hang; /* closed by after(), also when this test fails */
    ups.slow = slow;
    const extra = 'gateway:\n  retries: 2\n  firstTokenTimeoutMs: 300\n  outlierDetection: {consecutiveFailures: 0}\ninferenceScheduler:\n  policy: round-robin\n';
    const g = await startGateway([{ name: 'hang', port: hang.port }, { name: 'slow', port: slow.port }], { extra });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await postStream(`${g.url}/v1/completions`, body);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('x-wellpath-endpoint'), 'slow', 'a hung server is left after the first-token timeout');
      }
      assert.ok(hang.completions >= 1, 'round-robin sent some to the hung server first');
      const retries = sample(await metrics(g.url), 'wellpath_gateway_retries_total');
      assert.equal(retries, hang.completions, 'each of those was retried');
    } finally {
      await stopClean(assert, g.proc, 'gateway');
    }
    // Non-streamed, the head comes with the whole answer (700 ms here, past the 300 ms
    // first-token timeout): it is not cut (the slow server alone, so no pick meets the
    // hung one, which a non-streamed request would wait for up to requestTimeoutMs).
    const g2 = await startGateway([{ name: 'slow', port: slow.port }], { extra });
    try {
      const r = await fetch(`${g2.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: false }) });
      assert.equal(r.status, 200, await r.text());
      assert.equal(r.headers.get('x-wellpath-endpoint'), 'slow');
    } finally {
      await stopClean(assert, g2.proc, 'gateway');
    }
  });
});
