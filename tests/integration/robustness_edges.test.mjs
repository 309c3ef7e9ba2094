// Where flow control, in-flight limits and outlier probation meet reloads, P/D pools and
// single-endpoint pools (each case a bug found in review, fixed, and kept here):
// - requests queued across a SIGHUP keep waiting and are served (not 429);
// - P/D requests wait in the queue when every decode endpoint is at its limit, also after
//   their prefill, instead of getting 429;
// - turning outlier detection off by a reload ends ejections and probation;
// - a reload does not reset the in-flight counts a limit is checked against;
// - an endpoint on probation that is the only one left is not limited to one request.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, metrics, post, randomText, sample, startGateway, startSim, stopClean, waitUntil, fakeVllm } from '../lib/wellpath.mjs';

function long(url) {
  return post(`${url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 160, ignore_eos: true }, { timeout: 60000 });
}
function short(url) {
  return post(`${url}/v1/completions`, { model: MODEL, prompt: randomText(60), max_tokens: 4 }, { timeout: 60000 });
}
const inFlight = async (url, name) => sample(await metrics(url), 'wellpath_endpoint_in_flight', { endpoint: name });
const queued = async (url) => sample(await metrics(url), 'wellpath_gateway_queue_length');

describe('reload while requests are queued', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ timeScale: 1 });
    gw = await startGateway([{ name: 'only', port: sim.ports[0] }], {
      extra: 'gateway:\n  maxInFlightPerEndpoint: 1\n  flowControl: {enabled: true, maxQueue: 8, queueTimeoutMs: 20000}\n',
    });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  test('queued requests keep waiting across a SIGHUP of the same file', async () => {
    const busy = long(gw.url);
    await waitUntil(async () => (await inFlight(gw.url, 'only')) === 1, { what: 'busy in flight' });
    const waiting = [short(gw.url), short(gw.url), short(gw.url)];
    await waitUntil(async () => (await queued(gw.url)) === 3, { what: '3 queued' });
    gw.proc.child.kill('SIGHUP');
    await waitUntil(() => gw.proc.lines.stderr.some((l) => l.includes('msg=reloaded')), { what: 'reloaded' });
    // A new request after the reload: the endpoint still has the busy one in flight.
    const after1 = short(gw.url);
    await waitUntil(async () => (await queued(gw.url)) === 4, { what: 'the request sent after the reload queued behind the busy one' });
    const results = await Promise.all([busy, ...waiting, after1]);
    const statuses = results.map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200], 'every queued request served after the reload');
  });
});

describe('P/D requests through the flow-control queue', () => {
  let pre, dec, gw;
  async function startRole(role) {
    const p = new Proc(['sim', '--role', role, '--port', '0', '--time-scale', '1']);
    const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=(\d+)/);
    return { proc: p, port: Number(m[2]) };
  }
  before(async () => {
    [pre, dec] = await Promise.all([startRole('prefill'), startRole('decode')]);
    gw = await startGateway([{ name: 'pre', port: pre.port, role: 'prefill' }, { name: 'dec', port: dec.port, role: 'decode' }], {
      extra: 'inferenceScheduler:\n  pdThreshold: 0\ngateway:\n  maxInFlightPerEndpoint: 1\n  flowControl: {enabled: true, maxQueue: 8, queueTimeoutMs: 30000}\n',
    });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const s of [pre, dec]) if (s) await stopClean(assert, s.proc, 'sim');
  });

  test('concurrent P/D requests wait in the queue instead of getting 429', async () => {
    const rs = await Promise.all([0, 1, 2, 3].map(() => long(gw.url)));
    const prom = await metrics(gw.url);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(sample(prom, 'wellpath_gateway_shed_total', { reason: 'in_flight_limit' }), 0);
    assert.ok(sample(prom, 'wellpath_gateway_queue_wait_seconds_count') > 0, 'some waited in the queue');
  });
});


describe('outlier detection turned off by a reload', () => {
  let bad, gw;
  before(async () => {
    bad = await fakeVllm();
    gw = await startGateway([{ name: 'bad', port: bad.port }], {
      extra: 'gateway:\n  retries: 0\n  outlierDetection: {consecutiveFailures: 2, baseEjectionMs: 300, maxEjectionMs: 5000}\n',
    });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (bad) bad.server.close();
  });

  test('an endpoint ejected before the reload is not left on probation (limit 1) forever', async () => {
    const complete = () => post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 });
    await complete();
    await complete();
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_ejected', { endpoint: 'bad' }) === 1, { what: 'ejected' });
    fs.writeFileSync(gw.file, `endpoints:\n  - {url: "http://127.0.0.1:${bad.port}", name: bad}\ngateway:\n  retries: 0\n  outlierDetection: {consecutiveFailures: 0}\n`);
    gw.proc.child.kill('SIGHUP');
    await waitUntil(() => gw.proc.lines.stderr.some((l) => l.includes('msg=reloaded')), { what: 'reloaded' });
    bad.failing = false;
    bad.delayMs = 300;
    await waitUntil(async () => (await (await fetch(`${gw.url}/status`)).json()).endpoints[0].outlier !== 'ejected', { what: 'ejection over' });
    for (let i = 0; i < 3; i++) assert.equal((await complete()).status, 200);
    bad.maxActive = 0;
    const rs = await Promise.all([0, 1, 2, 3].map(() => complete()));
    const st = (await (await fetch(`${gw.url}/status`)).json()).endpoints[0];
    assert.equal(st.outlier, 'ok');
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
  });
});

describe('in-flight limit across a reload', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ timeScale: 1 });
    gw = await startGateway([{ name: 'only', port: sim.ports[0] }], { extra: 'gateway:\n  maxInFlightPerEndpoint: 1\n' });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  test('a reload does not reset what is in flight: the limit still holds', async () => {
    let busyDone = false;
    const busy = long(gw.url).then((r) => { busyDone = true; return r; });
    await waitUntil(async () => (await inFlight(gw.url, 'only')) === 1, { what: 'busy in flight' });
    assert.equal((await short(gw.url)).status, 429, 'limit holds before the reload');
    for (let i = 1; i <= 3; i++) {
      gw.proc.child.kill('SIGHUP');
      await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_reloads_total') === i, { what: `reload ${i}` });
    }
    const simProm = await metrics(`http://127.0.0.1:${sim.ports[0]}`);
    let extraDone = 0;
    const extra = [long(gw.url), long(gw.url), long(gw.url)].map((p) => p.then((r) => { extraDone++; return r; }));
    // Until the gateway has answered the three (429 while the limit holds), or the
    // upstream runs more than one (the limit lost): the most seen running meanwhile.
    let running = 0;
    await waitUntil(async () => {
      running = Math.max(running, sample(await metrics(`http://127.0.0.1:${sim.ports[0]}`), 'vllm:num_requests_running'));
      return extraDone === 3 || running > 1;
    }, { timeout: 60000, what: 'the three requests answered, or more than one running upstream' });
    const rs = await Promise.all([busy, ...extra]);
    assert.ok(running <= 1, `upstream has ${running} running with maxInFlightPerEndpoint 1`);
  });
});

describe('probation without any in-flight limit configured', () => {
  let bad, gw;
  before(async () => {
    bad = await fakeVllm();
    gw = await startGateway([{ name: 'bad', port: bad.port }], {
      extra: 'gateway:\n  retries: 0\n  outlierDetection: {consecutiveFailures: 2, baseEjectionMs: 300}\n',
    });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (bad) bad.server.close();
  });

  test('concurrent requests to an endpoint on probation are not answered 429 "in-flight limit (0)"', async () => {
    const complete = () => post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 });
    await complete();
    await complete();
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_ejected', { endpoint: 'bad' }) === 1, { what: 'ejected' });
    bad.failing = false;
    bad.delayMs = 300;
    await waitUntil(async () => (await (await fetch(`${gw.url}/status`)).json()).endpoints[0].outlier === 'probation', { what: 'probation' });
    const rs = await Promise.all([0, 1, 2, 3].map(() => complete()));
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
  });
});
