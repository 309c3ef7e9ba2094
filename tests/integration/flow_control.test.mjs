// Limits and flow control at the gateway: the in-flight limit per endpoint (429 at once
// without flow control), the flow-control queue (priority order, 429 when full unless the
// newcomer outranks the last queued, 429 past the deadline, a client that leaves while
// queued), and the metrics that count each shed request by reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, assertErrorShape, metrics, post, randomText, sample, startGateway, startSim, stopClean, waitUntil } from '../lib/wellpath.mjs';

// A request that keeps the one slot busy for a while: ~160 decode steps at time scale 1.
function long(url, extra = {}) {
  return post(`${url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 160, ignore_eos: true, ...extra }, { timeout: 60000 });
}

function short(url, priority, headers = {}) {
  const body = { model: MODEL, prompt: randomText(60), max_tokens: 4 };
  if (priority !== undefined) body.priority = priority;
  return post(`${url}/v1/completions`, body, { headers, timeout: 60000 }).then((r) => ({ ...r, endedAt: performance.now() }));
}

async function waitInFlight(url, name, n) {
  await waitUntil(async () => sample(await metrics(url), 'wellpath_endpoint_in_flight', { endpoint: name }) === n, { what: `${n} in flight on ${name}` });
}

async function waitQueued(url, n) {
  await waitUntil(async () => sample(await metrics(url), 'wellpath_gateway_queue_length') === n, { what: `${n} queued` });
}

async function shed(url, reason) {
  return sample(await metrics(url), 'wellpath_gateway_shed_total', { reason });
}

// A one-replica simulator (time scale 1) behind a gateway with `extra` YAML, started
// before the suite's tests and stopped after them; ctx.url is the gateway's.
function pool(extra) {
  const ctx = {};
  before(async () => {
    ctx.sim = await startSim({ timeScale: 1 });
    ctx.gw = await startGateway([{ name: 'only', port: ctx.sim.ports[0] }], { extra });
    ctx.url = ctx.gw.url;
  });
  after(async () => {
    if (ctx.gw) await stopClean(assert, ctx.gw.proc, 'gateway');
    if (ctx.sim) await stopClean(assert, ctx.sim.proc, 'sim');
  });
  return ctx;
}

describe('in-flight limit without flow control', () => {
  const gw = pool('gateway:\n  maxInFlightPerEndpoint: 1\n');

  test('a request past the limit gets 429 at once, the next one after the slot frees is served', async () => {
    const busy = long(gw.url);
    await waitInFlight(gw.url, 'only', 1);
    const t0 = performance.now();
    const r = await short(gw.url);
    assert.equal(r.status, 429, r.text);
    assertErrorShape(assert, r.json, 429);
    assert.match(r.json.error.message, /in-flight limit \(1\)/);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.ok(performance.now() - t0 < 1000, 'answered at once, not after the busy request');
    assert.equal(await shed(gw.url, 'in_flight_limit'), 1);
    assert.equal((await busy).status, 200);
    assert.equal((await short(gw.url)).status, 200);
  });
});

describe('flow control', () => {
  const gw = pool('gateway:\n  maxInFlightPerEndpoint: 1\n  flowControl:\n    enabled: true\n    maxQueue: 2\n    queueTimeoutMs: 20000\n');

  test('queued requests are served by priority; a full queue sheds or evicts by priority', async () => {
    const busy = long(gw.url);
    await waitInFlight(gw.url, 'only', 1);
    const low = short(gw.url, 5);
    await waitQueued(gw.url, 1);
    const mid = short(gw.url, 0);
    await waitQueued(gw.url, 2);
    // Full, and priority 9 outranks nobody: 429 at once.
    const refused = await short(gw.url, 9);
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.json.error.message, /queue is full \(2\)/);
    // Priority -1 (by header, over the body's 7) outranks the priority-5 one, which is evicted.
    const urgent = short(gw.url, 7, { 'X-Wellpath-Priority': '-1' });
    const evicted = await low;
    assert.equal(evicted.status, 429, evicted.text);
    assert.match(evicted.json.error.message, /displaced by one of higher priority/);
    assertErrorShape(assert, evicted.json, 429);
    const [b, m, u] = await Promise.all([busy, mid, urgent]);
    assert.deepEqual([b.status, m.status, u.status], [200, 200, 200]);
    assert.ok(u.endedAt < m.endedAt, 'priority -1 served before priority 0');
    const prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_gateway_shed_total', { reason: 'queue_full' }), 1);
    assert.equal(sample(prom, 'wellpath_gateway_shed_total', { reason: 'evicted' }), 1);
    assert.equal(sample(prom, 'wellpath_gateway_queue_length'), 0);
    assert.equal(sample(prom, 'wellpath_gateway_queue_wait_seconds_count'), 2);
    assert.equal(sample(prom, 'wellpath_gateway_requests_total', { endpoint: 'only', status: '200' }), 3);
  });

  test('a bad X-Wellpath-Priority is a 400 naming the header', async () => {
    const busy = long(gw.url);
    await waitInFlight(gw.url, 'only', 1);
    const r = await short(gw.url, 0, { 'X-Wellpath-Priority': 'high' });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /X-Wellpath-Priority/);
    assert.equal((await busy).status, 200);
  });

  test('a client that goes away while queued leaves the queue', async () => {
    const busy = long(gw.url);
    await waitInFlight(gw.url, 'only', 1);
    const ac = new AbortController();
    const gone = fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'bye', max_tokens: 4 }),
      signal: ac.signal,
    }).catch((e) => e);
    await waitQueued(gw.url, 1);
    ac.abort();
    await gone;
    await waitQueued(gw.url, 0);
    assert.equal((await busy).status, 200);
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_requests_total', { endpoint: 'none', status: '499' }) === 1, { what: 'the abandoned request counted as 499' });
  });
});

describe('flow control deadline', () => {
  const gw = pool('gateway:\n  maxInFlightPerEndpoint: 1\n  flowControl: {enabled: true, queueTimeoutMs: 300}\n');

  test('a request that waits past queueTimeoutMs gets 429', async () => {
    const busy = long(gw.url);
    await waitInFlight(gw.url, 'only', 1);
    const t0 = performance.now();
    const r = await short(gw.url);
    const waited = performance.now() - t0;
    assert.equal(r.status, 429, r.text);
    assert.match(r.json.error.message, /saturated for 300 ms/);
    assert.ok(waited >= 280, `answered after ${waited} ms`);
    assert.equal(await shed(gw.url, 'queue_timeout'), 1);
    assert.equal((await busy).status, 200);
  });
});
