// Every engine behind the gateway, as docs/engines.md maps it: small node HTTP servers
// export each engine's real series (names and label shapes copied from the engine sources
// the doc cites: vLLM v1, SGLang, TensorRT-LLM's trtllm-serve, llama.cpp's llama-server,
// the latter with exactly its current set, which has no KV usage series), plus a
// llama-server started without --metrics (its /metrics answers 501). Each joins the pool;
// /status shows waiting, running, KV usage and the hit rate as the doc says; the 501 one
// joins on health alone with a warning on /status and one WARN line in the log; requests
// reach all of them. Then load: two llama-servers, one with both slots busy and nothing
// queued, one idle: the default scorers send new prefixes to the idle one.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, listenLocal, metrics, post, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

// Each engine's /metrics text for a state {waiting, running, kv, hits, queries}.
const EXPORTS = {
  vllm: {
    path: '/metrics',
    text: (s) => {
      const l = `{engine="0",model_name="${MODEL}"}`;
      return [
        '# HELP vllm:num_requests_running Number of requests in model execution batches.',
        '# TYPE vllm:num_requests_running gauge',
        `vllm:num_requests_running${l} ${s.running}.0`,
        '# TYPE vllm:num_requests_waiting gauge',
        `vllm:num_requests_waiting${l} ${s.waiting}.0`,
        '# TYPE vllm:kv_cache_usage_perc gauge',
        `vllm:kv_cache_usage_perc${l} ${s.kv}`,
        '# TYPE vllm:prefix_cache_queries counter',
        `vllm:prefix_cache_queries_total${l} ${s.queries}.0`,
        '# TYPE vllm:prefix_cache_hits counter',
        `vllm:prefix_cache_hits_total${l} ${s.hits}.0`,
        '# TYPE vllm:cache_config_info gauge',
        `vllm:cache_config_info{block_size="16",enable_prefix_caching="True",engine="0",num_gpu_blocks="4096"} 1.0`,
      ].join('\n');
    },
  },
  sglang: {
    path: '/metrics',
    text: (s) => {
      const l = `{engine_type="unified",model_name="${MODEL}",pp_rank="0",tp_rank="0"}`;
      return [
        '# HELP sglang:num_running_reqs The number of running requests.',
        '# TYPE sglang:num_running_reqs gauge',
        `sglang:num_running_reqs${l} ${s.running}.0`,
        `sglang:num_queue_reqs${l} ${s.waiting}.0`,
        `sglang:token_usage${l} ${s.kv}`,
        `sglang:cache_hit_rate${l} ${s.queries ? s.hits / s.queries : 0}`,
        '# TYPE sglang:prompt_tokens_total counter',
        `sglang:prompt_tokens_total{model_name="${MODEL}"} ${s.queries}.0`,
        '# TYPE sglang:cached_tokens_total counter',
        `sglang:cached_tokens_total{model_name="${MODEL}"} ${s.hits}.0`,
      ].join('\n');
    },
  },
  trtllm: {
    // trtllm-serve: Prometheus text on /prometheus/metrics; /metrics is JSON iteration stats.
    path: '/prometheus/metrics',
    json: (s) => JSON.stringify([{ numActiveRequests: s.running, numQueuedRequests: s.waiting }]),
    text: (s) => {
      const l = `{engine_type="trtllm",model_name="${MODEL}"}`;
      return [
        '# TYPE trtllm_num_requests_running gauge',
        `trtllm_num_requests_running${l} ${s.running}.0`,
        `trtllm_num_requests_waiting${l} ${s.waiting}.0`,
        `trtllm_kv_cache_utilization${l} ${s.kv}`,
        `trtllm_kv_cache_hit_rate${l} ${s.queries ? s.hits / s.queries : 0}`,
        '# TYPE trtllm_kv_cache_reused_blocks counter',
        `trtllm_kv_cache_reused_blocks_total${l} ${s.hits}.0`,
        '# TYPE trtllm_kv_cache_missed_blocks counter',
        `trtllm_kv_cache_missed_blocks_total${l} ${s.queries - s.hits}.0`,
      ].join('\n');
    },
  },
  llamacpp: {
    // Exactly the current llama-server set (server_task_result_metrics::to_metrics): no
    // KV usage; prompt_tokens_total counts the tokens processed, cached ones excluded.
    path: '/metrics',
    text: (s) => {
      const c = [
        ['prompt_tokens_total', s.queries - s.hits], ['prompt_tokens_cached_total', s.hits],
        ['prompt_seconds_total', 0.5], ['tokens_predicted_total', 40], ['tokens_predicted_seconds_total', 0.2],
        ['n_decode_total', 50], ['n_tokens_max', 900], ['spec_decode_num_draft_tokens_total', 0],
        ['spec_decode_num_accepted_tokens_total', 0], ['spec_decode_num_drafts_total', 0],
      ];
      const g = [
        ['prompt_tokens_seconds', 1200], ['predicted_tokens_seconds', 200],
        ['requests_processing', s.running], ['requests_deferred', s.waiting], ['n_busy_slots_per_decode', 1],
      ];
      const out = [];
      for (const [type, items] of [['counter', c], ['gauge', g]])
        for (const [n, v] of items) out.push(`# HELP llamacpp:${n} ${n}`, `# TYPE llamacpp:${n} ${type}`, `llamacpp:${n} ${v}`);
      return out.join('\n');
    },
  },
};

// A model server look-alike for `engine`; state fields can be changed while it runs.
// noMetrics: /metrics answers as llama-server without --metrics does (501).
function fakeEngine(engine, state, { noMetrics = false } = {}) {
  const s = { engine, state, completions: 0, scrapes: 0 };
  const ex = EXPORTS[engine];
  s.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') return res.end('{"status":"ok"}');
      if (req.url === '/v1/models') return res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] }));
      if (req.url === ex.path || req.url === '/metrics') {
        s.scrapes++;
        if (noMetrics) {
          res.statusCode = 501;
          return res.end('{"error":{"code":501,"message":"This server does not support metrics endpoint. Start it with `--metrics`","type":"not_supported_error"}}');
        }
        if (req.url !== ex.path) return res.end(ex.json ? ex.json(s.state) : '');
        res.setHeader('Content-Type', 'text/plain; version=0.0.4');
        return res.end(ex.text(s.state) + '\n');
      }
      s.completions++;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ id: 'cmpl-x', object: 'text_completion', model: MODEL, choices: [{ index: 0, text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
  });
  return listenLocal(s);
}

async function startGatewayFor(servers) {
  const eps = servers.map((s) => `  - {url: "http://127.0.0.1:${s.port}", name: ${s.name}, engine: ${s.engine}}`).join('\n');
  const file = writeTemp(`endpoints:\n${eps}\n`);
  const proc = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0']);
  const m = await proc.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const url = `http://127.0.0.1:${m[1]}`;
  await waitUntil(async () => {
    const prom = await metrics(url);
    return servers.every((s) => sample(prom, 'wellpath_endpoint_healthy', { endpoint: s.name }) === 1);
  }, { timeout: 20000, what: 'every engine to join the pool' });
  return { proc, url };
}

const status = async (url) => Object.fromEntries((await (await fetch(`${url}/status`)).json()).endpoints.map((e) => [e.name, e]));

describe('every engine behind the gateway', () => {
  const servers = [];
  let gw;
  before(async () => {
    const mk = async (name, engine, state, opts) => {
      const s = await fakeEngine(engine, state, opts);
      s.name = name;
      servers.push(s);
      return s;
    };
    await mk('vllm', 'vllm', { waiting: 1, running: 3, kv: 0.25, hits: 40, queries: 100 });
    await mk('sglang', 'sglang', { waiting: 2, running: 4, kv: 0.5, hits: 300, queries: 1000 });
    await mk('trtllm', 'trtllm', { waiting: 0, running: 5, kv: 0.75, hits: 30, queries: 40 });
    await mk('llamacpp', 'llamacpp', { waiting: 1, running: 2, kv: 0, hits: 700, queries: 1000 });
    await mk('llamacpp-nometrics', 'llamacpp', {}, { noMetrics: true });
    gw = await startGatewayFor(servers);
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const s of servers) s.server.close();
  });

  test('test_engines_signals_read_as_the_doc_says', async () => {
    const st = await waitUntil(async () => {
      const x = await status(gw.url);
      return x.llamacpp.running === 2 && x.trtllm.running === 5 ? x : null;
    }, { what: 'scraped values on /status' });
    const pick = (e) => [e.waiting, e.running, e.kv_usage, e.cache_hit_rate];
    assert.deepEqual(pick(st.vllm), [1, 3, 0.25, 0.4]);
    assert.deepEqual(pick(st.sglang), [2, 4, 0.5, 0.3]);
    assert.deepEqual(pick(st.trtllm), [0, 5, 0.75, 0.75]);
    // llama.cpp: no KV usage series (null, unknown); hits 700 of 300 + 700 prompt tokens.
    assert.deepEqual(pick(st.llamacpp), [1, 2, null, 0.7]);
    for (const n of ['vllm', 'sglang', 'trtllm']) assert.equal(st[n].warning, '', n);
    assert.match(st.llamacpp.warning, /llamacpp:kv_cache_usage_ratio/);
    // The gateway's hit rate sums every engine's counters: (40+300+30+700)/(100+1000+40+1000).
    const prom = await metrics(gw.url);
    assert.ok(Math.abs(sample(prom, 'wellpath_gateway_cache_hit_rate') - 1070 / 2140) < 1e-9);
    assert.equal(sample(prom, 'wellpath_endpoint_prefix_cache_hits_total', { endpoint: 'llamacpp' }), 700);
    // Unknown is no sample, not a false 0: llama.cpp has no KV usage series.
    assert.equal(sample(prom, 'wellpath_endpoint_kv_usage', { endpoint: 'vllm' }), 0.25);
    assert.equal(sample(prom, 'wellpath_endpoint_kv_usage', { endpoint: 'llamacpp' }), undefined);
    // TensorRT-LLM was scraped on /prometheus/metrics, not on its JSON /metrics.
    assert.ok(servers.find((s) => s.name === 'trtllm').scrapes > 0);
  });

  test('test_engines_501_joins_with_a_warning', async () => {
    const st = await status(gw.url);
    const e = st['llamacpp-nometrics'];
    assert.equal(e.healthy, true);
    assert.match(e.warning, /HTTP 501/);
    assert.match(e.warning, /start llama-server with --metrics/);
    const warns = gw.proc.lines.stderr.filter((l) => /level=warn/.test(l) && /endpoint=llamacpp-nometrics/.test(l));
    assert.equal(warns.length, 1, `one WARN line for the endpoint:\n${warns.join('\n')}`);
    assert.match(warns[0], /--metrics/);
    // Never left the pool: no "left the pool" line for any endpoint.
    assert.ok(!gw.proc.lines.stderr.some((l) => /left the pool/.test(l)), gw.proc.output());
  });

  test('test_engines_requests_reach_every_engine', async () => {
    // Idle everywhere (the load scorer would otherwise rightly prefer the least loaded).
    for (const s of servers) Object.assign(s.state, { waiting: 0, running: 0 });
    await waitUntil(async () => Object.values(await status(gw.url)).every((e) => !e.running), { what: 'idle scrapes' });
    for (let i = 0; i < 60; i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: `request ${i} ${'x'.repeat(20)}`, max_tokens: 1 });
      assert.equal(r.status, 200, r.text);
    }
    for (const s of servers) assert.ok(s.completions > 0, `${s.name} got no request`);
  });
});

describe('load seen the same way on llama.cpp', () => {
  const servers = [];
  let gw;
  before(async () => {
    for (const [name, running] of [['busy', 2], ['idle', 0]]) {
      const s = await fakeEngine('llamacpp', { waiting: 0, running, kv: 0, hits: 0, queries: 0 });
      s.name = name;
      servers.push(s);
    }
    gw = await startGatewayFor(servers);
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const s of servers) s.server.close();
  });

  test('test_engines_new_prefixes_go_to_the_idle_server', async () => {
    await waitUntil(async () => (await status(gw.url)).busy.running === 2, { what: 'the busy server scraped' });
    // Both slots busy and nothing deferred: the default scorers (prefix-aware + load-aware)
    // must not tie it with the idle one.
    for (let i = 0; i < 12; i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: `fresh prefix ${i} `.repeat(30), max_tokens: 1 });
      assert.equal(r.status, 200, r.text);
    }
    assert.deepEqual([servers[0].completions, servers[1].completions], [0, 12]);
  });
});
