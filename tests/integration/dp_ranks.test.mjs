// Data-parallel ranks of a wide-EP group behind one shared port (docs/topology.md): a node
// upstream plays a vLLM server whose /metrics reports two engines (engine="0" and
// engine="1") and that records the X-data-parallel-rank header of every completion it
// gets. The gateway lists it twice, as rank 0 and rank 1 of group "g". Checked: every
// request reaches the upstream with the rank of the endpoint the gateway chose, once (a
// client's own header is replaced, never passed on); each endpoint's waiting, running and
// KV usage on /status and /metrics are its engine's numbers; /status and /metrics name the
// group and the rank; rank-balance sends requests held in flight to the rank holding fewer
// prompt tokens; in a P/D pool the prefill stage goes out with the prefill rank's header and
// the decode stage with the decode rank's, and an endpoint without a rank gets the client's
// own header unchanged.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, listenLocal, metrics, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

// Each engine's state, as the shared port's /metrics reports it.
const ENGINES = {
  0: { waiting: 5, running: 2, kv: 0.25 },
  1: { waiting: 1, running: 7, kv: 0.5 },
};

function metricsText() {
  const lines = ['# TYPE vllm:num_requests_running gauge'];
  for (const [rank, s] of Object.entries(ENGINES)) {
    const l = `{engine="${rank}",model_name="${MODEL}"}`;
    lines.push(`vllm:num_requests_running${l} ${s.running}.0`, `vllm:num_requests_waiting${l} ${s.waiting}.0`, `vllm:kv_cache_usage_perc${l} ${s.kv}`);
  }
  return lines.join('\n') + '\n';
}

// The upstream. Completions are recorded ({id, ranks: every X-data-parallel-rank value it
// got, prefill: the body asked for a remote decode}) and answered at once, or held while
// `hold` is true (release() answers the held ones).
function fakeRanks() {
  const s = { calls: [], held: [], hold: false };
  const answer = (res, body) => {
    const out = { id: 'cmpl-dp', object: 'text_completion', created: 1, model: MODEL, choices: [{ index: 0, text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    if (body.kv_transfer_params?.do_remote_decode)
      out.kv_transfer_params = { do_remote_prefill: true, do_remote_decode: false, remote_block_ids: [1], remote_engine_id: 'e0', remote_request_id: 'r', remote_host: '127.0.0.1', remote_port: 1, tp_size: 1 };
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(out));
  };
  s.release = () => {
    for (const [res, body] of s.held.splice(0)) answer(res, body);
  };
  s.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/health') return res.end();
      if (req.url === '/v1/models') return res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] }));
      if (req.url === '/metrics') {
        res.setHeader('Content-Type', 'text/plain; version=0.0.4');
        return res.end(metricsText());
      }
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      const ranks = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        if (req.rawHeaders[i].toLowerCase() === 'x-data-parallel-rank') ranks.push(req.rawHeaders[i + 1]);
      s.calls.push({ id: req.headers['x-request-id'], ranks, prefill: Boolean(body.kv_transfer_params?.do_remote_decode) });
      if (s.hold) s.held.push([res, body]);
      else answer(res, body);
    });
  });
  return listenLocal(s);
}

async function startGateway(yaml, names) {
  const proc = new Proc(['gateway', '-f', writeTemp(yaml), '--listen', '127.0.0.1:0']);
  const m = await proc.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const url = `http://127.0.0.1:${m[1]}`;
  await waitUntil(async () => {
    const prom = await metrics(url);
    return names.every((n) => sample(prom, 'wellpath_endpoint_healthy', { endpoint: n }) === 1);
  }, { timeout: 20000, what: 'both ranks to join the pool' });
  return { proc, url };
}

const status = async (url) => Object.fromEntries((await (await fetch(`${url}/status`)).json()).endpoints.map((e) => [e.name, e]));

async function complete(url, id, headers = {}) {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Request-Id': id, ...headers },
    body: JSON.stringify({ model: MODEL, prompt: 'one two three four', max_tokens: 4 }),
  });
  const json = await res.json();
  return { status: res.status, endpoint: res.headers.get('x-wellpath-endpoint'), json };
}

describe('data-parallel ranks on one shared port', () => {
  let up;
  let gw;
  before(async () => {
    up = await fakeRanks();
    const yaml = [
      'inferenceScheduler:',
      '  scorers:',
      '    - {type: rank-balance, weight: 1}',
      'endpoints:',
      `  - {url: "http://127.0.0.1:${up.port}", name: r0, dataParallelRank: 0, group: g}`,
      `  - {url: "http://127.0.0.1:${up.port}", name: r1, dataParallelRank: 1, group: g}`,
      '',
    ].join('\n');
    gw = await startGateway(yaml, ['r0', 'r1']);
  });
  after(async () => {
    if (up) up.release();
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (up) up.server.close();
  });

  test('test_dp_ranks_each_endpoint_reads_its_engine', async () => {
    const st = await waitUntil(async () => {
      const x = await status(gw.url);
      return x.r0.running === 2 && x.r1.running === 7 ? x : null;
    }, { what: "each rank's scraped numbers on /status" });
    const view = (e) => [e.waiting, e.running, e.kv_usage];
    assert.deepEqual(view(st.r0), [5, 2, 0.25]);
    assert.deepEqual(view(st.r1), [1, 7, 0.5]);
    assert.deepEqual([st.r0.group, st.r0.data_parallel_rank, st.r1.group, st.r1.data_parallel_rank], ['g', 0, 'g', 1]);
    const prom = await metrics(gw.url);
    for (const [name, rank] of [['r0', 0], ['r1', 1]]) {
      assert.equal(sample(prom, 'wellpath_endpoint_waiting', { endpoint: name }), ENGINES[rank].waiting);
      assert.equal(sample(prom, 'wellpath_endpoint_running', { endpoint: name }), ENGINES[rank].running);
      assert.equal(sample(prom, 'wellpath_endpoint_kv_usage', { endpoint: name }), ENGINES[rank].kv);
      assert.equal(sample(prom, 'wellpath_endpoint_info', { endpoint: name, group: 'g', data_parallel_rank: String(rank) }), 1);
    }
  });

  test('test_dp_ranks_header_is_the_chosen_rank', async () => {
    const seen = { r0: 0, r1: 0 };
    for (let i = 0; i < 12; i++) {
      const id = `dp-seq-${i}`;
      // Every other request carries a rank of its own: the gateway's replaces it.
      const r = await complete(gw.url, id, i % 2 ? { 'X-data-parallel-rank': '9' } : {});
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const call = up.calls.find((c) => c.id === id);
      assert.ok(call, `upstream never saw ${id}`);
      assert.deepEqual(call.ranks, [r.endpoint === 'r0' ? '0' : '1'], `${id} went to ${r.endpoint}`);
      seen[r.endpoint]++;
    }
    assert.equal(seen.r0 + seen.r1, 12);
  });

  // Requests held in flight: each pick sees the prompt tokens already on each rank, so the
  // four (equal prompts) are spread two and two.
  test('test_dp_ranks_rank_balance_spreads_held_requests', async () => {
    up.hold = true;
    const ids = [0, 1, 2, 3].map((i) => `dp-held-${i}`);
    const done = [];
    for (const id of ids) {
      done.push(complete(gw.url, id));
      await waitUntil(() => up.held.length === done.length, { what: `${id} to reach the upstream` });
    }
    const st = await status(gw.url);
    assert.deepEqual([st.r0.in_flight, st.r1.in_flight], [2, 2]);
    assert.equal(st.r0.tokens_in_flight, st.r1.tokens_in_flight);
    assert.ok(st.r0.tokens_in_flight > 0);
    up.hold = false;
    up.release();
    const answers = await Promise.all(done);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    const ranks = ids.map((id) => up.calls.find((c) => c.id === id).ranks.join(','));
    assert.deepEqual(ranks.filter((r) => r === '0').length, 2, ranks.join(' '));
    assert.deepEqual(ranks.filter((r) => r === '1').length, 2, ranks.join(' '));
    const after = await status(gw.url);
    assert.deepEqual([after.r0.tokens_in_flight, after.r1.tokens_in_flight], [0, 0]);
  });
});

describe('data-parallel ranks in a P/D pool', () => {
  let up;
  let gw;
  before(async () => {
    up = await fakeRanks();
    // prefix-aware alone, on prompts of no full block: every decode pick is a tie.
    const yaml = [
      'inferenceScheduler:',
      '  pdThreshold: 1',
      '  scorers:',
      '    - {type: prefix-aware, weight: 1}',
      'endpoints:',
      `  - {url: "http://127.0.0.1:${up.port}", name: pf, role: prefill, dataParallelRank: 0}`,
      `  - {url: "http://127.0.0.1:${up.port}", name: dec, role: decode, dataParallelRank: 1}`,
      `  - {url: "http://127.0.0.1:${up.port}", name: plain, role: decode}`,
      '',
    ].join('\n');
    gw = await startGateway(yaml, ['pf', 'dec', 'plain']);
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (up) up.server.close();
  });

  // The prefill stage goes out with the prefill rank's header, the decode stage with the
  // decode rank's, both in place of the client's; an endpoint with no rank gets the
  // client's header as it was sent.
  test('test_dp_ranks_prefill_and_decode_stages_carry_their_rank', async () => {
    const seen = new Set();
    for (let i = 0; i < 24 && seen.size < 2; i++) {
      const id = `dp-pd-${i}`;
      const r = await complete(gw.url, id, { 'X-data-parallel-rank': '5' });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      seen.add(r.endpoint);
      const calls = up.calls.filter((c) => c.id === id);
      const decode = r.endpoint === 'dec' ? ['1'] : ['5'];
      assert.deepEqual(calls.map((c) => [c.prefill, c.ranks]), [[true, ['0']], [false, decode]], `${id} decoded on ${r.endpoint}`);
    }
    assert.deepEqual([...seen].sort(), ['dec', 'plain']);
    const st = await status(gw.url);
    assert.equal(st.pf.group, `127.0.0.1:${up.port}`); // a rank without a group: its host:port
    assert.equal(st.plain.group, null);
    assert.equal(st.plain.data_parallel_rank, null);
  });
});
