// A real Prometheus against `wellpath up`: it scrapes the gateway and the simulated
// servers every second and evaluates a test copy of deploy/prometheus/wellpath-rules.yml
// (`for:` shortened to 2 s, windows to 10 s). An overload (streaming requests with long
// prompts on two replicas that run two sequences each) pushes the gateway's TTFT p95 above
// 200 ms: HighTTFT{source="gateway"} must go pending, then firing, through Prometheus's
// HTTP API, and resolve once the load stops. Before that, the gateway's /metrics is checked
// for the series issue 6 adds (model label, cache hit rate, the guide's opt-in names).
//
// Needs /usr/bin/prometheus (Debian package prometheus; `make test` installs it): without
// it the test fails and says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { MODEL, Proc, childPids, freePort, listeningPorts, metrics, post, randomText, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RULES = path.resolve(here, '../../deploy/prometheus/wellpath-rules.yml');
const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';

const TOPOLOGY = `model: qwen3-8b
gpu: h100
vllm:
  replicas: 2
  maxNumSeqs: 2
gateway:
  guideMetrics: true
simulation:
  basePort: 0
  timeScale: 1
`;

let up;
let prom;
let gw; // http://127.0.0.1:port
let simPorts = [];
let promBase;
let storage;

// The shipped rules with `for:` durations and range windows made short enough for a test.
function testRules(text) {
  const out = text.replace(/^(\s*for:\s*)\S+/gm, '$12s').replace(/\[(\d+[smh])\]/g, '[10s]');
  assert.notEqual(out, text, 'the rules file has for: clauses and windows to shorten');
  return out;
}

function promConfig(rulesFile) {
  const gwTarget = gw.replace('http://', '');
  const sims = simPorts.map((p) => `"127.0.0.1:${p}"`).join(', ');
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - ${rulesFile}
scrape_configs:
  - job_name: wellpath-gateway
    static_configs:
      - targets: ["${gwTarget}"]
  - job_name: vllm
    static_configs:
      - targets: [${sims}]
`;
}

async function promGet(p) {
  const res = await fetch(`${promBase}${p}`, { signal: AbortSignal.timeout(5000) });
  const json = await res.json();
  assert.equal(json.status, 'success', `${p}: ${JSON.stringify(json)}`);
  return json.data;
}

async function highTtft(source) {
  const data = await promGet('/api/v1/alerts');
  return data.alerts.find((a) => a.labels.alertname === 'HighTTFT' && a.labels.source === source);
}

// Keeps `concurrency` streamed requests with long prompts in flight until stopped.
function overload(concurrency) {
  const ctl = new AbortController();
  let done = 0;
  let failed = 0;
  const one = async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await fetch(`${gw}/v1/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ model: MODEL, prompt: randomText(12000), max_tokens: 24, stream: true }),
          signal: ctl.signal,
        });
        await res.text();
        if (res.status === 200) done++;
        else failed++;
      } catch {
        if (!ctl.signal.aborted) failed++;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, one);
  return {
    stats: () => ({ done, failed }),
    stop: async () => {
      ctl.abort();
      await Promise.allSettled(workers);
    },
  };
}

before(async () => {
  assert.ok(
    fs.existsSync(PROMETHEUS),
    `${PROMETHEUS} not found: install the Debian package prometheus (scripts/install-deps.sh, run by make test)`,
  );
  up = new Proc(['up', '-f', writeTemp(TOPOLOGY), '--listen', '127.0.0.1:0']);
  const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=2\/2/);
  gw = m[1];
  // The simulated servers' HTTP ports: those of the child that answer /metrics (the
  // others are the KV side channels).
  const kids = childPids(up.pid);
  assert.equal(kids.length, 1, 'one child sim process');
  const ports = await waitUntil(() => {
    const p = listeningPorts(kids[0]);
    return p.length === 4 ? p : null;
  }, { what: 'the sim to list its ports' });
  for (const p of ports) {
    try {
      const r = await fetch(`http://127.0.0.1:${p}/metrics`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200 && (await r.text()).includes('vllm:num_requests_running')) simPorts.push(p);
    } catch {
      /* a KV side channel */
    }
  }
  assert.equal(simPorts.length, 2, `two sim HTTP ports among ${ports}`);
});

after(async () => {
  if (prom) {
    const r = await prom.stop({ signal: 'SIGTERM' });
    assert.equal(r.code, 0, `prometheus exit\n${prom.output()}`);
  }
  if (up) await stopClean(assert, up, 'wellpath up');
  if (storage) fs.rmSync(storage, { recursive: true, force: true });
});

test('test_prometheus_gateway_metrics_series', async () => {
  const r = await post(`${gw}/v1/completions`, { model: MODEL, prompt: 'hello metrics', max_tokens: 2, stream: true });
  assert.equal(r.status, 200);
  const bad = await post(`${gw}/v1/completions`, { model: 'no-such-model', prompt: 'x', max_tokens: 1 });
  assert.equal(bad.status, 404);

  const text = await (await fetch(`${gw}/metrics`)).text();
  const prom = await metrics(gw);
  const ok = prom.filter((s) => s.name === 'wellpath_gateway_requests_total' && s.labels.status === '200');
  assert.equal(ok.length, 1, text);
  assert.equal(ok[0].labels.model, MODEL);
  assert.match(ok[0].labels.endpoint, /^sim-[01]$/);
  assert.equal(sample(prom, 'wellpath_gateway_requests_total', { endpoint: 'none', model: 'none', status: '404' }), 1);
  // Cache hit rate: the endpoints' counters (scraped every 50 ms) summed.
  await waitUntil(async () => {
    const p = await metrics(gw);
    const q = p.filter((s) => s.name === 'wellpath_endpoint_prefix_cache_queries_total').reduce((a, s) => a + s.value, 0);
    return q > 0 && sample(p, 'kv_cache_lookup') === q;
  }, { what: 'the scraped prefix-cache queries to reach the gateway' });
  const p = await metrics(gw);
  const sum = (name) => p.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  const hits = sum('wellpath_endpoint_prefix_cache_hits_total');
  const queries = sum('wellpath_endpoint_prefix_cache_queries_total');
  assert.equal(sample(p, 'kv_cache_hit'), hits);
  assert.ok(Math.abs(sample(p, 'wellpath_gateway_cache_hit_rate') - hits / queries) < 1e-9);
  // The guide's opt-in series, with their types.
  assert.match(text, /^# TYPE vllm_ttft histogram$/m);
  assert.match(text, /^vllm_ttft_bucket\{le="2560\.0"\} 1\.0$/m, 'vLLM TTFT buckets');
  assert.equal(sample(p, 'vllm_ttft_count'), 1);
  assert.match(text, /^# TYPE kv_cache_hit counter$/m);
  assert.match(text, /^# TYPE kv_cache_lookup counter$/m);
  assert.match(text, /^# TYPE vllm_kv_utilization gauge$/m);
  const kv = Math.max(...p.filter((s) => s.name === 'wellpath_endpoint_kv_usage').map((s) => s.value));
  assert.equal(sample(p, 'vllm_kv_utilization'), kv);
  // promtool's own parser accepts the page; its only lint is the guide's counter names.
  const chk = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!chk.error, `promtool: ${chk.error}`);
  const problems = `${chk.stdout}${chk.stderr}`
    .split('\n')
    .filter((l) => l.trim() && !/^kv_cache_(hit|lookup) counter metrics should have "_total" suffix$/.test(l.trim()));
  assert.deepEqual(problems, [], `promtool check metrics:\n${chk.stdout}${chk.stderr}`);
});

test('test_prometheus_high_ttft_fires_and_resolves', async () => {
  const t0 = Date.now();
  storage = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-prom-'));
  const rules = writeTemp(testRules(fs.readFileSync(RULES, 'utf8')), '.rules.yml');
  const config = writeTemp(promConfig(rules), '.prometheus.yml');
  const port = await freePort();
  promBase = `http://127.0.0.1:${port}`;
  prom = new Proc(
    [`--config.file=${config}`, `--storage.tsdb.path=${storage}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { bin: PROMETHEUS },
  );
  await waitUntil(async () => (await fetch(`${promBase}/-/ready`)).status === 200, { timeout: 15000, interval: 100, what: 'prometheus ready' });
  const groups = await promGet('/api/v1/rules');
  const byName = Object.fromEntries(groups.groups.map((g) => [g.name, g.rules.length]));
  assert.deepEqual(byName, { 'wellpath-slo': 6, 'wellpath-reliability': 2 }, 'the test copy of the rules is loaded');
  await waitUntil(async () => {
    const t = await promGet('/api/v1/targets');
    return t.activeTargets.length === 3 && t.activeTargets.every((x) => x.health === 'up');
  }, { interval: 200, what: 'the gateway and both sims scraped' });
  assert.equal(await highTtft('gateway'), undefined, 'no alert before the load');

  const load = overload(16);
  const states = [];
  try {
    await waitUntil(async () => {
      const a = await highTtft('gateway');
      if (a && states[states.length - 1] !== a.state) states.push(a.state);
      return a && a.state === 'firing';
    }, { timeout: 25000, interval: 200, what: `HighTTFT{source="gateway"} firing (seen ${states}; load ${JSON.stringify(load.stats())})` });
  } finally {
    await load.stop();
  }
  assert.deepEqual(states, ['pending', 'firing'], 'pending first, then firing');
  assert.ok(load.stats().done > 0, 'requests completed under the load');
  const fired = await highTtft('gateway');
  assert.ok(Number(fired.value) > 0.2, `p95 ${fired.value} s`);

  // No new requests: the 10 s window empties, the quantile is NaN, the alert resolves.
  await waitUntil(async () => (await highTtft('gateway')) === undefined, { timeout: 25000, interval: 250, what: 'HighTTFT to resolve' });
  const took = (Date.now() - t0) / 1000;
  console.log(`prometheus alert cycle: ${took.toFixed(1)} s, requests ${JSON.stringify(load.stats())}`);
});
