// Upstream timeouts at the gateway: a server that stops in the middle of a stream is cut
// after gateway.idleTimeoutMs and the client's stream ends with an SSE error event (504),
// never a hang; one that never sends its head is cut after firstByteTimeoutMs and, with no
// other endpoint, answered 504 with a JSON error; both are counted as upstream errors.
// The health checks have their own timeout and threshold (inferenceScheduler.checkTimeoutMs,
// unhealthyAfter), applied by a reload.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import fs from 'node:fs';

import { MODEL, answerChecks, assertErrorShape, gatewayTopology, listenLocal, metrics, post, postStream, sample, startGateway, stopClean, waitUntil } from '../lib/wellpath.mjs';

// Streams two SSE events and then goes quiet (the connection stays open); a request whose
// prompt is "silent" gets nothing at all.
function stallingServer() {
  const s = { open: new Set() };
  s.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (answerChecks(req, res)) return;
      s.open.add(res);
      res.on('close', () => s.open.delete(res));
      if (req.headers['x-test'] === 'silent') return; /* no head, no byte */
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (let i = 0; i < 2; i++) res.write(`data: ${JSON.stringify({ id: 'cmpl-x', object: 'text_completion', choices: [{ index: 0, text: ` t${i}` }] })}\n\n`);
    });
  });
  return listenLocal(s);
}

describe('upstream timeouts', () => {
  let up;
  let gw;
  before(async () => {
    up = await stallingServer();
    const extra = 'gateway:\n  firstByteTimeoutMs: 300\n  idleTimeoutMs: 300\n  retries: 0\n  outlierDetection: {consecutiveFailures: 0}\n';
    gw = await startGateway([{ name: 'stall', port: up.port }], { extra });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const r of up?.open || []) r.destroy();
    up?.server.close();
  });

  test('a stream that goes quiet is ended with an SSE error event after idleTimeoutMs', async () => {
    const t0 = performance.now();
    const r = await postStream(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 8, stream: true });
    const took = performance.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.events.length, 3, JSON.stringify(r.events));
    const last = r.events[2].data;
    assert.equal(last.error.code, 504, JSON.stringify(last));
    assert.ok(took >= 280 && took < 5000, `ended after ${took} ms`);
  });

  test('no head within firstByteTimeoutMs: 504 with a JSON error', async () => {
    const before = sample(await metrics(gw.url), 'wellpath_endpoint_upstream_errors_total', { endpoint: 'stall' });
    const t0 = performance.now();
    const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 8 }, { headers: { 'X-Test': 'silent' } });
    const took = performance.now() - t0;
    assert.equal(r.status, 504, r.text);
    assertErrorShape(assert, r.json, 504);
    assert.ok(took >= 280 && took < 5000, `answered after ${took} ms`);
    assert.equal(sample(await metrics(gw.url), 'wellpath_endpoint_upstream_errors_total', { endpoint: 'stall' }), before + 1);
  });
});

// /health answers after `s.healthDelayMs`, or with 500 while `s.failing`; counts the failed
// answers it gave.
function checkedServer() {
  const s = { healthDelayMs: 0, failing: false, failed: 0 };
  s.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        if (s.failing) {
          s.failed++;
          res.statusCode = 500;
          return res.end();
        }
        return setTimeout(() => res.end(), s.healthDelayMs);
      }
      if (answerChecks(req, res)) return;
      res.statusCode = 404;
      res.end();
    });
  });
  return listenLocal(s);
}

describe('health checks: checkTimeoutMs and unhealthyAfter', () => {
  let up;
  let gw;
  const endpoint = () => [{ name: 'checked', port: up.port }];
  const status = async () => (await (await fetch(`${gw.url}/status`)).json()).endpoints[0];
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    up?.server.close();
  });

  test('a /health slower than checkTimeoutMs keeps the endpoint out; a reload to a longer timeout lets it in', async () => {
    up = await checkedServer();
    up.healthDelayMs = 400;
    gw = await startGateway(endpoint(), { waitReady: false, extra: 'inferenceScheduler:\n  healthIntervalMs: 100\n  checkTimeoutMs: 150\n' });
    await waitUntil(async () => /check timeout|timeout/i.test((await status()).last_error || ''), { what: 'a health check to time out' });
    assert.equal((await status()).healthy, false);
    fs.writeFileSync(gw.file, gatewayTopology(endpoint(), 'inferenceScheduler:\n  healthIntervalMs: 100\n  checkTimeoutMs: 2000\n'));
    gw.proc.child.kill('SIGHUP');
    await waitUntil(async () => (await status()).healthy === true, { what: 'the endpoint to join after the reload' });
  });

  test('an endpoint leaves after unhealthyAfter failed health checks in a row, not before', async () => {
    up.healthDelayMs = 0;
    fs.writeFileSync(gw.file, gatewayTopology(endpoint(), 'inferenceScheduler:\n  healthIntervalMs: 200\n  unhealthyAfter: 3\n'));
    const from = gw.proc.lines.stderr.length;
    gw.proc.child.kill('SIGHUP');
    await gw.proc.waitFor(/msg=reloaded/, { stream: 'stderr', from });
    assert.equal((await status()).healthy, true);
    up.failing = true;
    await gw.proc.waitFor(/msg="endpoint left the pool" endpoint=checked/, { stream: 'stderr', from });
    const failed = up.failed; /* the third failure took it out; a fourth may be on its way */
    assert.ok(failed >= 3 && failed <= 4, `left after ${failed} failed checks`);
    assert.equal((await status()).healthy, false);
  });
});
