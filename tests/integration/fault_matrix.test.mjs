// The fault matrix: the gateway in front of three simulated replicas while the simulator
// injects each fault (set at run time through its admin endpoint), on one replica or on
// all. For each row, N requests go through at once and every one is answered exactly once:
// the client gets N answers with the expected status, and the gateway's
// wellpath_gateway_requests_total grows by exactly N (nothing lost, nothing counted twice).
//
//   fault (where)              expected
//   503 (one replica)          200: retried on another replica before the first byte
//   503 / 429 / 500 (all)      the last replica's 503 / 429 / 500, after two retries
//   context-length (all)       400 passed through, vLLM's message, not retried
//   latency 300 ms (all)       200, each at least 300 ms
//   hang (one replica)         200: cut at firstByteTimeoutMs and retried elsewhere
//   hang (all)                 504
//   disconnect mid-stream      200 head, the stream ends with an SSE error event, no [DONE]
//   crash (one replica)        200: retried; the crashed replica leaves the pool
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, assertErrorShape, metrics, parseProm, post, postStream, randomText, sample, startGateway, startSim, stopClean, waitUntil } from '../lib/wellpath.mjs';

const N = 24;
const TOKEN = 'matrix-token';

async function setFaults(port, faults) {
  const r = await fetch(`http://127.0.0.1:${port}/admin/faults`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ faults }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function injected(port, kind) {
  const prom = parseProm(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  return sample(prom, 'wellpath_sim_faults_injected_total', { kind });
}

function answered(prom) {
  return prom.filter((s) => s.name === 'wellpath_gateway_requests_total').reduce((a, s) => a + s.value, 0);
}

function statuses(rs) {
  const out = {};
  for (const r of rs) out[r.status] = (out[r.status] || 0) + 1;
  return out;
}

describe('fault matrix', () => {
  let sim;
  let gw;
  const all = () => sim.ports;
  before(async () => {
    sim = await startSim({ replicas: 3, timeScale: 0.01, args: ['--admin-token', TOKEN] });
    const eps = sim.ports.map((port, i) => ({ name: `r${i}`, port }));
    // Outlier detection off, so every row sees the same three replicas.
    const extra = 'gateway:\n  retries: 2\n  firstByteTimeoutMs: 400\n  outlierDetection: {consecutiveFailures: 0}\n';
    gw = await startGateway(eps, { extra });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  // Sets `faults` on the replicas `where`, clears the others, sends N requests at once
  // (streamed when `stream`) and checks they were answered and counted exactly once.
  async function row(faults, where, { stream = false, ports = sim.ports } = {}) {
    for (const port of ports) await setFaults(port, where.includes(port) ? faults : []);
    const before = answered(await metrics(gw.url));
    const send = () => {
      // Distinct prompts: the picks spread over the replicas (ties broken at random).
      const body = { model: MODEL, prompt: randomText(80), max_tokens: 8, ignore_eos: true };
      const t0 = performance.now();
      const p = stream ? postStream(`${gw.url}/v1/completions`, { ...body, stream: true }) : post(`${gw.url}/v1/completions`, body);
      return p.then((r) => ({ ...r, ms: performance.now() - t0 }));
    };
    const rs = await Promise.all(Array.from({ length: N }, send));
    assert.equal(rs.length, N);
    await waitUntil(async () => answered(await metrics(gw.url)) - before === N, { what: `the gateway to count exactly ${N} answers` });
    // Nothing more turns up later (a request answered twice would count again when its
    // second answer ends): once nothing is in flight, every count has been made.
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_in_flight') === 0, { what: 'nothing in flight at the gateway' });
    assert.equal(answered(await metrics(gw.url)) - before, N);
    return rs;
  }

  test('503 on one replica: every request retried to 200', async () => {
    const hit = await injected(all()[0], '503');
    const rs = await row([{ kind: '503', rate: 1 }], [all()[0]]);
    assert.deepEqual(statuses(rs), { 200: N });
    assert.ok(rs.every((r) => r.headers.get('x-wellpath-endpoint') !== 'r0'));
    assert.ok((await injected(all()[0], '503')) > hit, 'some requests did meet the fault');
  });

  for (const [kind, want] of [['503', 503], ['429', 429], ['500', 500]]) {
    test(`${kind} on every replica: ${want} after the retries, with a JSON error`, async () => {
      const rs = await row([{ kind, rate: 1 }], all());
      assert.deepEqual(statuses(rs), { [want]: N });
      for (const r of rs) assertErrorShape(assert, r.json, want);
    });
  }

  test('context-length on every replica: 400 passed through, not retried', async () => {
    const before = sample(await metrics(gw.url), 'wellpath_gateway_retries_total');
    const rs = await row([{ kind: 'context-length', rate: 1 }], all());
    assert.deepEqual(statuses(rs), { 400: N });
    for (const r of rs) {
      assert.match(r.json.error.message, /maximum context length/);
      assert.equal(r.json.error.code, 400);
    }
    assert.equal(sample(await metrics(gw.url), 'wellpath_gateway_retries_total'), before);
  });

  test('a 300 ms latency spike on every replica: 200, each at least 300 ms', async () => {
    const rs = await row([{ kind: 'latency', rate: 1, ms: 300 }], all());
    assert.deepEqual(statuses(rs), { 200: N });
    assert.ok(rs.every((r) => r.ms >= 290), rs.map((r) => Math.round(r.ms)).join(','));
  });

  test('a hang on one replica: cut at the first-byte timeout and retried to 200', async () => {
    const hit = await injected(all()[1], 'hang');
    const rs = await row([{ kind: 'hang', rate: 1 }], [all()[1]]);
    assert.deepEqual(statuses(rs), { 200: N });
    assert.ok(rs.every((r) => r.headers.get('x-wellpath-endpoint') !== 'r1'));
    const hung = (await injected(all()[1], 'hang')) - hit;
    assert.ok(hung > 0, 'some requests did hang');
    assert.equal(rs.filter((r) => r.ms >= 390).length, hung, 'exactly those waited out the first-byte timeout');
  });

  test('a hang on every replica: 504', async () => {
    const rs = await row([{ kind: 'hang', rate: 1 }], all());
    assert.deepEqual(statuses(rs), { 504: N });
    for (const r of rs) assertErrorShape(assert, r.json, 504);
  });

  test('a disconnect in the middle of every stream: an SSE error event ends it', async () => {
    const rs = await row([{ kind: 'disconnect', rate: 1, after: 3 }], all(), { stream: true });
    assert.deepEqual(statuses(rs), { 200: N });
    for (const r of rs) {
      const last = r.events[r.events.length - 1];
      assert.notEqual(last.data, '[DONE]');
      assert.equal(last.data.error.code, 502, JSON.stringify(last.data));
      assert.ok(r.events.length >= 2, 'tokens came before the cut');
    }
  });

  test('a crash of one replica: requests retried to 200, the replica leaves the pool', async () => {
    const crash = await fetch(`http://127.0.0.1:${all()[2]}/admin/crash`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(crash.status, 202);
    await waitUntil(async () => !(await fetch(`http://127.0.0.1:${all()[2]}/health`).then(() => true, () => false)), { what: 'the replica to go' });
    // Until its failed scrapes take it out of the pool (a few scrape intervals), the
    // requests that go to it meet a refused connection and are retried; whether any does
    // depends on how fast this machine sends them, so both cases are held to the same
    // outcome: every request answered 200, each retried one counted as an upstream error.
    const errors = sample(await metrics(gw.url), 'wellpath_endpoint_upstream_errors_total', { endpoint: 'r2' });
    const retries = sample(await metrics(gw.url), 'wellpath_gateway_retries_total');
    const rs = await row([], [], { ports: all().slice(0, 2) });
    assert.deepEqual(statuses(rs), { 200: N });
    const prom0 = await metrics(gw.url);
    assert.equal(sample(prom0, 'wellpath_endpoint_upstream_errors_total', { endpoint: 'r2' }) - errors,
      sample(prom0, 'wellpath_gateway_retries_total') - retries, 'every attempt on the crashed replica was retried');
    assert.ok(rs.every((r) => r.headers.get('x-wellpath-endpoint') !== 'r2'), 'none was answered by it');
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_healthy', { endpoint: 'r2' }) === 0, { what: 'the crashed replica to leave the pool' });
    const prom = parseProm(await (await fetch(`http://127.0.0.1:${all()[0]}/metrics`)).text());
    assert.ok(prom.some((s) => s.name === 'wellpath_sim_faults_injected_total'), 'the sibling still serves its metrics');
    const again = await row([], [], { ports: all().slice(0, 2) });
    assert.deepEqual(statuses(again), { 200: N });
  });
});
