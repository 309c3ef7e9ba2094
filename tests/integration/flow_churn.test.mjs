// Flow control under churn (run under ASan in make test too): random
// priorities and fairness ids, clients that leave while queued, evictions, deadlines,
// reloads (SIGHUP and POST /admin/reload) while requests are queued, P/D pool, then a
// SIGTERM drain with requests still queued. Each request must get exactly one answer and
// the process must exit without a sanitizer report.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { MODEL, Proc, randomText, startGateway, waitUntil } from '../lib/wellpath.mjs';

async function startRole(role) {
  const p = new Proc(['sim', '--role', role, '--port', '0', '--time-scale', '0.3']);
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=(\d+)/);
  return { proc: p, port: Number(m[2]) };
}

function one(port, { priority, fid, abortMs, tokens }) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: MODEL, prompt: randomText(40 + Math.floor(Math.random() * 400)), max_tokens: tokens, priority });
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: 'Bearer tok' };
    if (fid) headers['x-gateway-inference-fairness-id'] = fid;
    if (Math.random() < 0.2) headers['X-Wellpath-Priority'] = String(Math.floor(Math.random() * 20) - 10);
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/completions', method: 'POST', headers, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', () => resolve({ status: 'reset' }));
      res.on('close', () => resolve({ status: res.complete ? res.statusCode : 'reset' }));
    });
    req.on('error', () => resolve({ status: 'error' }));
    if (abortMs !== undefined) setTimeout(() => req.destroy(), abortMs);
    req.end(body);
  });
}

test('churn through the queue, reloads, P/D, then drain', { timeout: 120000 }, async (t) => {
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
  const all = [];
  const stop = Date.now() + 8000;
  let reloads = 0;
  const reloader = (async () => {
    while (Date.now() < stop) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
      if (Math.random() < 0.5) gw.proc.child.kill('SIGHUP');
      else await fetch(`${gw.url}/admin/reload`, { method: 'POST', headers: { Authorization: 'Bearer tok' } }).catch(() => {});
      reloads++;
    }
  })();
  while (Date.now() < stop) {
    for (let i = 0; i < 6; i++) {
      all.push(one(gw.port, {
        priority: Math.floor(Math.random() * 10),
        fid: Math.random() < 0.7 ? `t${Math.floor(Math.random() * 4)}` : undefined,
        abortMs: Math.random() < 0.25 ? Math.floor(Math.random() * 800) : undefined,
        tokens: 2 + Math.floor(Math.random() * 30),
      }));
    }
    await new Promise((r) => setTimeout(r, 40));
  }
  await reloader;
  // Some still queued: drain now.
  for (let i = 0; i < 10; i++) all.push(one(gw.port, { priority: 5, tokens: 40 }));
  await new Promise((r) => setTimeout(r, 50));
  gw.proc.child.kill('SIGTERM');
  const rs = await Promise.all(all);
  const exit = await gw.proc.exit;
  const counts = {};
  for (const r of rs) counts[r.status] = (counts[r.status] || 0) + 1;
  const out = gw.proc.output();
  assert.ok(!/Sanitizer|runtime error/.test(out), out.slice(-4000));
  assert.ok(reloads > 5, `reloads: ${reloads}`);
  // Every request ended once: answered with a status the docs list, or cut by its own
  // client (aborted ones) or by the drain's end. Nothing is left hanging (Promise.all).
  const allowed = new Set([200, 429, 503, 'reset', 'error']);
  for (const [status, n] of Object.entries(counts)) assert.ok(allowed.has(Number(status)) || allowed.has(status), `${n} answered ${status}: ${JSON.stringify(counts)}`);
  assert.ok(counts[200] > 0 && counts[429] > 0, `some served and some shed: ${JSON.stringify(counts)}`);
  assert.ok(exit.code === 0 || exit.code === 1, `exit ${JSON.stringify(exit)}`);
});
