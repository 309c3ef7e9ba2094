// Path 3 in the simulator (src/sim, engine/group): `wellpath sim --data-parallel N` serves a
// wide-EP group of N data-parallel ranks of a MoE model. Each rank has its own port and is
// also reachable through X-data-parallel-rank on the group's ports; /metrics carries vLLM's
// `engine` label (the base port every rank, another port its own); the ranks step in lock
// step (an idle rank steps too); a rank that dies leaves the others serving, and its
// requests end, also those that came through another rank's port; P/D works per rank, each
// with its own KV side channel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import net from 'node:net';

import { Proc, assertErrorShape, metrics, post, sample, stopClean, waitUntil } from '../lib/wellpath.mjs';

const MOE = 'Qwen/Qwen3-30B-A3B';
const TOKEN = 'wide-ep-token';
const url = (port, path) => `http://127.0.0.1:${port}${path}`;

async function startGroup(ranks, args = []) {
  const p = new Proc(['sim', '--model', 'qwen3-30b-a3b', '--data-parallel', String(ranks), '--port', '0', '--time-scale', '0.02', ...args], { env: { WELLPATH_ADMIN_TOKEN: '' } });
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=([\d,]+) kv_ports=([\d,]+)/);
  return { proc: p, ports: m[2].split(',').map(Number), kvPorts: m[3].split(',').map(Number) };
}

const complete = (port, body = {}, headers = {}) =>
  post(url(port, '/v1/completions'), { model: MOE, prompt: 'a wide expert parallel group', max_tokens: 4, ...body }, { headers });

const byEngine = (prom, name) =>
  Object.fromEntries(prom.filter((s) => s.name === name).map((s) => [s.labels.engine, s.value]));

describe('wide-EP group in wellpath sim', () => {
  test('test_wide_ep_rank_ports_header_and_metrics', async (t) => {
    const g = await startGroup(4);
    t.after(() => stopClean(assert, g.proc, 'wellpath sim'));
    assert.equal(g.ports.length, 4);
    assert.equal(new Set(g.kvPorts).size, 4, 'one KV side channel per rank');

    // Its own port: rank 2.
    let r = await complete(g.ports[2]);
    assert.equal(r.status, 200, r.text);
    // The header on the base port: rank 3, twice.
    for (let i = 0; i < 2; i++) {
      r = await complete(g.ports[0], { prompt: `rank three ${i}` }, { 'X-data-parallel-rank': '3' });
      assert.equal(r.status, 200, r.text);
    }
    const base = await metrics(url(g.ports[0], ''));
    const success = Object.fromEntries(
      base.filter((s) => s.name === 'vllm:request_success_total' && s.labels.finished_reason === 'length').map((s) => [s.labels.engine, s.value]));
    assert.deepEqual(success, { 0: 0, 1: 0, 2: 1, 3: 2 }, 'the base port reports every rank, each under its engine label');
    // Another rank's port reports that rank alone.
    const own = await metrics(url(g.ports[3], ''));
    assert.deepEqual(Object.keys(byEngine(own, 'vllm:num_requests_running')), ['3']);
    assert.equal(sample(own, 'vllm:request_success_total', { finished_reason: 'length' }), 2);
    // Lock step: the ranks that had nothing to do stepped with the busy ones.
    const steps = byEngine(base, 'wellpath_sim_steps_total');
    assert.ok(steps[2] > 0, JSON.stringify(steps));
    assert.equal(new Set(Object.values(steps)).size, 1, `every rank steps every group step: ${JSON.stringify(steps)}`);
    // A family is written once, its samples together (Prometheus text format).
    const text = await (await fetch(url(g.ports[0], '/metrics'))).text();
    assert.equal(text.match(/^# TYPE vllm:num_requests_running /gm).length, 1);

    // Bad headers: a 400 naming the header; nothing reaches an engine.
    for (const bad of ['4', '-1', 'two', '1x']) {
      r = await complete(g.ports[1], {}, { 'X-data-parallel-rank': bad });
      assertErrorShape(assert, r.json, 400, `rank ${bad}`);
      assert.match(r.json.error.message, /X-data-parallel-rank: expected a rank 0\.\.3/);
    }
  });

  test('test_wide_ep_rank_dies_others_serve', async (t) => {
    const g = await startGroup(4, ['--admin-token', TOKEN]);
    t.after(() => stopClean(assert, g.proc, 'wellpath sim'));
    // A long stream on rank 1 through the base port: its connection is rank 0's.
    const ctl = new AbortController();
    const res = await fetch(url(g.ports[0], '/v1/completions'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-data-parallel-rank': '1' },
      body: JSON.stringify({ model: MOE, prompt: 'a long answer', max_tokens: 5000, stream: true }),
      signal: ctl.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    await reader.read(); // the stream has started
    const ended = (async () => { try { while (!(await reader.read()).done); return 'closed'; } catch { return 'cut'; } })();

    const crash = await fetch(url(g.ports[1], '/admin/crash'), {
      method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ restart_ms: -1 }),
    });
    assert.equal(crash.status, 202);
    assert.ok(['closed', 'cut'].includes(await ended), 'the stream of the crashed rank ended');
    // The others serve, by port and by header; the dead rank is a 503 through the header.
    await waitUntil(async () => (await complete(g.ports[0], {}, { 'X-data-parallel-rank': '1' })).status === 503,
      { what: 'rank 1 to be down' });
    for (const [port, hdr] of [[g.ports[0], {}], [g.ports[2], {}], [g.ports[0], { 'X-data-parallel-rank': '3' }]]) {
      const r = await complete(port, {}, hdr);
      assert.equal(r.status, 200, r.text);
    }
    const r = await complete(g.ports[0], {}, { 'X-data-parallel-rank': '1' });
    assertErrorShape(assert, r.json, 503, 'dead rank');
    assert.match(r.json.error.message, /data-parallel rank 1 is down/);
  });

  test('test_wide_ep_pd_per_rank', async (t) => {
    const pf = await startGroup(2, ['--role', 'prefill']);
    t.after(() => stopClean(assert, pf.proc, 'prefill sim'));
    const dec = await startGroup(2, ['--role', 'decode']);
    t.after(() => stopClean(assert, dec.proc, 'decode sim'));
    const prompt = 'disaggregated prefill on one rank, decode on another '.repeat(8);
    const kvReq = { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null };
    let r = await complete(pf.ports[0], { prompt, max_tokens: 1, kv_transfer_params: kvReq }, { 'X-data-parallel-rank': '1' });
    assert.equal(r.status, 200, r.text);
    const kv = r.json.kv_transfer_params;
    assert.equal(kv.remote_port, pf.kvPorts[1], 'the KV side channel of the rank that prefilled');
    assert.equal(kv.remote_engine_id, `sim-${pf.ports[1]}`);
    r = await complete(dec.ports[1], { prompt, max_tokens: 3, kv_transfer_params: kv });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.prompt_tokens_details.cached_tokens, r.json.usage.prompt_tokens, 'the decode rank pulled the whole prompt');
    const pulls = await metrics(url(dec.ports[0], ''));
    assert.equal(sample(pulls, 'wellpath_sim_kv_pulls_total', { engine: '1', result: 'ok' }), 1);
    assert.equal(sample(pulls, 'wellpath_sim_kv_pulls_total', { engine: '0', result: 'ok' }), 0);
  });

  // A rank whose KV is full of blocks held for remote decodes cannot run a new prompt: the
  // group does not spin on empty steps (its /metrics answer, the request waits), and the
  // request runs once the held blocks expire.
  test('test_wide_ep_blocked_rank_waits_without_spinning', async (t) => {
    const g = await startGroup(2, ['--role', 'prefill', '--gpu-memory-utilization', '0.5', '--kv-timeout-ms', '1500']);
    t.after(() => stopClean(assert, g.proc, 'wellpath sim'));
    const kvReq = { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null };
    const word = (i) => `w${i} `;
    const text = (n, tag) => Array.from({ length: n }, (_, i) => word(i) + tag).join(' ');
    for (const tag of ['a', 'b']) {
      const r = await complete(g.ports[0], { prompt: text(10000, tag), max_tokens: 1, kv_transfer_params: kvReq });
      assert.equal(r.status, 200, r.text);
    }
    const blocked = complete(g.ports[0], { prompt: text(6000, 'c'), max_tokens: 2 });
    await waitUntil(async () => sample(await metrics(url(g.ports[0], '')), 'vllm:num_requests_waiting', { engine: '0' }) === 1,
      { what: 'the third request waiting for blocks, with /metrics answering' });
    const r = await blocked;
    assert.equal(r.status, 200, r.text);
  });

  // A crash fault drawn by a rank for a request that came through another rank's port: the
  // request's connection is cut as the rank's own are, not left hanging.
  test('test_wide_ep_crash_fault_cuts_a_routed_request', async (t) => {
    const g = await startGroup(2, ['--fault', 'crash,restart_ms=-1', '--fault-replicas', '1']);
    t.after(() => stopClean(assert, g.proc, 'wellpath sim'));
    const outcome = await complete(g.ports[0], {}, { 'X-data-parallel-rank': '1' }).then((r) => `status ${r.status}`, () => 'cut');
    assert.equal(outcome, 'cut');
    const r = await complete(g.ports[0]);
    assert.equal(r.status, 200, 'rank 0 serves on');
  });

  // Stopping a group while one rank streams and another pulls KV from a prefill server that
  // never answers: every record is freed once (the ASan build checks), exit status 0.
  test('test_wide_ep_stop_with_a_pull_in_flight', async (t) => {
    const silent = net.createServer(() => {});
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => silent.close());
    const g = await startGroup(2, ['--role', 'decode']);
    const ctl = new AbortController();
    const res = await fetch(url(g.ports[1], '/v1/completions'), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: ctl.signal,
      body: JSON.stringify({ model: MOE, prompt: 'a long stream', max_tokens: 5000, stream: true }),
    });
    await res.body.getReader().read();
    const kv = { do_remote_prefill: true, do_remote_decode: false, remote_engine_id: 'sim-1', remote_block_ids: [0],
      remote_request_id: '1', remote_host: '127.0.0.1', remote_port: silent.address().port, tp_size: 1 };
    const pulling = complete(g.ports[1], { prompt: 'decode after a pull', kv_transfer_params: kv }, { 'X-data-parallel-rank': '1' }).catch(() => null);
    await waitUntil(async () => {
      const m = await metrics(url(g.ports[1], ''));
      return sample(m, 'vllm:num_requests_running', { engine: '1' }) === 1;
    }, { what: 'the stream running' });
    await stopClean(assert, g.proc, 'wellpath sim');
    ctl.abort();
    await pulling;
  });

  test('test_wide_ep_bad_setups_exit_2', async () => {
    for (const [args, want] of [
      [['--model', 'qwen3-8b', '--data-parallel', '4'], /dense/i],
      [['--model', 'qwen3-30b-a3b', '--data-parallel', '4', '--tp', '2'], /wide-EP ranks run at tensor parallel 1/],
      [['--model', 'qwen3-30b-a3b', '--data-parallel', '5'], /5/],
      [['--model', 'qwen3-30b-a3b', '--data-parallel', '32', '--replicas', '33'], /replicas x data parallel must be 1\.\.1024, got 33 x 32/],
    ]) {
      const p = new Proc(['sim', '--port', '0', ...args]);
      const r = await p.exit;
      assert.equal(r.code, 2, `${args.join(' ')}\n${p.output()}`);
      assert.match(p.output(), want);
    }
  });
});
