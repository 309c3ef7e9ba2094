// Outlier detection and the admin API.
//
// Outliers: a server that passes /health but answers every completion with 500 (a node
// HTTP server in this file, so the failure is exact) is ejected after
// consecutiveFailures, while every client request is still answered 200 by the healthy
// simulator (retries before the first byte); after the ejection time it is on probation
// (one request at a time), is ejected again for twice as long while it still fails, and
// rejoins once a probe succeeds.
//
// Admin: off without a token (404); 401 with WWW-Authenticate for a missing or wrong
// bearer token; POST /admin/reload applies the file (or says what is wrong with it and
// keeps the running config); POST /admin/drain drains and the process exits 0; a token in
// WELLPATH_ADMIN_TOKEN wins over the file's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, gatewayTopology, metrics, post, sample, startGateway, startSim, stopClean, waitUntil, writeTemp, fakeVllm } from '../lib/wellpath.mjs';


const complete = (url) => post(`${url}/v1/completions`, { model: MODEL, prompt: 'hello there', max_tokens: 2 });

describe('outlier detection', () => {
  let sim;
  let bad;
  let gw;
  before(async () => {
    sim = await startSim({ timeScale: 0.01 });
    bad = await fakeVllm();
    const extra = 'gateway:\n  outlierDetection: {consecutiveFailures: 3, baseEjectionMs: 600, maxEjectionMs: 5000}\n';
    gw = await startGateway([{ name: 'good', port: sim.ports[0] }, { name: 'bad', port: bad.port }], { extra });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
    if (bad) bad.server.close();
  });

  test('a failing endpoint is ejected, probed, ejected for longer, and rejoins when it works', async () => {
    // Until the bad one is ejected, every client request is still answered 200 (retried).
    await waitUntil(async () => {
      const r = await complete(gw.url);
      assert.equal(r.status, 200, r.text);
      return sample(await metrics(gw.url), 'wellpath_endpoint_ejected', { endpoint: 'bad' }) === 1;
    }, { timeout: 20000, what: 'the bad endpoint ejected' });
    assert.equal(bad.completions, 3, 'ejected after exactly consecutiveFailures failures');
    let prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_endpoint_ejections_total', { endpoint: 'bad' }), 1);
    const status = await (await fetch(`${gw.url}/status`)).json();
    assert.deepEqual(status.endpoints.map((e) => [e.name, e.healthy, e.outlier]), [['good', true, 'ok'], ['bad', true, 'ejected']]);
    // While ejected it gets nothing.
    for (let i = 0; i < 10; i++) assert.equal((await complete(gw.url)).status, 200);
    assert.equal(bad.completions, 3);
    // After 600 ms it is on probation: one probe fails, and it is out again (for 1200 ms).
    await waitUntil(async () => {
      assert.equal((await complete(gw.url)).status, 200);
      return sample(await metrics(gw.url), 'wellpath_endpoint_ejections_total', { endpoint: 'bad' }) === 2;
    }, { timeout: 10000, what: 're-ejection after a failed probe' });
    assert.equal(bad.completions, 4, 'one probe on probation');
    const reEjectedAt = performance.now();
    // It works again: the next probe succeeds and it is back in the pool for good.
    bad.failing = false;
    await waitUntil(async () => {
      assert.equal((await complete(gw.url)).status, 200);
      return bad.completions > 4;
    }, { timeout: 10000, what: 'a probe after the second ejection' });
    assert.ok(performance.now() - reEjectedAt >= 1100, 'the second ejection lasted about twice the first');
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_ejected', { endpoint: 'bad' }) === 0, { what: 'back in the pool' });
    const before = bad.completions;
    for (let i = 0; i < 20; i++) assert.equal((await complete(gw.url)).status, 200);
    assert.ok(bad.completions > before + 2, 'takes a share of traffic again');
    prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_endpoint_ejections_total', { endpoint: 'bad' }), 2);
    assert.equal(sample(prom, 'wellpath_endpoint_healthy', { endpoint: 'bad' }), 1);
  });
});

describe('admin API', () => {
  let sim;
  before(async () => {
    sim = await startSim({ timeScale: 0.01 });
  });
  after(async () => {
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  const eps = () => [{ name: 'a', port: sim.ports[0] }];
  const call = (url, path, { method = 'POST', token } = {}) =>
    fetch(`${url}${path}`, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });

  test('without a token the admin paths do not exist', async () => {
    const gw = await startGateway(eps());
    try {
      const r = await call(gw.url, '/admin/reload', { token: 'anything' });
      assert.equal(r.status, 404);
      assert.match((await r.json()).error.message, /admin API is off/);
    } finally {
      await stopClean(assert, gw.proc, 'gateway');
    }
  });

  test('bearer token checked; reload applies the file or says why not; drain stops the gateway', async () => {
    const gw = await startGateway(eps(), { extra: 'gateway:\n  adminToken: s3cret\n' });
    let r = await call(gw.url, '/admin/reload');
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    assert.equal((await r.json()).error.code, 401);
    assert.equal((await call(gw.url, '/admin/reload', { token: 's3cre' })).status, 401);
    assert.equal((await call(gw.url, '/admin/reload', { token: 's3cret', method: 'GET' })).status, 405);
    assert.equal((await call(gw.url, '/admin/nothing', { token: 's3cret' })).status, 404);
    r = await call(gw.url, '/admin/reload', { token: 's3cret' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'reloaded' });
    assert.equal(sample(await metrics(gw.url), 'wellpath_gateway_reloads_total'), 1);
    // A broken file: 400 naming the key and line, and the gateway goes on as it was.
    fs.writeFileSync(gw.file, `${gatewayTopology(eps())}gateway:\n  adminToken: s3cret\n  retries: many\n`);
    r = await call(gw.url, '/admin/reload', { token: 's3cret' });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, /:5:12: gateway\.retries: expected an integer/);
    assert.equal(sample(await metrics(gw.url), 'wellpath_gateway_reloads_total'), 1);
    assert.equal((await complete(gw.url)).status, 200);
    r = await call(gw.url, '/admin/drain', { token: 's3cret' });
    assert.equal(r.status, 202);
    const exit = await gw.proc.exit;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gw.proc.output());
  });

  test('WELLPATH_ADMIN_TOKEN wins over the file\'s token', async () => {
    const file = writeTemp(gatewayTopology(eps(), 'gateway:\n  adminToken: in-file\n'));
    const proc = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0'], { env: { WELLPATH_ADMIN_TOKEN: 'from-env' } });
    try {
      const m = await proc.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
      const url = `http://127.0.0.1:${m[1]}`;
      assert.equal((await call(url, '/admin/reload', { token: 'in-file' })).status, 401);
      assert.equal((await call(url, '/admin/reload', { token: 'from-env' })).status, 200);
    } finally {
      await stopClean(assert, proc, 'gateway');
    }
  });
});
