// Flow control under churn (run under ASan in make test too): random
// priorities and fairness ids, clients that leave while queued, evictions, deadlines,
// reloads (SIGHUP and POST /admin/reload) while requests are queued, P/D pool, then a
// SIGTERM drain with requests still queued. Each request must get exactly one answer and
// the process must exit without a sanitizer report.
//
// The randomness comes from one seeded generator: WELLPATH_TEST_SEED=<n> replays a
// failure's choices (the seed is printed when the test fails). The pace is set by
// events, not by the clock: a closed loop keeps WINDOW requests open (one ends, the next
// starts), each reload comes after a random number of requests have ended and waits until
// the gateway has applied it, and the drain waits until requests are queued.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { MODEL, Proc, metrics, randomText, sample, seededRandom, startGateway, testSeed, waitUntil } from '../lib/wellpath.mjs';

const REQUESTS = 800; /* in the churn, before the drain */
const WINDOW = 12; /* requests open at once */

async function startRole(role) {
  const p = new Proc(['sim', '--role', role, '--port', '0', '--time-scale', '0.3']);
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=(\d+)/);
  return { proc: p, port: Number(m[2]) };
}

function one(port, rng, { priority, fid, abortMs, tokens }) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: MODEL, prompt: randomText(40 + Math.floor(rng() * 400), rng), max_tokens: tokens, priority });
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: 'Bearer tok' };
    if (fid) headers['x-gateway-inference-fairness-id'] = fid;
    if (rng() < 0.2) headers['X-Wellpath-Priority'] = String(Math.floor(rng() * 20) - 10);
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/completions', method: 'POST', headers, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', () => resolve({ status: 'reset' }));
      res.on('close', () => resolve({ status: res.complete ? res.statusCode : 'reset' }));
    });
    req.on('error', () => resolve({ status: 'error' }));
    // A client that leaves after abortMs: the churn itself, not a wait for something.
    if (abortMs !== undefined) setTimeout(() => req.destroy(), abortMs);
    req.end(body);
  });
}

test('churn through the queue, reloads, P/D, then drain', { timeout: 120000 }, async (t) => {
  const seed = testSeed();
  const rerun = `seed ${seed}; rerun with: WELLPATH_TEST_SEED=${seed} node --test tests/integration/flow_churn.test.mjs`;
  t.diagnostic(rerun);
  try {
    await churn(t, seededRandom(seed));
  } catch (e) {
    console.error(`flow_churn failed with ${rerun}`);
    throw e;
  }
});

async function churn(t, rng) {
  const roles = await Promise.all([startRole('prefill'), startRole('decode'), startRole('both')]);
  // Stopped whatever happens (a hung gateway must not keep the test runner alive).
  t.after(() => Promise.all(roles.map((r) => r.proc.stop())));
  const [pre, dec, both] = roles;
  const extra = 'inferenceScheduler:\n  pdThreshold: 50\ngateway:\n  adminToken: tok\n  retries: 1\n  maxInFlightPerEndpoint: 2\n  flowControl: {enabled: true, maxQueue: 6, queueTimeoutMs: 700}\n  outlierDetection: {consecutiveFailures: 2, baseEjectionMs: 200}\n';
  const gw = await startGateway([
    { name: 'pre', port: pre.port, role: 'prefill' },
    { name: 'dec', port: dec.port, role: 'decode' },
    { name: 'dec2', port: both.port, role: 'decode' },
  ], { extra });
  t.after(() => gw.proc.stop({ grace: 2000 }));

  // Requests ended so far, and who waits for that count to reach a mark.
  let ended = 0;
  let loadDone = false;
  let waiters = [];
  const notify = () => {
    waiters = waiters.filter((w) => !w());
  };
  const endedAtLeast = (n) =>
    new Promise((resolve) => {
      const w = () => (ended >= n || loadDone ? (resolve(), true) : false);
      if (!w()) waiters.push(w);
    });

  const all = [];
  const start = () => {
    const p = one(gw.port, rng, {
      priority: Math.floor(rng() * 10),
      fid: rng() < 0.7 ? `t${Math.floor(rng() * 4)}` : undefined,
      abortMs: rng() < 0.25 ? Math.floor(rng() * 800) : undefined,
      tokens: 2 + Math.floor(rng() * 30),
    }).then((r) => {
      ended++;
      notify();
      return r;
    });
    all.push(p);
    return p;
  };

  // Reloads while requests come and go: one after every 10..40 requests ended, each
  // waited for until the gateway counts it as applied.
  let reloads = 0;
  const reloadsApplied = async () => sample(await metrics(gw.url), 'wellpath_gateway_reloads_total');
  const reloader = (async () => {
    const base = await reloadsApplied();
    for (;;) {
      await endedAtLeast(ended + 10 + Math.floor(rng() * 30));
      if (loadDone) return;
      if (rng() < 0.5) gw.proc.child.kill('SIGHUP');
      else await fetch(`${gw.url}/admin/reload`, { method: 'POST', headers: { Authorization: 'Bearer tok' } });
      reloads++;
      await waitUntil(async () => (await reloadsApplied()) === base + reloads, { what: `reload ${reloads} applied` });
    }
  })();

  // The closed loop: WINDOW open at once; each one's end starts the next.
  const lane = async () => {
    while (all.length < REQUESTS) await start();
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  loadDone = true;
  notify();
  await reloader;

  // The drain, with requests still queued.
  for (let i = 0; i < 10; i++) all.push(one(gw.port, rng, { priority: 5, tokens: 40 }));
  await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_queue_length') > 0, { what: 'requests queued before the drain' });
  gw.proc.child.kill('SIGTERM');
  const rs = await Promise.all(all);
  const exit = await gw.proc.exit;
  const counts = {};
  for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
  t.diagnostic(`answers: ${JSON.stringify(counts)}, reloads: ${reloads}`);
  const out = gw.proc.output();
  assert.ok(!/Sanitizer|runtime error/.test(out), out.slice(-4000));
  assert.ok(reloads > 5, `reloads: ${reloads}`);
  // Every request ended once: answered with a status the docs list, or cut by its own
  // client (aborted ones) or by the drain's end. Nothing is left hanging (Promise.all).
  const allowed = new Set([200, 429, 503, 'reset', 'error']);
  for (const [status, n] of Object.entries(counts)) assert.ok(allowed.has(Number(status)) || allowed.has(status), `${n} answered ${status}: ${JSON.stringify(counts)}`);
  assert.ok(counts[200] > 0 && counts[429] > 0, `some served and some shed: ${JSON.stringify(counts)}`);
  assert.ok(exit.code === 0 || exit.code === 1, `exit ${JSON.stringify(exit)}`);
}
