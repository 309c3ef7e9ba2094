// Spot capacity, live: a preemption notice on a simulated server (POST /admin/preempt).
//
// The noticed server drains as vLLM does under SIGTERM with --shutdown-timeout: its
// /health and any new completion answer 503 while the streams it runs go on. The gateway
// takes it out of the pool at once (a /health 503 is definitive: sched/drain), so new
// requests go to the other server, a request it refused before the first byte is retried
// there, streams that could finish within the notice finish whole, and /metrics reports
// the notice (wellpath_endpoint_draining, wellpath_gateway_preemption_notices_total). When
// the notice ends the server is reclaimed, restarts empty and rejoins. SIGTERM with
// --shutdown-timeout (vLLM's flag) drains the same way and exits 0 once the streams ended.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, metrics, post, sample, startGateway, startSim, stopClean, waitUntil } from '../lib/wellpath.mjs';

const TOKEN = 'spot-test-token';

// A streamed completion through the gateway: resolves `head` at its response head (the
// endpoint that serves it), `done` with its events once it ends.
function stream(url, prompt, maxTokens) {
  const res = fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens, stream: true }),
    signal: AbortSignal.timeout(60000),
  });
  const head = res.then((r) => ({ status: r.status, endpoint: r.headers.get('x-wellpath-endpoint') }));
  const done = res.then(async (r) => {
    let text = '';
    for await (const chunk of r.body) text += Buffer.from(chunk).toString('utf8');
    const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
    return { events, done: events.at(-1) === '[DONE]', data: events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e)) };
  });
  return { head, done };
}

const preempt = (port, body) =>
  post(`http://127.0.0.1:${port}/admin/preempt`, body, { headers: { Authorization: `Bearer ${TOKEN}` } });

describe('preemption notice', () => {
  let sim;
  let gw;
  before(async () => {
    sim = await startSim({ replicas: 2, timeScale: 1, args: ['--admin-token', TOKEN] });
    gw = await startGateway([{ name: 'a', port: sim.ports[0] }, { name: 'b', port: sim.ports[1] }]);
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  test('the admin API checks its body and its state', async () => {
    assert.equal((await post(`http://127.0.0.1:${sim.ports[0]}/admin/preempt`, {})).status, 401);
    let r = await preempt(sim.ports[0], { notice_ms: -5 });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /notice_ms/);
    r = await preempt(sim.ports[0], { after: 1 });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /unknown field/);
  });

  test('streams finish, new requests go elsewhere, the notice is reported, the server rejoins', async () => {
    // Streams of 250 tokens (about 2 s at time scale 1) on both servers.
    const streams = [];
    for (let i = 0; i < 6; i++) streams.push(stream(gw.url, `stream ${i}: tell me a long story about spot nodes`, 250));
    const heads = await Promise.all(streams.map((s) => s.head));
    for (const h of heads) assert.equal(h.status, 200);
    const onA = heads.filter((h) => h.endpoint === 'a').length;
    assert.ok(onA > 0 && onA < heads.length, `streams on both servers (${onA} of ${heads.length} on a)`);
    let prom = await metrics(gw.url);
    const picksA = sample(prom, 'wellpath_gateway_picks_total', { endpoint: 'a' });
    const retries = sample(prom, 'wellpath_gateway_retries_total');

    // The notice: 6 s, longer than any stream; then a restart after 300 ms.
    const r = await preempt(sim.ports[0], { notice_ms: 6000, restart_ms: 300 });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json, { preempt: true, notice_ms: 6000, restart_ms: 300 });
    // The server itself: draining.
    assert.equal((await fetch(`http://127.0.0.1:${sim.ports[0]}/health`)).status, 503);
    const direct = await post(`http://127.0.0.1:${sim.ports[0]}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 });
    assert.equal(direct.status, 503);
    assert.equal((await preempt(sim.ports[0], {})).status, 409, 'one notice at a time');

    // New requests through the gateway: every one answered, by b (a refusal before the first
    // byte is retried there), and a is out of the pool as soon as the gateway sees a 503.
    for (let i = 0; i < 12; i++) {
      const q = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: `new request ${i}`, max_tokens: 2 });
      assert.equal(q.status, 200, q.text);
      assert.equal(q.headers.get('x-wellpath-endpoint'), 'b');
    }
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_draining', { endpoint: 'a' }) === 1, {
      timeout: 5000,
      what: 'a reported draining',
    });
    prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_endpoint_healthy', { endpoint: 'a' }), 0);
    assert.equal(sample(prom, 'wellpath_endpoint_draining', { endpoint: 'b' }), 0);
    assert.equal(sample(prom, 'wellpath_gateway_preemption_notices_total'), 1);
    const status = await (await fetch(`${gw.url}/status`)).json();
    assert.deepEqual(status.endpoints.map((e) => [e.name, e.healthy, e.draining]), [['a', false, true], ['b', true, false]]);
    // At most the one request a refused before the gateway knew (it came back as a retry on
    // b); after that, no pick of a at all.
    const refused = sample(prom, 'wellpath_gateway_picks_total', { endpoint: 'a' }) - picksA;
    assert.ok(refused <= 1, `${refused} picks of a after the notice`);
    assert.equal(sample(prom, 'wellpath_gateway_retries_total') - retries, refused, 'each refused request was retried');

    // Every stream, those on a included, ends whole: 250 tokens, a finish reason, [DONE].
    const done = await Promise.all(streams.map((s) => s.done));
    for (const d of done) {
      assert.ok(d.done, 'ends with [DONE]');
      assert.ok(!d.data.some((e) => e.error), 'no error event');
      assert.equal(d.data.length, 250, 'all its tokens');
      assert.equal(d.data.at(-1).choices[0].finish_reason, 'length');
    }
    assert.ok(gw.proc.lines.stderr.some((l) => /endpoint draining: left the pool at once.*endpoint=a/.test(l)), 'logged');

    // The notice ends, a is reclaimed, restarts and rejoins; the count stays one notice.
    await waitUntil(async () => {
      const p = await metrics(gw.url);
      return sample(p, 'wellpath_endpoint_healthy', { endpoint: 'a' }) === 1 && sample(p, 'wellpath_endpoint_draining', { endpoint: 'a' }) === 0;
    }, { timeout: 20000, what: 'a back in the pool' });
    prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_gateway_preemption_notices_total'), 1);
    const q = await post(`http://127.0.0.1:${sim.ports[0]}/v1/completions`, { model: MODEL, prompt: 'back', max_tokens: 2 });
    assert.equal(q.status, 200, 'the replacement serves');
  });
});

describe('SIGTERM with --shutdown-timeout', () => {
  test('drains: running streams finish, new requests get 503, exits 0 once idle', async () => {
    const p = new Proc(['sim', '--port', '0', '--time-scale', '1', '--shutdown-timeout', '30']);
    const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=(\d+)/);
    const url = `http://127.0.0.1:${m[2]}`;
    const s = stream(url, 'a stream that outlives the signal', 250);
    assert.equal((await s.head).status, 200);
    const t0 = performance.now();
    p.child.kill('SIGTERM');
    await waitUntil(async () => (await fetch(`${url}/health`)).status === 503, { timeout: 5000, what: '/health 503' });
    assert.equal((await post(`${url}/v1/completions`, { model: MODEL, prompt: 'late', max_tokens: 2 })).status, 503);
    const d = await s.done;
    assert.ok(d.done && !d.data.some((e) => e.error));
    assert.equal(d.data.length, 250, 'all its tokens');
    const exit = await p.exit;
    assert.equal(exit.code, 0, p.lines.stderr.join('\n'));
    assert.ok(performance.now() - t0 < 25000, 'stopped when idle, not at the timeout');
    assert.ok(p.lines.stderr.some((l) => /sim: SIGTERM, draining/.test(l)));
  });
});
