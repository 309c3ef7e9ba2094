// `wellpath bench`: the serving benchmark, end to end against real processes.
// - policy comparison over fresh `wellpath up` deployments (--topology --policies): the
//   report's shape, the identical request sequence per policy, prefix-aware routing
//   hitting the cache at least as often as round-robin, the table and the HTML page;
// - every workload type and load type against one `wellpath up` (--target), with the
//   request count checked at the gateway and usage-derived prompt tokens checked
//   against the workload's lengths; a warm-up before the measured run, and its barrier
//   as a target sees it;
// - the same seed giving the same request sequence;
// - bad input: unreachable target, bad stages, a malformed trace line, a target that
//   ignores "stream", malformed SSE events, and Ctrl-C in the middle of a run;
// - a slice of the Mooncake synthetic trace (docs/reference.md §9), read from
//   WP_MOONCAKE_TRACE or from the data folder CI keeps beside the checkout; skipped,
//   saying so, where neither holds it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Proc, freePort, metrics, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED_TRACE = process.env.WP_MOONCAKE_TRACE || path.resolve(REPO, '../shared/data/mooncake-synthetic-trace.jsonl');

const topology = ({ timeScale = 0.05, extraVllm = '' } = {}) => `model: qwen3-8b
vllm:
  replicas: 2
${extraVllm}simulation:
  basePort: 0
  timeScale: ${timeScale}
`;

// The keys of M (issue 3), and of each latency distribution in it.
const M_KEYS = [
  'requests',
  'completed',
  'failed',
  'ttft_s',
  'itl_s',
  'tpot_s',
  'e2e_s',
  'requests_per_s',
  'output_tokens_per_s',
  'total_tokens_per_s',
  'cache_hit_rate',
  'goodput_requests_per_s',
];
const DIST_KEYS = ['mean', 'p50', 'p90', 'p95', 'p99'];

function assertMetrics(m, what) {
  for (const k of M_KEYS) assert.ok(k in m, `${what}: key ${k} missing in ${JSON.stringify(m)}`);
  for (const k of ['ttft_s', 'itl_s', 'tpot_s', 'e2e_s'])
    for (const d of DIST_KEYS) assert.ok(d in m[k], `${what}: ${k}.${d} missing`);
  assert.equal(m.requests, m.completed + m.failed, `${what}: requests = completed + failed`);
}

// Token totals over completed requests, from the rates (all divide by the same span).
const promptTotal = (m) => Math.round(((m.total_tokens_per_s - m.output_tokens_per_s) * m.completed) / m.requests_per_s);
const outputTotal = (m) => Math.round((m.output_tokens_per_s * m.completed) / m.requests_per_s);

// Runs `wellpath bench ARGS` to its end; the process is stopped in t's after hook.
async function bench(t, args, { json = true } = {}) {
  const jsonFile = json ? writeTemp('', '.json') : null;
  const p = new Proc(['bench', ...args, ...(json ? ['--json', jsonFile] : []), '--quiet']);
  t.after(() => p.stop());
  const r = await p.exit;
  const report = json && fs.statSync(jsonFile).size > 0 ? JSON.parse(fs.readFileSync(jsonFile, 'utf8')) : null;
  return { code: r.code, signal: r.signal, report, proc: p, stdout: p.lines.stdout.join('\n'), stderr: p.lines.stderr.join('\n') };
}

// `wellpath up` on ephemeral ports; resolves with its gateway URL once ready.
async function startUp(text) {
  const proc = new Proc(['up', '-f', writeTemp(text), '--listen', '127.0.0.1:0', '--log-level', 'warn']);
  const m = await proc.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:(\d+)\/v1) /);
  return { proc, url: m[1], base: `http://127.0.0.1:${m[2]}` };
}

async function gatewayRequests(base) {
  return (await metrics(base)).filter((s) => s.name === 'wellpath_gateway_requests_total').reduce((a, s) => a + s.value, 0);
}

// A small HTTP server standing in for a broken target: /v1/models lists a model, and
// POST is answered by `answer(req, res)`.
async function fakeTarget(t, answer) {
  const srv = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake', object: 'model' }] }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    srv.closeAllConnections();
    return new Promise((resolve) => srv.close(resolve));
  });
  return `http://127.0.0.1:${srv.address().port}`;
}

test('test_bench_policy_comparison', { timeout: 60000 }, async (t) => {
  const html = writeTemp('', '.html');
  const r = await bench(t, [
    '--topology', writeTemp(topology()),
    '--policies', 'round-robin,topology',
    '--set', 'num_groups=3',
    '--set', 'num_prompts_per_group=3',
    '--set', 'system_prompt_len=600',
    '--set', 'output_len=8',
    '--rate', '20',
    '--html', html,
  ]);
  assert.equal(r.code, 0, r.proc.output());
  const rep = r.report;
  assert.equal(rep.tool, 'wellpath');
  assert.equal(rep.mode, 'bench');
  assert.equal(rep.workload.type, 'shared_prefix');
  assert.equal(rep.workload.num_groups, 3);
  assert.equal(rep.workload.system_prompt_len, 600);
  assert.deepEqual(rep.runs.map((x) => x.policy), ['round-robin', 'topology']);
  for (const run of rep.runs) {
    assertMetrics(run.summary, `${run.policy} summary`);
    assert.equal(run.summary.requests, 9, 'groups x prompts requests');
    assert.equal(run.summary.completed, run.summary.requests, `${run.policy}: every request completed`);
    assert.equal(run.stages.length, 1);
    assert.equal(run.stages[0].rate, 20);
    assertMetrics(run.stages[0].metrics, `${run.policy} stage`);
    assert.equal(run.stages[0].metrics.completed, run.stages[0].metrics.requests);
    // 600 system + 50 question tokens, each one token of the simulator's tokenizer.
    assert.equal(promptTotal(run.summary), 9 * 650, `${run.policy}: prompt tokens`);
    assert.equal(outputTotal(run.summary), 9 * 8, `${run.policy}: output tokens`);
  }
  const [rr, topo] = rep.runs.map((x) => x.summary);
  assert.equal(rr.requests, topo.requests, 'the same number of requests per policy');
  assert.equal(promptTotal(rr), promptTotal(topo), 'the same prompt tokens per policy');
  console.log(`cache hit rate: round-robin ${(rr.cache_hit_rate * 100).toFixed(1)} %, topology ${(topo.cache_hit_rate * 100).toFixed(1)} %`);
  assert.ok(topo.cache_hit_rate >= rr.cache_hit_rate, `prefix-aware routing hits at least as often: ${topo.cache_hit_rate} vs ${rr.cache_hit_rate}`);
  assert.ok(topo.cache_hit_rate > 0);

  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /<svg/);
  assert.match(r.stdout, /^round-robin\s+9\s/m, 'the table has a row per policy');
  assert.match(r.stdout, /^topology\s+9\s/m);
});

describe('bench against wellpath up', () => {
  let up;
  before(async () => {
    up = await startUp(topology());
  });
  after(async () => {
    if (up) await stopClean(assert, up.proc, 'wellpath up');
  });

  // Runs bench against the deployment; checks the exit code, that every request completed,
  // and that the gateway saw exactly as many requests as the report (and its warm-up).
  async function run(t, args, files = {}) {
    const before0 = await gatewayRequests(up.base);
    const r = await bench(t, ['--target', up.url, ...args]);
    assert.equal(r.code, 0, r.proc.output());
    const s = r.report.runs[0].summary;
    assertMetrics(s, 'summary');
    assert.equal(s.completed, s.requests, `every request completed: ${JSON.stringify(s.failures)}`);
    assert.equal((await gatewayRequests(up.base)) - before0, s.requests + r.report.runs[0].warmup, 'requests seen at the gateway');
    return { rep: r.report, s, stages: r.report.runs[0].stages, stdout: r.stdout };
  }

  const near = (got, want, tol, what) => assert.ok(Math.abs(got - want) <= tol * want, `${what}: got ${got}, want ${want} ± ${tol * 100} %`);

  test('test_bench_shared_prefix_poisson', async (t) => {
    const wl = writeTemp(
      'type: shared_prefix\nseed: 11\nnum_groups: 2\nnum_prompts_per_group: 4\nsystem_prompt_len: 300\nquestion_len: 20\noutput_len: 6\nload:\n  type: poisson\n  rate: 40\n',
    );
    const { rep, s } = await run(t, ['--workload', wl]);
    assert.equal(rep.workload.load.type, 'poisson');
    assert.equal(s.requests, 8);
    assert.equal(promptTotal(s) / s.completed, 320);
    assert.equal(outputTotal(s) / s.completed, 6);
    assert.ok(s.cache_hit_rate > 0, 'requests of a group share their system prompt');
  });

  test('test_bench_multi_turn_constant', async (t) => {
    const wl = writeTemp(
      'type: multi_turn\nseed: 12\nnum_sessions: 3\nturns_per_session: 3\nsystem_prompt_len: 200\nuser_turn_len: 40\noutput_len: 10\nload: {type: constant, rate: 30}\n',
    );
    const { s } = await run(t, ['--workload', wl]);
    assert.equal(s.requests, 9, 'sessions x turns');
    // Turn k carries the system prompt, k + 1 user turns and k answers of 10 tokens.
    const want = 3 * ((200 + 40) + (200 + 80 + 10) + (200 + 120 + 20));
    assert.equal(promptTotal(s), want);
    assert.ok(s.cache_hit_rate > 0.3, `later turns reuse the conversation: ${s.cache_hit_rate}`);
  });

  test('test_bench_random_distributions', async (t) => {
    const uniform = writeTemp(
      'type: random\nseed: 13\ninput_len: {dist: uniform, min: 190, max: 210}\noutput_len: {dist: uniform, min: 4, max: 8}\nload: {type: poisson, rate: 50, num_requests: 20}\n',
    );
    let { s } = await run(t, ['--workload', uniform]);
    assert.equal(s.requests, 20);
    near(promptTotal(s) / s.completed, 200, 0.05, 'uniform input_len mean');
    const out = outputTotal(s) / s.completed;
    assert.ok(out >= 4 && out <= 8, `output within [4, 8]: ${out}`);

    const normal = writeTemp(
      'type: random\nseed: 14\ninput_len: {dist: normal, mean: 400, std: 10}\noutput_len: 5\nload: {type: poisson, rate: 50, num_requests: 20}\n',
    );
    ({ s } = await run(t, ['--workload', normal]));
    assert.equal(s.requests, 20);
    near(promptTotal(s) / s.completed, 400, 0.03, 'normal input_len mean');
    assert.equal(outputTotal(s), 20 * 5);
  });

  test('test_bench_trace', async (t) => {
    const trace = writeTemp(
      [
        '{"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2, 3]}',
        '{"timestamp": 100, "input_length": 1200, "output_length": 6, "hash_ids": [1, 2, 4]}',
        '{"timestamp": 150, "input_length": 600, "output_length": 4, "hash_ids": [5, 6]}',
        '',
        '{"timestamp": 300, "input_length": 1500, "output_length": 7, "hash_ids": [1, 2, 4, 9]}',
        '',
      ].join('\n'),
      '.jsonl',
    );
    const wl = writeTemp(`type: trace\nseed: 15\nformat: mooncake\npath: ${trace}\nspeed: 2\n`);
    const { rep, s, stages } = await run(t, ['--workload', wl]);
    assert.equal(rep.workload.load.type, 'trace');
    assert.equal(s.requests, 4);
    assert.equal(promptTotal(s), 1100 + 1200 + 600 + 1500, 'input_length tokens per entry');
    assert.equal(outputTotal(s), 5 + 6 + 4 + 7, 'output_length tokens per entry');
    assert.ok(s.cache_hit_rate > 0, 'entries sharing hash ids share their blocks');
    assert.equal(stages.length, 1);
    near(stages[0].duration_s, 0.15, 1e-9, 'the trace span divided by speed');
  });

  test('test_bench_stages', async (t) => {
    const { rep, s, stages } = await run(t, ['--type', 'random', '--seed', '16', '--set', 'input_len=300', '--set', 'output_len=5', '--stages', '20:0.5,40:0.5']);
    assert.equal(rep.workload.load.type, 'stages');
    assert.deepEqual(stages.map((x) => [x.rate, x.duration_s]), [[20, 0.5], [40, 0.5]]);
    for (const st of stages) {
      assertMetrics(st.metrics, `stage ${st.rate}`);
      assert.ok(st.metrics.requests > 0, `stage at ${st.rate}/s has requests`);
    }
    assert.equal(stages[0].metrics.requests + stages[1].metrics.requests, s.requests);
    // Poisson counts: expected 10 and 20; far outside would mean the rates are wrong.
    assert.ok(s.requests >= 12 && s.requests <= 50, `about 30 requests: ${s.requests}`);
    assert.equal(promptTotal(s), 300 * s.completed);
  });

  // inference-perf's sequential stages: exactly rate x duration requests per stage, the
  // second stage sent only after the first one's last answer plus the interval, and with
  // fixed_prompts the second stage repeats the first one's prompts (so it hits the cache).
  test('test_bench_sequential_stages', async (t) => {
    const wl = writeTemp(
      'type: shared_prefix\nseed: 21\nnum_groups: 2\nnum_prompts_per_group: 2\nsystem_prompt_len: 200\nquestion_len: 40\noutput_len: 8\nfixed_prompts: true\n' +
        'load:\n  type: stages\n  sequential: true\n  interval: 1\n  stages: [{rate: 20, duration: 0.2}, {rate: 20, duration: 0.2}]\n',
    );
    const { rep, s, stages } = await run(t, ['--workload', wl]);
    assert.equal(rep.workload.load.sequential, true);
    assert.deepEqual(stages.map((x) => x.metrics.requests), [4, 4]);
    const span = (m) => m.completed / m.requests_per_s;
    // The run's span holds both stages' spans and the pause between them.
    assert.ok(span(s) >= span(stages[0].metrics) + 1 + span(stages[1].metrics) - 0.05, `span ${span(s)} s`);
    assert.ok(stages[1].metrics.cache_hit_rate > stages[0].metrics.cache_hit_rate, 'the repeated prompts hit the cache');
  });

  test('test_bench_concurrency', async (t) => {
    const { rep, s, stages } = await run(t, ['--type', 'random', '--seed', '17', '--set', 'input_len=250', '--set', 'output_len=5', '--concurrency', '4', '--num-requests', '12']);
    assert.equal(rep.workload.load.type, 'concurrency');
    assert.equal(rep.workload.load.concurrency, 4);
    assert.equal(s.requests, 12);
    assert.equal(stages.length, 1);
    assert.equal(stages[0].rate, null, 'a closed loop has no rate');
    assert.equal(promptTotal(s), 12 * 250);
  });

  // vLLM's --num-warmups: 4 warm-up requests, then 8 measured at concurrency 2; the
  // gateway sees all 12, the report the 8 and says there were 4 warm-ups. The run pauses
  // between the two to read the gateway's prefix-cache counters, so the server-side hit
  // rate covers the measured requests.
  test('test_bench_warmup', async (t) => {
    const { rep, s, stdout } = await run(t, ['--type', 'random', '--seed', '19', '--set', 'input_len=200', '--set', 'output_len=5',
      '--concurrency', '2', '--num-requests', '8', '--num-warmups', '4']);
    assert.equal(rep.workload.load.warmup, 4);
    assert.equal(rep.runs[0].warmup, 4);
    assert.equal(rep.runs[0].warmup_failed, 0);
    assert.equal(s.requests, 8);
    assert.equal(promptTotal(s), 8 * 200, 'the measured requests\' prompts only');
    assert.ok(rep.runs[0].warmup_end_s > 0);
    assert.equal(typeof s.server_cache_hit_rate, 'number', 'counters read after the warm-up and after the run');
    assert.match(stdout, /^warm-up target: 4 warm-up requests \(0 failed\) before the measured run/m);
  });

  test('test_bench_chat_api', async (t) => {
    const { rep, s } = await run(t, ['--type', 'random', '--seed', '18', '--set', 'input_len=300', '--set', 'output_len=6', '--rate', '50', '--num-requests', '10', '--api', 'chat']);
    assert.equal(rep.workload.api, 'chat');
    assert.equal(s.requests, 10);
    // The chat template adds its own few tokens around the user message.
    const per = promptTotal(s) / s.completed;
    assert.ok(per >= 300 && per <= 330, `chat prompt tokens per request: ${per}`);
    assert.equal(outputTotal(s), 60);
  });

  test('test_bench_different_seed_other_sequence', async (t) => {
    const args = ['--type', 'random', '--set', 'input_len={dist: uniform, min: 50, max: 500}', '--set', 'output_len=3', '--rate', '50', '--num-requests', '10'];
    const a = await run(t, [...args, '--seed', '5']);
    const b = await run(t, [...args, '--seed', '6']);
    assert.notEqual(promptTotal(a.s), promptTotal(b.s), 'another seed draws other lengths');
  });
});

test('test_bench_same_seed_same_sequence', { timeout: 60000 }, async (t) => {
  // Twice against a fresh deployment of the same topology: the same requests.
  const topo = writeTemp(topology());
  const args = ['--topology', topo, '--policies', 'round-robin', '--type', 'random', '--seed', '5', '--set', 'input_len={dist: uniform, min: 50, max: 500}', '--set', 'output_len={dist: uniform, min: 2, max: 9}', '--rate', '50', '--num-requests', '10'];
  const a = await bench(t, args);
  const b = await bench(t, args);
  assert.equal(a.code, 0, a.proc.output());
  assert.equal(b.code, 0, b.proc.output());
  assert.deepEqual(a.report.workload, b.report.workload);
  const [sa, sb] = [a.report.runs[0].summary, b.report.runs[0].summary];
  assert.equal(sa.requests, 10);
  assert.equal(sa.requests, sb.requests);
  assert.equal(sa.completed, sb.completed);
  assert.equal(promptTotal(sa), promptTotal(sb), 'the same prompt tokens');
  assert.equal(outputTotal(sa), outputTotal(sb), 'the same output tokens');
});

// The warm-up's barrier as the target sees it: a target that answers each request with a
// short stream (of its own pace, some slower than others) records when each arrives and
// when it answered. At concurrency 2 with 4 warm-ups, no request arrives while more than 2
// are open, and the fifth arrives only after the first four were answered.
test('test_bench_warmup_barrier_at_the_target', async (t) => {
  const arrived = [];
  const answered = [];
  let open = 0;
  let most = 0;
  const url = await fakeTarget(t, (req, res) => {
    const i = arrived.length;
    arrived.push(performance.now());
    most = Math.max(most, ++open);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let k = 0;
    const tick = () => {
      if (k++ < 3) {
        res.write('data: {"choices":[{"index":0,"text":"x"}]}\n\n');
        setTimeout(tick, 5 + (i % 3) * 10);
        return;
      }
      res.write('data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n');
      answered[i] = performance.now();
      open--;
      res.end('data: [DONE]\n\n');
    };
    tick();
  });
  const r = await bench(t, ['--target', url, '--type', 'random', '--set', 'input_len=20', '--concurrency', '2',
    '--num-requests', '8', '--num-warmups', '4']);
  assert.equal(r.code, 0, r.proc.output());
  assert.equal(r.report.runs[0].warmup, 4);
  assert.equal(r.report.runs[0].summary.requests, 8);
  assert.equal(r.report.runs[0].summary.completed, 8);
  assert.equal(arrived.length, 12);
  assert.ok(most <= 2, `at most 2 open at the target: ${most}`);
  const warmEnd = Math.max(...answered.slice(0, 4));
  for (let i = 4; i < 12; i++) assert.ok(arrived[i] >= warmEnd, `request ${i + 1} arrived before the warm-up was answered`);
});

describe('bench bad input', () => {
  test('test_bench_unreachable_target', async (t) => {
    const port = await freePort();
    const r = await bench(t, ['--target', `http://127.0.0.1:${port}/v1`]);
    assert.equal(r.code, 1, r.proc.output());
    assert.match(r.stderr, new RegExp(`^wellpath bench: .*http://127\\.0\\.0\\.1:${port}`, 'm'), 'names the URL');
  });

  test('test_bench_bad_stages', async (t) => {
    const r = await bench(t, ['--target', 'http://127.0.0.1:1', '--stages', '3:x']);
    assert.equal(r.code, 2, r.proc.output());
    assert.match(r.stderr, /load\.stages/);
    const zero = await bench(t, ['--target', 'http://127.0.0.1:1', '--stages', '3:0']);
    assert.equal(zero.code, 2, zero.proc.output());
    assert.match(zero.stderr, /load\.stages\[0\]\.duration/);
    const shape = await bench(t, ['--target', 'http://127.0.0.1:1', '--stages', '3']);
    assert.equal(shape.code, 2, shape.proc.output());
    assert.match(shape.stderr, /--stages/);
  });

  test('test_bench_malformed_trace_line', async (t) => {
    const trace = writeTemp(
      '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [1]}\n{"timestamp": 5, "input_length": 10, oops\n',
      '.jsonl',
    );
    const wl = writeTemp(`type: trace\npath: ${trace}\n`);
    const r = await bench(t, ['--target', 'http://127.0.0.1:1', '--workload', wl]);
    assert.equal(r.code, 2, r.proc.output());
    assert.match(r.stderr, new RegExp(`${path.basename(trace).replace(/\./g, '\\.')}:2:`), 'names the file and line 2');
  });

  test('test_bench_target_ignores_stream', async (t) => {
    const url = await fakeTarget(t, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'text_completion', choices: [{ index: 0, text: 'hi', finish_reason: 'length' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
    });
    const r = await bench(t, ['--target', url, '--type', 'random', '--rate', '50', '--num-requests', '5']);
    assert.notEqual(r.code, 0, r.proc.output());
    assert.match(r.stderr, /stream/, 'says the target does not stream');
  });

  test('test_bench_malformed_sse', async (t) => {
    const url = await fakeTarget(t, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.end('data: not-json\n\ndata: [DONE]\n\n');
    });
    const r = await bench(t, ['--target', url, '--type', 'random', '--set', 'input_len=20', '--rate', '50', '--num-requests', '5']);
    assert.ok(r.report, `a report was written\n${r.proc.output()}`);
    const s = r.report.runs[0].summary;
    assert.equal(s.requests, 5);
    assert.equal(s.completed, 0);
    assert.equal(s.failures.stream_error, 5, JSON.stringify(s.failures));
  });

  test('test_bench_sigint_writes_report', { timeout: 60000 }, async (t) => {
    const up = await startUp(topology({ timeScale: 1 }));
    t.after(() => up.proc.stop());
    const jsonFile = writeTemp('', '.json');
    const p = new Proc(['bench', '--target', up.url, '--type', 'random', '--set', 'input_len=100', '--set', 'output_len=200', '--rate', '10', '--num-requests', '40', '--json', jsonFile, '--quiet']);
    t.after(() => p.stop());
    await waitUntil(async () => sample(await metrics(up.base), 'wellpath_gateway_in_flight') >= 2, { timeout: 20000, what: 'requests in flight at the gateway' });
    p.child.kill('SIGINT');
    const r = await p.exit;
    assert.equal(r.code, 130, p.output());
    assert.match(p.lines.stderr.join('\n'), /interrupted/);
    const rep = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    const s = rep.runs[0].summary;
    assert.ok(s.completed < 40, `fewer completed than requested: ${s.completed}`);
    assert.ok(s.failures.aborted > 0, `in-flight requests counted as aborted: ${JSON.stringify(s.failures)}`);
    await stopClean(assert, up.proc, 'wellpath up');
  });
});

// The first window of 15 consecutive entries in which a hash id comes back, so the
// replay must hit the cache (the file's first 15 entries share none).
function traceSlice(lines, n) {
  const entries = lines.map((l) => JSON.parse(l));
  for (let i = 0; i + n <= entries.length; i++) {
    const seen = new Set();
    let reuse = false;
    for (const e of entries.slice(i, i + n)) {
      if (e.hash_ids.some((h) => seen.has(h))) reuse = true;
      for (const h of e.hash_ids) seen.add(h);
    }
    if (reuse) return { from: i, text: `${lines.slice(i, i + n).join('\n')}\n`, entries: entries.slice(i, i + n) };
  }
  return null;
}

test('test_bench_shared_mooncake_trace', { timeout: 90000 }, async (t) => {
  if (!fs.existsSync(SHARED_TRACE)) {
    t.skip(`the Mooncake synthetic trace is absent (${SHARED_TRACE}); set WP_MOONCAKE_TRACE to a copy of kvcache-ai/Mooncake FAST25-release/traces/synthetic_trace.jsonl to replay it`);
    return;
  }
  const lines = fs.readFileSync(SHARED_TRACE, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const slice = traceSlice(lines.slice(0, 400), 15);
  assert.ok(slice, 'a window of 15 entries with a repeated hash id');
  const longest = Math.max(...slice.entries.map((e) => e.input_length + e.output_length));
  const maxLen = 2 ** Math.ceil(Math.log2(longest + 1));
  const up = await startUp(topology({ extraVllm: `  maxModelLen: ${maxLen}\n` }));
  t.after(() => up.proc.stop());
  const trace = writeTemp(slice.text, '.jsonl');
  const wl = writeTemp(`type: trace\nformat: mooncake\npath: ${trace}\nspeed: 50\nload:\n  num_requests: 15\n`);
  const r = await bench(t, ['--target', up.url, '--workload', wl]);
  assert.equal(r.code, 0, r.proc.output());
  const s = r.report.runs[0].summary;
  console.log(`mooncake entries ${slice.from + 1}-${slice.from + 15}: ${s.completed} completed, cache hit rate ${(s.cache_hit_rate * 100).toFixed(1)} %`);
  assert.equal(s.requests, 15);
  assert.equal(s.completed, 15, JSON.stringify(s.failures));
  assert.ok(s.cache_hit_rate > 0, 'repeated hash ids hit the prefix cache');
  const want = slice.entries.reduce((a, e) => a + e.input_length, 0);
  assert.ok(Math.abs(promptTotal(s) - want) <= 0.01 * want, `prompt tokens ${promptTotal(s)} vs input_length total ${want}`);
  await stopClean(assert, up.proc, 'wellpath up');
});
