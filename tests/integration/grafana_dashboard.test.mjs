// deploy/grafana/wellpath-dashboard.json against the real thing: the dashboard parses,
// has the panels the guide's operators look at, its PromQL is valid (promtool, when
// installed, checks every query as a recording rule), and every metric any panel or
// variable queries exists on a live /metrics: the gateway's (wellpath_*) or a simulated
// model server's (vllm:*), after a few requests went through.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { MODEL, metrics, postStream, randomText, startGateway, startSim, stopClean, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DASHBOARD = path.resolve(here, '../../deploy/grafana/wellpath-dashboard.json');

// PromQL words that look like identifiers but are not metric names.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or',
  'unless', 'offset', 'inf', 'nan', 'le']);

// Every metric name in a PromQL expression: label matchers, range selectors, grouping
// clauses, strings, numbers and function names are dropped; what is left are selectors.
function metricNames(expr) {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, label_replace arguments)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' ') // Grafana variables
    .replace(/\b\d[\w.]*/g, ' '); // numbers and durations (0.95, 1e-05, offset 1h)
  const names = new Set();
  for (const m of s.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    if (KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}

// label_values(metric, label) of a query variable: the metric.
function variableMetrics(v) {
  const q = typeof v.query === 'string' ? v.query : v.query?.query || '';
  const m = q.match(/^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/);
  return m ? [m[1]] : [];
}

// Grafana's variables replaced with values PromQL accepts, for promtool.
const concrete = (expr) => expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m').replace(/\$\{?endpoint\}?/g, '.*');

function promtool(args) {
  return new Promise((resolve) => {
    execFile('promtool', args, { timeout: 20000 }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, out: stdout + stderr }));
  });
}

const hasPromtool = () => (process.env.PATH || '').split(':').some((d) => fs.existsSync(path.join(d, 'promtool')));

describe('grafana dashboard', () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const targets = dash.panels.flatMap((p) => (p.targets || []).map((t) => ({ panel: p.title, expr: t.expr })));
  let sim, gw;
  before(async () => {
    sim = await startSim({ replicas: 2, timeScale: 0.05 });
    gw = await startGateway(sim.ports.map((port, i) => ({ name: `sim-${i}`, port })));
    const prefix = randomText(600);
    for (let i = 0; i < 6; i++) {
      const r = await postStream(`${gw.url}/v1/completions`, { model: MODEL, prompt: prefix + randomText(100), max_tokens: 6, stream: true });
      assert.equal(r.status, 200);
    }
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    if (sim) await stopClean(assert, sim.proc, 'sim');
  });

  test('test_grafana_metric_name_extraction', () => {
    assert.deepEqual(metricNames('histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{model_name=~"$m"}[$__rate_interval])))'),
      ['vllm:time_to_first_token_seconds_bucket']);
    assert.deepEqual(metricNames('sum(rate(a_total[5m])) / on (instance) group_left sum without (le) (b offset 1h) > bool 0.3'), ['a_total', 'b']);
    assert.deepEqual(metricNames('label_replace(up{job="x"}, "dst", "$1", "src", "(.*)") or vector(1)'), ['up']);
    assert.deepEqual(metricNames('wellpath_endpoint_kv_usage{endpoint=~"$endpoint"} > 0.95'), ['wellpath_endpoint_kv_usage']);
  });

  test('test_grafana_dashboard_shape', () => {
    assert.ok(dash.schemaVersion >= 36 && dash.schemaVersion <= 41, `schemaVersion ${dash.schemaVersion}`);
    const dsVar = dash.templating.list.find((v) => v.type === 'datasource');
    assert.ok(dsVar && dsVar.query === 'prometheus', 'a Prometheus datasource variable');
    const ids = dash.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of dash.panels) {
      assert.equal(p.datasource.uid, `\${${dsVar.name}}`, `${p.title}: uses the datasource variable`);
      for (const k of ['x', 'y', 'w', 'h']) assert.equal(typeof p.gridPos[k], 'number', `${p.title}: gridPos.${k}`);
      assert.ok(p.targets.length > 0, `${p.title}: has queries`);
      const refs = p.targets.map((t) => t.refId);
      assert.equal(new Set(refs).size, refs.length, `${p.title}: refIds are unique`);
    }
    // The panels the issue asks for, by the series they query.
    const uses = (re) => dash.panels.some((p) => p.targets.some((t) => re.test(t.expr)));
    assert.ok(uses(/histogram_quantile\(0\.5, .*wellpath_gateway_ttft_seconds_bucket/), 'TTFT p50');
    assert.ok(uses(/histogram_quantile\(0\.95, .*wellpath_gateway_ttft_seconds_bucket/), 'TTFT p95');
    assert.ok(uses(/wellpath_gateway_itl_seconds_bucket/), 'ITL');
    assert.ok(uses(/rate\(vllm:generation_tokens_total/), 'output throughput');
    assert.ok(uses(/vllm:prefix_cache_hits_total.*\/.*vllm:prefix_cache_queries_total/), 'cache hit rate');
    assert.ok(uses(/wellpath_endpoint_kv_usage/), 'KV usage per endpoint');
    assert.ok(uses(/wellpath_endpoint_waiting/), 'queue per endpoint');
    assert.ok(uses(/sum by \(endpoint\) \(rate\(wellpath_gateway_picks_total/), 'picks per endpoint');
  });

  test('test_grafana_queries_are_valid_promql', async (t) => {
    if (!hasPromtool()) {
      t.skip('promtool not installed (Debian package prometheus)');
      return;
    }
    const rules = targets.map((x, i) => `      - record: wellpath:dashboard_query_${i}\n        expr: ${JSON.stringify(concrete(x.expr))}`);
    const file = writeTemp(`groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`, '.rules.yml');
    const r = await promtool(['check', 'rules', file]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${targets.length} rules found`));
  });

  test('test_grafana_every_queried_metric_exists', async () => {
    const live = new Set();
    for (const base of [gw.url, ...sim.ports.map((p) => `http://127.0.0.1:${p}`)])
      for (const s of await metrics(base)) live.add(s.name);
    const wanted = new Map();
    for (const { panel, expr } of targets) for (const n of metricNames(expr)) wanted.set(n, panel);
    for (const v of dash.templating.list) for (const n of variableMetrics(v)) wanted.set(n, `variable ${v.name}`);
    assert.ok(wanted.size >= 10, `metric names found: ${[...wanted.keys()]}`);
    const missing = [...wanted].filter(([n]) => !live.has(n)).map(([n, where]) => `${n} (${where})`);
    assert.deepEqual(missing, [], 'every queried metric is exported');
    // Histograms are queried through their _bucket series, which the histogram families own.
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const n of wanted.keys()) {
      if (n.startsWith('wellpath_') && n.endsWith('_bucket'))
        assert.match(text, new RegExp(`^# TYPE ${n.slice(0, -'_bucket'.length)} histogram$`, 'm'), n);
    }
    console.log(`dashboard metrics (${wanted.size}): ${[...wanted.keys()].sort().join(' ')}`);
  });
});
