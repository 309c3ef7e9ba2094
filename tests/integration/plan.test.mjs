// `wellpath plan`: the guide's own scenarios as golden tests. Each plan's recommendation is
// the path the guide's tree gives, its topology.yaml runs as is in `wellpath simulate`, and
// at the rate the plan says it sustains it meets the objectives the plan claims (90 % of
// requests within them). Bad input exits 2 with one line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { Proc } from '../lib/wellpath.mjs';

// The guide's scenarios simulate thousands of requests per candidate; the sanitizer build
// (-O0 with ASan, about 40x slower) runs the same code on the small plans below instead.
const heavy = process.env.WELLPATH_SANITIZED === '1'
  ? { skip: 'the guide scenarios run in the release build (the ASan build is ~40x slower; the small plans below run here)' }
  : {};

// The manifests `plan --out` wrote, against their real schemas (tests/plan/validate.mjs)
// when tests/plan/node_modules are installed (`make node-deps`; CI has them).
const PLAN_DEPS = new URL('../plan/node_modules/kubernetes-models', import.meta.url).pathname;
async function validateManifests(dir) {
  if (!fs.existsSync(PLAN_DEPS)) {
    assert.ok(!process.env.CI, 'tests/plan/node_modules missing in CI');
    return null;
  }
  const v = await import('../plan/validate.mjs');
  const mdir = path.join(dir, 'manifests');
  const objs = [];
  for (const f of fs.readdirSync(mdir)) objs.push(...v.parseDocuments(fs.readFileSync(path.join(mdir, f), 'utf8'), f));
  const errors = objs.flatMap((o) => v.validateObject(o).map((e) => `${o.kind} ${o.metadata?.name}: ${e}`));
  errors.push(...v.crossCheck(objs));
  assert.deepEqual(errors, [], 'the manifests validate');
  // The gateway's ConfigMap holds the topology `wellpath gateway -f` reads, as written.
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.data?.['topology.yaml']);
  assert.equal(cm.data['topology.yaml'], fs.readFileSync(path.join(dir, 'gateway-topology.yaml'), 'utf8'));
  return objs;
}

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  return { ...r, stdout: p.lines.stdout.join('\n'), stderr: p.lines.stderr.join('\n') };
}

function tmpdir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-plan-'));
  test.after?.(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// Plans, then checks the winner in simulate at its sustained rate.
async function planAndCheck({ model, gpu, gpus, workload, rate, n, slo, wantPath }) {
  const dir = tmpdir();
  const json = path.join(dir, 'plan.json');
  const r = await run(['plan', '--model', model, '--gpu', gpu, '--gpus', String(gpus), ...workload, '--rate', String(rate),
    '--num-requests', String(n), '--slo', slo, '--out', dir, '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const plan = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(plan.guide.path, wantPath, `the guide's tree: ${plan.guide.why.join('; ')}`);
  const best = plan.candidates[0];
  assert.equal(best.path, wantPath, `recommended ${best.candidate}:\n${r.stdout}`);
  assert.ok(best.sustained_rps > 0 && best.attainment >= 0.9, JSON.stringify(best));
  for (const c of plan.candidates.slice(1)) assert.ok(c.verdict.length > 0 && c.goodput_per_gpu <= best.goodput_per_gpu);
  // The check the plan prints, run: its topology in simulate at the sustained rate.
  const check = plan.check.split(' ').slice(1);
  const sim = path.join(dir, 'sim.json');
  const s = await run([...check, '--quiet', '--json', sim]);
  assert.equal(s.code, 0, s.stderr);
  const sum = JSON.parse(fs.readFileSync(sim, 'utf8')).runs[0].summary;
  assert.equal(sum.failed, 0);
  const attainment = sum.goodput_requests_per_s / sum.requests_per_s;
  assert.ok(attainment >= 0.9, `simulate meets the objectives for ${(attainment * 100).toFixed(1)} % of requests`);
  const objs = await validateManifests(dir);
  if (objs) {
    const gpus = objs.flatMap((o) => {
      const tpl = o.kind === 'LeaderWorkerSet' ? o.spec.leaderWorkerTemplate.workerTemplate
        : o.kind === 'StatefulSet' ? o.spec.template : null;
      if (!tpl) return [];
      const pods = o.kind === 'LeaderWorkerSet' ? o.spec.replicas * o.spec.leaderWorkerTemplate.size : o.spec.replicas;
      return [pods * Number(tpl.spec.containers[0].resources.limits['nvidia.com/gpu'])];
    }).reduce((a, b) => a + b, 0);
    assert.equal(gpus, best.gpus, 'the manifests ask for the GPUs of the plan');
  }
  return { plan, stdout: r.stdout };
}

test('test_plan_guide_dense_shared_prefix_is_path1', heavy, async () => {
  const { plan, stdout } = await planAndCheck({
    model: 'qwen3-32b', gpu: 'h100', gpus: 16, rate: 10, n: 150, slo: 'ttft=1,itl=0.1', wantPath: 1,
    workload: ['--type', 'shared_prefix', '--set', 'num_groups=20', '--set', 'num_prompts_per_group=10',
      '--set', 'system_prompt_len=2000', '--set', 'question_len=200', '--set', 'output_len=200'],
  });
  assert.ok(plan.facts.prefix_reuse > 0.5, `prefix reuse measured: ${plan.facts.prefix_reuse}`);
  assert.match(stdout, /prefix reuse measured on the workload: \d+ % of prompt tokens: prefix-aware routing pays/);
  assert.ok(plan.candidates.length >= 40, 'Path 1 and Path 2 candidates on 16 GPUs');
  assert.match(stdout, /recommended: Path 1 \(inference scheduling\), \d+ x TP\d on 16 GPUs/);
});

test('test_plan_guide_long_inputs_is_path2', heavy, async () => {
  const { plan } = await planAndCheck({
    model: 'llama-3.1-70b', gpu: 'h100', gpus: 16, rate: 2, n: 120, slo: 'ttft=3,itl=0.05', wantPath: 2,
    workload: ['--type', 'random', '--set', 'input_len=10000', '--set', 'output_len=300'],
  });
  const m = /^(\d+)P TP(\d) \+ (\d+)D TP(\d)$/.exec(plan.candidates[0].candidate);
  assert.ok(m, plan.candidates[0].candidate);
  assert.ok(+m[1] * +m[2] > +m[3] * +m[4], 'long inputs: more prefill GPUs than decode GPUs');
});

test('test_plan_guide_large_moe_is_path3', heavy, async () => {
  const { plan } = await planAndCheck({
    model: 'deepseek-r1', gpu: 'h200', gpus: 32, rate: 4, n: 100, slo: 'ttft=5,itl=0.1', wantPath: 3,
    workload: ['--type', 'random', '--set', 'input_len=1000', '--set', 'output_len=300'],
  });
  assert.match(plan.candidates[0].candidate, /EP\d+/);
});

test('test_plan_cost_lines', async () => {
  const html = path.join(tmpdir(), 'plan.html');
  const r = await run(['plan', '--model', 'qwen3-8b', '--gpu', 'h100', '--gpus', '2', '--type', 'random', '--rate', '5',
    '--num-requests', '50', '--price-per-gpu-hour', '2.5', '--spot-discount', '0.6', '--quiet', '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /<h1>wellpath plan: qwen3-8b on 2 x h100<\/h1>/);
  assert.equal((page.match(/<tr( class=best)?><td>\d+<\/td>/g) || []).length, 3, 'a row per candidate: 2 x TP1, 1 x TP2, 1P + 1D');
  const m = /cost: (\d+) GPUs x 2\.50 = ([\d.]+) per hour; ([\d.]+) per million output tokens; idle ([\d.]+) % of the GPU time/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(+m[2], +m[1] * 2.5);
  const spot = /spot \(60 % off\): ([\d.]+) per hour, ([\d.]+) per million/.exec(r.stdout);
  assert.ok(spot, r.stdout);
  assert.ok(Math.abs(+spot[1] - +m[2] * 0.4) < 0.01);
  // Every lever of the guide has its line, from this run (or says why it has none).
  assert.match(r.stdout, /prefix caching \(measured reuse \d+ %\): on .* per million output tokens.*; off .*% of requests within the objectives/);
  assert.match(r.stdout, /P\/D with TP1 prefill: (best is \d+P TP1 \+ \d+D TP\d|no candidate)/);
  assert.match(r.stdout, /scale-to-zero: \d+ % of the workload's span is gaps over 300 s/);
  assert.match(r.stdout, /CPU KV offload \(vllm\.kvOffloadingSize: \d+ GiB a server\): .* per million output tokens.*, \d+ % of requests within the objectives \(against \d+ % without\)/);
});

// A trace with long quiet gaps: scale-to-zero has something to save, measured on its arrivals.
test('test_plan_scale_to_zero_on_a_bursty_trace', async () => {
  const dir = tmpdir();
  const trace = path.join(dir, 'trace.jsonl');
  const lines = [];
  for (const start of [0, 1_800_000, 3_600_000]) // three bursts 30 minutes apart (ms)
    for (let i = 0; i < 10; i++) lines.push(JSON.stringify({ timestamp: start + i * 100, input_length: 200, output_length: 20, hash_ids: [i] }));
  fs.writeFileSync(trace, lines.join('\n') + '\n');
  const r = await run(['plan', '--model', 'qwen3-8b', '--gpu', 'h100', '--gpus', '1', '--trace', trace,
    '--price-per-gpu-hour', '2', '--quiet']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const m = /scale-to-zero: (\d+) % of the workload's span is gaps over 300 s between requests: about ([\d.]+) per million/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(+m[1] >= 80 && +m[1] < 100, `two 30-minute gaps less 5 minutes each, of a 60-minute span: ${m[1]} %`);
});

test('test_plan_bad_input_exits_2', async () => {
  for (const [args, want] of [
    [['--model', 'qwen3-8b', '--gpu', 'h100'], /--model, --gpu and --gpus are required/],
    [['--model', 'nope', '--gpu', 'h100', '--gpus', '4'], /--model: unknown model 'nope'/],
    [['--model', 'qwen3-8b', '--gpu', 'h100', '--gpus', '0'], /--gpus: expected a GPU count 1\.\.1024, got '0'/],
    [['--model', 'qwen3-8b', '--gpu', 'h100', '--gpus', '4', '--spot-discount', '2'], /--spot-discount: expected a number in \[0, 0\.95\], got '2'/],
    [['--model', 'deepseek-r1', '--gpu', 'h100', '--gpus', '4'], /deepseek-r1 fits no server of up to 8 h100 GPUs within 4 GPUs/],
  ]) {
    const r = await run(['plan', ...args, '--num-requests', '10', '--quiet']);
    assert.equal(r.code, 2, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('wellpath plan:')).length, 1);
  }
});
