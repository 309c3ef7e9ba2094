// Scale-to-zero: the simulator's vLLM sleep mode (POST /sleep, POST /wake_up, GET
// /is_sleeping, vllm:engine_sleep_state), and the gateway's gateway.scaleToZero: an idle
// pool put to sleep, a request that wakes it (held meanwhile, the demand gauge at 1), a
// hold that times out (503 + Retry-After), and a pool with no endpoint up at all (replicas
// 0) whose held request is served once an endpoint appears.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, test } from 'node:test';

import { MODEL, fakeVllm, freePort, kvEventReader, metrics, post, randomText, sample, startGateway, startSim, stopClean, waitUntil } from '../lib/wellpath.mjs';

const procs = [];
after(async () => {
  for (const p of procs.reverse()) await stopClean(assert, p, p.args[0]);
});

async function sim(opts) {
  const s = await startSim(opts);
  procs.push(s.proc);
  return s;
}

async function gateway(endpoints, extra, waitReady = true) {
  const g = await startGateway(endpoints, { extra, waitReady });
  procs.push(g.proc);
  return g;
}

function complete(url, extra = {}) {
  return post(`${url}/v1/completions`, { model: MODEL, prompt: randomText(40), max_tokens: 4, ...extra }, { timeout: 60000 });
}

async function isSleeping(base) {
  return (await (await fetch(`${base}/is_sleeping`)).json()).is_sleeping;
}

function sleepState(prom, state) {
  return sample(prom, 'vllm:engine_sleep_state', { sleep_state: state });
}

describe('simulator sleep mode (vLLM with --enable-sleep-mode)', () => {
  test('sleep, requests wait while asleep, wake_up after the wake-up time, metrics', async () => {
    const s = await sim({ timeScale: 1 });
    const base = `http://127.0.0.1:${s.ports[0]}`;
    assert.equal(await isSleeping(base), false);
    assert.equal(sleepState(await metrics(base), 'awake'), 1);
    // warm the prefix cache, then sleep: the cache is discarded
    const warm = await complete(base, { prompt: 'x'.repeat(400) });
    assert.equal(warm.status, 200);
    let r = await fetch(`${base}/sleep?level=3`, { method: 'POST' });
    assert.equal(r.status, 400);
    r = await fetch(`${base}/sleep?level=1`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(await isSleeping(base), true);
    let prom = await metrics(base);
    assert.equal(sleepState(prom, 'awake'), 0);
    assert.equal(sleepState(prom, 'weights_offloaded'), 1);
    assert.equal(sleepState(prom, 'discard_all'), 0);
    // a completion sent while asleep waits (vLLM pauses its scheduler) until the wake-up
    let answered = false;
    const pending = complete(base, { prompt: 'x'.repeat(400) }).then((x) => { answered = true; return x; });
    await waitUntil(async () => sample(await metrics(base), 'vllm:num_requests_waiting') === 1, { what: 'the request waiting in the sleeping engine' });
    assert.equal(answered, false);
    // tags: the weights alone leave the engine asleep (its KV cache is not back)
    const t0 = performance.now();
    r = await fetch(`${base}/wake_up?tags=weights`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(await isSleeping(base), true);
    r = await fetch(`${base}/wake_up`, { method: 'POST' });
    assert.equal(r.status, 200);
    const wakeMs = performance.now() - t0;
    // Qwen3-8B in BF16 (16.4 GB) over a 55 GB/s host link + 0.1 s KV re-allocation ≈ 0.4 s
    assert.ok(wakeMs >= 350, `wake-up took ${wakeMs} ms, expected >= 350`);
    assert.equal(await isSleeping(base), false);
    const done = await pending;
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.usage.prompt_tokens_details?.cached_tokens ?? 0, 0, 'the KV cache was discarded by the sleep');
    prom = await metrics(base);
    assert.equal(sleepState(prom, 'awake'), 1);
    // level 0 only pauses the scheduler: a request waits, a wake_up resumes it at once
    r = await fetch(`${base}/sleep?level=0`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(await isSleeping(base), true);
    prom = await metrics(base);
    assert.deepEqual(['awake', 'weights_offloaded', 'discard_all'].map((x) => sleepState(prom, x)), [0, 0, 0]);
    const paused = complete(base);
    await waitUntil(async () => sample(await metrics(base), 'vllm:num_requests_waiting') === 1, { what: 'the request waiting in the paused engine' });
    r = await fetch(`${base}/wake_up?tags=scheduling`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal((await paused).status, 200);
    assert.equal(await isSleeping(base), false);
    // level 2 shows as discard_all; a wake_up when awake answers at once
    r = await fetch(`${base}/sleep?level=2`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(sleepState(await metrics(base), 'discard_all'), 1);
  });
});

const PY = '/usr/bin/python3';
function noZmq() {
  try {
    execFileSync(PY, ['-c', 'import zmq, msgpack']);
    return false;
  } catch {
    return process.env.CI ? false : `missing: ${PY} with zmq and msgpack (CI would fail here)`;
  }
}

describe('simulator sleep mode and KV events', () => {
  test('a sleep empties the KV cache and publishes AllBlocksCleared', { skip: noZmq() }, async (t) => {
    const s = await sim({ timeScale: 0.05, args: ['--kv-events-config',
      '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://127.0.0.1:0","replay_endpoint":"tcp://127.0.0.1:0","topic":"kv"}'] });
    const got = await kvEventReader(t, s.proc, PY);
    const base = `http://127.0.0.1:${s.ports[0]}`;
    const r = await complete(base, { prompt: 'y'.repeat(600) });
    assert.equal(r.status, 200, r.text);
    const cleared = () => got.some((x) => x.batch?.events?.some((e) => e.type === 'AllBlocksCleared'));
    await waitUntil(() => got.some((x) => x.batch?.events?.some((e) => e.type === 'BlockStored')), { what: 'BlockStored' });
    assert.equal(cleared(), false);
    assert.equal((await fetch(`${base}/sleep?level=1`, { method: 'POST' })).status, 200);
    await waitUntil(cleared, { what: 'AllBlocksCleared after /sleep' });
  });
});

describe('gateway scale-to-zero', () => {
  test('an idle pool is put to sleep; a request wakes it and is served, held meanwhile', async () => {
    const s = await sim({ timeScale: 2 }); // the wake-up takes ~0.8 s of wall time
    const base = `http://127.0.0.1:${s.ports[0]}`;
    const g = await gateway([{ name: 'only', port: s.ports[0] }],
      'gateway:\n  scaleToZero: {enabled: true, idleAfterMs: 300, wakeTimeoutMs: 20000, maxQueue: 4}\n');
    await waitUntil(async () => sample(await metrics(g.url), 'wellpath_gateway_pool_sleeping') === 1, { what: 'the pool asleep' });
    assert.equal(await isSleeping(base), true);
    assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_sleeps_total'), 1);
    let answered = false;
    const pending = complete(g.url).then((x) => { answered = true; return x; });
    await waitUntil(async () => sample(await metrics(g.url), 'wellpath_gateway_pool_demand') === 1, { what: 'demand 1 while the pool wakes' });
    assert.equal(answered, false);
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    assert.equal(await isSleeping(base), false);
    const prom = await metrics(g.url);
    assert.equal(sample(prom, 'wellpath_gateway_pool_demand'), 0);
    assert.equal(sample(prom, 'wellpath_gateway_pool_wakeups_total'), 1);
    assert.ok(sample(prom, 'wellpath_gateway_pool_asleep_seconds_total') > 0);
  });

  test('a hold that outlasts wakeTimeoutMs gets 503 with Retry-After; the demand gauge shows it', async () => {
    const port = await freePort(); // nobody there: replicas 0
    const g = await gateway([{ name: 'absent', port }],
      'gateway:\n  scaleToZero: {enabled: true, idleAfterMs: 1000, wakeTimeoutMs: 600, maxQueue: 1}\n', false);
    let answered = false;
    const pending = complete(g.url).then((x) => { answered = true; return x; });
    await waitUntil(async () => sample(await metrics(g.url), 'wellpath_gateway_pool_demand') === 1, { what: 'demand 1 with no endpoint' });
    assert.equal(answered, false);
    assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_ready'), 0);
    // the hold is full: the next one gets 503 at once
    const full = await complete(g.url);
    assert.equal(full.status, 503, full.text);
    assert.ok(full.headers.get('retry-after'));
    const r = await pending;
    assert.equal(r.status, 503, r.text);
    assert.match(r.json.error.message, /woke up within 600 ms/);
    assert.ok(r.headers.get('retry-after'));
    assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_demand'), 0);
  });

  test('servers without sleep mode refuse /sleep: the pool stays awake and serves at once', async () => {
    // a vLLM look-alike without VLLM_SERVER_DEV_MODE: /sleep and /wake_up are 404
    const fake = await fakeVllm({ failing: false });
    const handler = fake.server.listeners('request')[0];
    fake.server.removeAllListeners('request');
    fake.server.on('request', (req, res) => {
      if (req.url.startsWith('/sleep') || req.url.startsWith('/wake_up')) {
        req.resume();
        res.statusCode = 404;
        return res.end('{"detail":"Not Found"}');
      }
      return handler(req, res);
    });
    try {
      const g = await gateway([{ name: 'nosleep', port: fake.port }],
        'gateway:\n  scaleToZero: {enabled: true, idleAfterMs: 1000, wakeTimeoutMs: 5000}\n');
      await waitUntil(async () => sample(await metrics(g.url), 'wellpath_gateway_pool_sleep_refusals_total') >= 1, { what: 'a refused sleep' });
      assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_sleeping'), 0);
      const r = await complete(g.url);
      assert.equal(r.status, 200, r.text);
      assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_wakeups_total'), 0);
    } finally {
      fake.server.close();
    }
  });

  test('replicas 0: a held request is served once an endpoint comes up', async () => {
    const port = await freePort();
    const g = await gateway([{ name: 'later', port }],
      'inferenceScheduler:\n  scrapeIntervalMs: 50\ngateway:\n  scaleToZero: {enabled: true, idleAfterMs: 60000, wakeTimeoutMs: 30000}\n', false);
    const pending = complete(g.url);
    await waitUntil(async () => sample(await metrics(g.url), 'wellpath_gateway_pool_demand') === 1, { what: 'demand 1 with no endpoint' });
    await sim({ timeScale: 0.05, port });
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    assert.equal(sample(await metrics(g.url), 'wellpath_gateway_pool_demand'), 0);
  });
});
