// Fault injection in the simulated model server (src/fault, src/sim/inject.c): each kind
// at rate 1 happens on every request and is counted exactly in
// wellpath_sim_faults_injected_total; rate 0 never; the admin endpoint is off without a
// token and behind the bearer token with one; changes at run time take effect at once; a
// crash refuses connections, cuts what was in flight and comes back on the same port;
// sibling replicas are not touched; bad flags exit 2 with one line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, assertErrorShape, canConnect, childPids, listeningPorts, metrics, post, rawRequest, sample, startSim, stopClean, waitUntil, writeTemp, readJson } from '../lib/wellpath.mjs';

const TOKEN = 'fault-test-token';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const KINDS = ['429', '500', '503', 'context-length', 'latency', 'hang', 'disconnect', 'crash'];
const noEnvToken = { env: { WELLPATH_ADMIN_TOKEN: '' } };

const url = (port, path) => `http://127.0.0.1:${port}${path}`;

async function admin(port, method, path, { body, headers = AUTH } = {}) {
  const res = await fetch(url(port, path), {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readJson(res);
}

async function setFaults(port, faults) {
  const r = await admin(port, 'PUT', '/admin/faults', { body: { faults } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The replica's fault counts by kind.
async function faultCounts(port) {
  const prom = await metrics(url(port, ''));
  return Object.fromEntries(KINDS.map((k) => [k, sample(prom, 'wellpath_sim_faults_injected_total', { kind: k })]));
}

function delta(before, after) {
  return Object.fromEntries(KINDS.map((k) => [k, after[k] - before[k]]).filter(([, v]) => v !== 0));
}

const completion = (port, extra = {}) => post(url(port, '/v1/completions'), { model: MODEL, prompt: 'fault test prompt', max_tokens: 3, ...extra });

// One HTTP/1.1 request over raw TCP; resolves with what arrived until the server closed
// (or `timeout` ms passed).
function rawPost(port, path, body, timeout = 10000) {
  const b = JSON.stringify(body);
  return rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`, { timeout });
}

describe('sim faults: flags', () => {
  test('test_sim_fault_bad_specs_exit_2', async () => {
    for (const [args, want] of [
      [['--fault', '504'], /--fault: fault '504': unknown fault kind '504'/],
      [['--fault', '503:1.5'], /rate must be a number in \[0, 1\]/],
      [['--fault', 'latency,ms=soon'], /ms must be an integer, got 'soon'/],
      [['--fault', 'hang,after=2'], /'after' is not a parameter of hang/],
      [['--fault', 'crash,restart_ms=-7'], /restart_ms must be an integer in -1\.\.86400000/],
      [['--replicas', '2', '--fault-replicas', '2'], /--fault-replicas: replica 2 does not exist \(replicas 0\.\.1\)/],
      [['--fault-replicas', 'x'], /--fault-replicas: expected replica indices/],
      [['--admin-token', ''], /--admin-token: expected a token/],
    ]) {
      const p = new Proc(['sim', '--port', '0', ...args], noEnvToken);
      const r = await p.exit;
      assert.equal(r.code, 2, `${args.join(' ')}\n${p.output()}`);
      assert.equal(p.lines.stderr.filter((l) => l).length, 1, `one line for ${args.join(' ')}\n${p.output()}`);
      assert.match(p.lines.stderr[0], /^wellpath sim: /);
      assert.match(p.lines.stderr[0], want);
    }
  });

  test('test_sim_fault_admin_off_without_token', async (t) => {
    // No --admin-token and an empty WELLPATH_ADMIN_TOKEN: /admin/... is an unknown path.
    const proc = new Proc(['sim', '--port', '0', '--time-scale', '0.05', '--fault', '503:0'], noEnvToken);
    t.after(() => stopClean(assert, proc, 'wellpath sim'));
    const m = await proc.waitFor(/^wellpath sim: ready model=\S+ ports=(\d+)/);
    const sim = { ports: [Number(m[1])] };
    for (const [method, path] of [['GET', '/admin/faults'], ['PUT', '/admin/faults'], ['POST', '/admin/crash']]) {
      const r = await admin(sim.ports[0], method, path, { body: method === 'GET' ? undefined : {} });
      assert.equal(r.status, 404, `${method} ${path}`);
      assertErrorShape(assert, r.json, 404, `${method} ${path}`);
    }
    assert.equal((await completion(sim.ports[0])).status, 200);
  });

  test('test_sim_fault_seeded_per_replica', async (t) => {
    // The same seed gives the same faults, request by request; replicas draw apart.
    const statuses = async (seed) => {
      const sim = await startSim({ replicas: 2, args: ['--seed', String(seed), '--fault', '503:0.5'] });
      t.after(() => stopClean(assert, sim.proc, 'wellpath sim'));
      const out = [];
      for (const port of sim.ports) {
        const s = [];
        for (let i = 0; i < 24; i++) s.push((await completion(port, { max_tokens: 1 })).status);
        out.push(s.join(','));
      }
      return out;
    };
    const a = await statuses(7), b = await statuses(7), c = await statuses(8);
    assert.deepEqual(a, b, 'same seed, same draws');
    assert.notDeepEqual(a, c, 'another seed, other draws');
    assert.notEqual(a[0], a[1], 'each replica has its own stream');
    assert.ok(a[0].includes('503') && a[0].includes('200'), a[0]);
  });

  test('test_sim_fault_crash_by_flag_after_requests', async (t) => {
    const sim = await startSim({ replicas: 2, args: ['--fault', 'crash:1,after=2', '--fault-replicas', '1'] });
    t.after(() => stopClean(assert, sim.proc, 'wellpath sim'));
    const [p0, p1] = sim.ports;
    for (let i = 0; i < 2; i++) assert.equal((await completion(p1)).status, 200, `request ${i + 1} passes`);
    const got = await rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'the third', max_tokens: 3 });
    assert.equal(got, '', 'the crashing request gets no byte');
    await waitUntil(async () => !(await canConnect(p1)), { what: 'the crashed replica to refuse connections' });
    for (let i = 0; i < 5; i++) assert.equal((await completion(p0)).status, 200, 'the sibling keeps serving');
    assert.deepEqual(delta(Object.fromEntries(KINDS.map((k) => [k, 0])), await faultCounts(p0)), {});
    assert.equal(await canConnect(p1), false, 'no restart_ms: it stays down');
  });
});

describe('sim faults: topology keys', () => {
  const topology = () => `model: qwen3-8b
vllm:
  replicas: 2
simulation:
  basePort: 0
  timeScale: 0.05
  faults: ["500:1", "latency:0,ms=250"]
  adminToken: ${TOKEN}
`;

  test('test_sim_fault_topology_file_and_flags_over_it', async (t) => {
    const file = writeTemp(topology());
    const proc = new Proc(['sim', '-f', file, '--port', '0', '--fault', '429:1', '--fault-replicas', '1'], noEnvToken);
    t.after(() => stopClean(assert, proc, 'wellpath sim'));
    const m = await proc.waitFor(/^wellpath sim: ready model=\S+ ports=(\d+),(\d+)/);
    const [q0, q1] = [Number(m[1]), Number(m[2])];
    // The flags replace the file's faults, on the replicas they name; the file's token holds.
    assert.deepEqual((await admin(q1, 'GET', '/admin/faults')).json, { faults: [{ kind: '429', rate: 1 }] });
    assert.deepEqual((await admin(q0, 'GET', '/admin/faults')).json, { faults: [] });
    assert.equal((await completion(q1)).status, 429);
    assert.equal((await completion(q0)).status, 200);
  });

  test('test_sim_fault_topology_keys_through_up', async (t) => {
    const up = new Proc(['up', '-f', writeTemp(topology()), '--listen', '127.0.0.1:0'], noEnvToken);
    t.after(() => up.stop());
    await up.waitFor(/^wellpath up: ready gateway=/);
    const kids = childPids(up.pid);
    assert.equal(kids.length, 1);
    const ports = await waitUntil(() => {
      const p = listeningPorts(kids[0]);
      return p.length === 4 ? p : null;
    }, { what: 'the child to list its ports' });
    const sets = [];
    for (const port of ports) {
      try {
        const r = await admin(port, 'GET', '/admin/faults');
        sets.push(r.status === 200 ? r.json : r.status);
      } catch {
        /* the KV side channel does not speak HTTP */
      }
    }
    const want = { faults: [{ kind: '500', rate: 1 }, { kind: 'latency', rate: 0, ms: 250 }] };
    assert.deepEqual(sets, [want, want], 'every replica of the pool got the faults and the token');
    await stopClean(assert, up, 'wellpath up');
  });
});

describe('sim faults: admin endpoint and kinds', () => {
  let sim, p0, p1, p2;

  before(async () => {
    sim = await startSim({ replicas: 3, args: ['--admin-token', TOKEN, '--fault', '503:1', '--fault-replicas', '0'] });
    [p0, p1, p2] = sim.ports;
  });
  after(async () => {
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_sim_fault_flag_503_counted_exactly', async () => {
    const before0 = await faultCounts(p0), before1 = await faultCounts(p1);
    for (let i = 0; i < 10; i++) {
      const r = await completion(p0);
      assert.equal(r.status, 503);
      assertErrorShape(assert, r.json, 503, 'injected 503');
      assert.equal(r.json.error.type, 'ServiceUnavailableError');
    }
    for (let i = 0; i < 10; i++) assert.equal((await completion(p1)).status, 200, '--fault-replicas 0 spares replica 1');
    assert.deepEqual(delta(before0, await faultCounts(p0)), { 503: 10 });
    assert.deepEqual(delta(before1, await faultCounts(p1)), {});
    // Other routes are not subject to faults.
    assert.equal((await fetch(url(p0, '/health'))).status, 200);
    assert.equal((await fetch(url(p0, '/v1/models'))).status, 200);
  });

  test('test_sim_fault_admin_auth', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: TOKEN }, { Authorization: `Basic ${TOKEN}` }]) {
      for (const [method, path] of [['GET', '/admin/faults'], ['PUT', '/admin/faults'], ['DELETE', '/admin/faults'], ['POST', '/admin/crash']]) {
        const r = await admin(p0, method, path, { headers, body: method === 'GET' ? undefined : { faults: [] } });
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer');
        assertErrorShape(assert, r.json, 401, 'no or wrong token');
        assert.equal(r.json.error.type, 'AuthenticationError');
      }
    }
    assert.equal(await canConnect(p0), true, 'a refused crash order crashes nothing');
    const r = await admin(p0, 'GET', '/admin/faults');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { faults: [{ kind: '503', rate: 1 }] });
    assert.deepEqual((await admin(p1, 'GET', '/admin/faults')).json, { faults: [] });
    assert.equal((await admin(p0, 'POST', '/admin/faults', { body: {} })).status, 405);
    assert.equal((await admin(p0, 'GET', '/admin/nothing')).status, 404);
  });

  test('test_sim_fault_admin_bad_json_names_the_field', async () => {
    for (const [body, want] of [
      ['{"faults": [', /body: not valid JSON/],
      [{ faults: 'all' }, /faults: expected a list/],
      [{ faults: [{ kind: '503', rate: 2 }] }, /faults\[0\]\.rate/],
      [{ faults: [{ kind: 'hang' }, { kind: 'teapot' }] }, /faults\[1\]\.kind: unknown fault kind 'teapot'/],
      [{ faults: [{ kind: 'latency', ms: -3 }] }, /faults\[0\]: ms must be an integer/],
      [{ faults: [{ kind: '429', after: 1 }] }, /'after' is not a parameter of 429/],
      [{ fault: [] }, /fault: unknown field/],
    ]) {
      const r = await admin(p1, 'PUT', '/admin/faults', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assertErrorShape(assert, r.json, 400, JSON.stringify(body));
      assert.match(r.json.error.message, want);
    }
    assert.deepEqual((await admin(p1, 'GET', '/admin/faults')).json, { faults: [] }, 'a bad body changes nothing');
    const crash = await admin(p1, 'POST', '/admin/crash', { body: { restart_ms: 'soon' } });
    assert.equal(crash.status, 400);
    assert.match(crash.json.error.message, /restart_ms: expected a number/);
    assert.equal(await canConnect(p1), true);
  });

  test('test_sim_fault_errors_by_kind_at_run_time', async () => {
    for (const [kind, status, type] of [
      ['429', 429, 'RateLimitError'],
      ['500', 500, 'InternalServerError'],
      ['503', 503, 'ServiceUnavailableError'],
      ['context-length', 400, 'BadRequestError'],
    ]) {
      const set = await setFaults(p1, [{ kind, rate: 1 }]);
      assert.deepEqual(set, { faults: [{ kind, rate: 1 }] });
      const before1 = await faultCounts(p1);
      for (let i = 0; i < 10; i++) {
        const r = i % 2 ? await completion(p1) : await post(url(p1, '/v1/chat/completions'), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
        assert.equal(r.status, status, kind);
        assertErrorShape(assert, r.json, status, kind);
        assert.equal(r.json.error.type, type, kind);
        if (kind === 'context-length') {
          assert.match(r.json.error.message, /^This model's maximum context length is 32768 tokens\. However, you requested \d+ output tokens/);
          assert.equal(r.json.error.param, 'max_tokens');
        }
      }
      assert.deepEqual(delta(before1, await faultCounts(p1)), { [kind]: 10 }, kind);
    }
    const cleared = await admin(p1, 'DELETE', '/admin/faults');
    assert.equal(cleared.status, 200);
    assert.deepEqual(cleared.json, { faults: [] });
    assert.equal((await completion(p1)).status, 200, 'cleared: served again');
  });

  test('test_sim_fault_rate_zero_never', async () => {
    await setFaults(p1, KINDS.map((kind) => ({ kind, rate: 0 })));
    const before1 = await faultCounts(p1);
    for (let i = 0; i < 20; i++) {
      const r = await completion(p1);
      assert.equal(r.status, 200);
      assert.equal(r.json.usage.completion_tokens, 3);
    }
    assert.deepEqual(delta(before1, await faultCounts(p1)), {});
    await admin(p1, 'DELETE', '/admin/faults');
  });

  test('test_sim_fault_latency_before_first_byte', async () => {
    const ms = 400;
    await setFaults(p1, [{ kind: 'latency', rate: 1, ms }]);
    const before1 = await faultCounts(p1);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const r = await completion(p1);
      assert.equal(r.status, 200);
      assert.ok(performance.now() - t0 >= ms - 5, `answered after ${performance.now() - t0} ms`);
    }
    // With an error: the error comes after the delay.
    await setFaults(p1, [{ kind: 'latency', ms }, { kind: '500' }]);
    const t0 = performance.now();
    assert.equal((await completion(p1)).status, 500);
    assert.ok(performance.now() - t0 >= ms - 5);
    assert.deepEqual(delta(before1, await faultCounts(p1)), { latency: 4, 500: 1 });
    await admin(p1, 'DELETE', '/admin/faults');
  });

  test('test_sim_fault_hang_until_the_client_goes', async () => {
    await setFaults(p1, [{ kind: 'hang' }]);
    const before1 = await faultCounts(p1);
    const got = await Promise.all([0, 1, 2].map(() => rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'hang', max_tokens: 2 }, 1200)));
    assert.deepEqual(got, ['', '', ''], 'not a byte in 1.2 s');
    assert.deepEqual(delta(before1, await faultCounts(p1)), { hang: 3 });
    assert.equal((await fetch(url(p1, '/health'))).status, 200, 'the replica itself is fine');
    await admin(p1, 'DELETE', '/admin/faults');
    assert.equal((await completion(p1)).status, 200);
  });

  test('test_sim_fault_disconnect_mid_stream', async () => {
    await setFaults(p1, [{ kind: 'disconnect', after: 3 }]);
    const before1 = await faultCounts(p1);
    const chunks = (s) => (s.match(/data: \{/g) || []).length;
    // A stream longer than `after`: three chunks, then the connection closes.
    let got = await rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'cut', max_tokens: 10, stream: true });
    assert.match(got, /^HTTP\/1\.1 200/);
    assert.equal(chunks(got), 3, got);
    assert.ok(!got.includes('[DONE]') && !got.endsWith('0\r\n\r\n'), 'no [DONE], no last chunk');
    // Shorter than `after`: every token, then the close instead of the end.
    got = await rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'cut', max_tokens: 2, stream: true });
    assert.equal(chunks(got), 2, got);
    assert.ok(!got.includes('[DONE]') && !got.endsWith('0\r\n\r\n'));
    // Not streamed: nothing at all.
    got = await rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'cut', max_tokens: 10 });
    assert.equal(got, '');
    // fetch sees a broken body.
    const res = await fetch(url(p1, '/v1/chat/completions'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 8, stream: true }),
    });
    await assert.rejects(res.text());
    assert.deepEqual(delta(before1, await faultCounts(p1)), { disconnect: 4 });
    await admin(p1, 'DELETE', '/admin/faults');
    got = await rawPost(p1, '/v1/completions', { model: MODEL, prompt: 'whole', max_tokens: 4, stream: true });
    assert.ok(got.includes('data: [DONE]'), 'cleared: whole streams again');
  });

  test('test_sim_fault_crash_ordered_and_restart', async () => {
    // Some work first, so the restart visibly starts from an empty engine.
    for (let i = 0; i < 2; i++) assert.equal((await completion(p2)).status, 200);
    const prom0 = await metrics(url(p2, ''));
    assert.ok(sample(prom0, 'vllm:prompt_tokens_total') > 0);
    const before2 = await faultCounts(p2);
    // A stream in flight when the crash comes is cut.
    const inflight = rawPost(p2, '/v1/completions', { model: MODEL, prompt: 'long', max_tokens: 20000, stream: true }, 60000);
    await waitUntil(async () => sample(await metrics(url(p2, '')), 'vllm:num_requests_running') === 1, { what: 'the stream to run' });
    const r = await admin(p2, 'POST', '/admin/crash', { body: { restart_ms: 1500 } });
    assert.equal(r.status, 202);
    assert.deepEqual(r.json, { crash: true, restart_ms: 1500 });
    const cut = await inflight;
    assert.match(cut, /^HTTP\/1\.1 200/);
    assert.ok(!cut.includes('[DONE]'), 'the stream in flight ends without [DONE]');
    await waitUntil(async () => !(await canConnect(p2)), { what: 'the crashed replica to refuse connections' });
    // The siblings keep serving while it is down.
    for (const port of [p0, p1]) assert.equal((await fetch(url(port, '/health'))).status, 200);
    assert.equal((await completion(p1)).status, 200);
    // It comes back on the same port with an empty engine; its fault counts survive.
    await waitUntil(() => canConnect(p2), { timeout: 20000, what: 'the replica to restart' });
    const prom = await metrics(url(p2, ''));
    assert.equal(sample(prom, 'vllm:prompt_tokens_total'), 0, 'an empty engine');
    assert.equal(sample(prom, 'vllm:num_requests_running'), 0);
    assert.deepEqual(delta(before2, await faultCounts(p2)), { crash: 1 });
    assert.equal((await completion(p2)).status, 200);
    assert.equal((await admin(p2, 'GET', '/admin/faults')).status, 200, 'the admin endpoint is back too');
  });

  test('test_sim_fault_crash_drawn_with_restart', async () => {
    await setFaults(p2, [{ kind: 'crash', rate: 1, after: 1, restart_ms: 1000 }]);
    const before2 = await faultCounts(p2);
    assert.equal((await completion(p2)).status, 200, 'the first request passes');
    assert.equal(await rawPost(p2, '/v1/completions', { model: MODEL, prompt: 'second', max_tokens: 2 }), '');
    await waitUntil(async () => !(await canConnect(p2)), { what: 'the crash' });
    await waitUntil(() => canConnect(p2), { timeout: 20000, what: 'the restart' });
    // The request count starts over after a restart: one passes again, the next crashes.
    assert.equal((await completion(p2)).status, 200);
    assert.deepEqual(delta(before2, await faultCounts(p2)), { crash: 1 });
    assert.deepEqual((await admin(p2, 'DELETE', '/admin/faults')).json, { faults: [] });
    assert.equal((await completion(p2)).status, 200);
  });
});
