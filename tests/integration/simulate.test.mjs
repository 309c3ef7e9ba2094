// `wellpath simulate`: the pool in virtual time. The same seed gives the same bytes; the
// virtual-time simulator and the live gateway make the same picks for the same request
// sequence (no code path of sched/ is special-cased for simulation); bad input exits 2
// with one line that says why.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { Proc, metrics, sample, writeTemp } from '../lib/wellpath.mjs';

const TOPOLOGY = `model: qwen3-8b
gpu: h100
vllm:
  replicas: 3
  tensorParallel: 1
  prefixCaching: true
simulation:
  basePort: 0
  timeScale: 0.02
`;
const WORKLOAD = ['--set', 'num_groups=8', '--set', 'num_prompts_per_group=4', '--set', 'system_prompt_len=300',
  '--set', 'output_len=4', '--concurrency', '1', '--num-requests', '32', '--quiet'];

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  return { ...r, stdout: p.lines.stdout.join('\n'), stderr: p.lines.stderr.join('\n') };
}

test('test_simulate_same_seed_same_bytes', async () => {
  const topo = writeTemp(TOPOLOGY);
  const files = [writeTemp('', '.json'), writeTemp('', '.json'), writeTemp('', '.json')];
  const args = (f, seed) => ['simulate', '-f', topo, '--policies', 'round-robin,topology,llm-d', '--rate', '20',
    '--num-requests', '150', '--set', 'num_groups=5', '--set', 'system_prompt_len=800', '--seed', seed,
    '--json', f, '--quiet'];
  for (const [i, seed] of [[0, '7'], [1, '7'], [2, '8']]) {
    const r = await run(args(files[i], seed));
    assert.equal(r.code, 0, r.stderr);
  }
  const [a, b, c] = files.map((f) => fs.readFileSync(f, 'utf8'));
  assert.equal(a, b, 'same seed, same JSON bytes');
  assert.notEqual(a, c, 'another seed, another run');
  const rep = JSON.parse(a);
  assert.equal(rep.mode, 'simulate');
  assert.deepEqual(rep.runs.map((x) => x.policy), ['round-robin', 'topology', 'llm-d']);
  for (const run of rep.runs) {
    assert.equal(run.summary.requests, 150);
    assert.equal(run.summary.completed, 150, 'every request completes, counted once');
  }
});

// The live pool with bench in a closed loop of one, then simulate with the same workload:
// the picks per endpoint must be equal, policy by policy.
for (const policy of ['topology', 'random', 'prefix-aware']) {
  test(`test_simulate_picks_match_the_live_gateway_${policy}`, async (t) => {
    const topo = writeTemp(TOPOLOGY);
    const sim = await run(['simulate', '-f', topo, '--policy', policy, ...WORKLOAD]);
    assert.equal(sim.code, 0, sim.stderr);
    const simPicks = sim.stderr.match(/picks=([\d,]+)/)[1].split(',').map(Number);

    const up = new Proc(['up', '-f', topo, '--policy', policy, '--listen', '127.0.0.1:0']);
    t.after(() => up.stop());
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=3\/3/);
    const bench = await run(['bench', '--target', m[1], ...WORKLOAD]);
    assert.equal(bench.code, 0, bench.stderr);
    const prom = await metrics(m[1]);
    const livePicks = [0, 1, 2].map((i) => sample(prom, 'wellpath_gateway_picks_total', { endpoint: `sim-${i}` }));
    console.log(`${policy}: live picks ${livePicks}, simulated picks ${simPicks}`);
    assert.deepEqual(livePicks, simPicks);
    assert.equal(simPicks.reduce((x, y) => x + y, 0), 32);
  });
}

test('test_simulate_bad_input', async () => {
  const topo = writeTemp(TOPOLOGY);
  let r = await run(['simulate', '--rate', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-f FILE is required/);
  r = await run(['simulate', '-f', topo, '--policy', 'magic', '--num-requests', '3', '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown scheduling policy 'magic' \(valid: .*sglang-cache-aware/);
  r = await run(['simulate', '-f', topo, '--set', 'num_grups=3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /num_grups/);
  r = await run(['simulate', '-f', writeTemp('model: qwen3-8b\nvllm:\n  replicas: lots\n'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:3:\d+: vllm\.replicas: expected an integer/);
});

// vLLM's --num-warmups, as InferenceX runs it (2 x C warm-up, 10 x C measured, closed loop
// at C): 4 warm-up requests then 8 measured at concurrency 2. The report counts the 8 and
// says there were 4 warm-ups; the decision log shows every measured request sent (picked
// a client latency later) only after the last warm-up ended, the first two together.
test('test_simulate_warmup_before_the_measured_run', async () => {
  const topo = writeTemp(TOPOLOGY);
  const json = writeTemp('', '.json');
  const log = writeTemp('', '.jsonl');
  const r = await run(['simulate', '-f', topo, '--policy', 'round-robin', '--type', 'random', '--set', 'input_len=200',
    '--set', 'output_len={dist: uniform, min: 4, max: 40}', '--concurrency', '2', '--num-requests', '8',
    '--num-warmups', '4', '--seed', '2', '--json', json, '--decision-log', log, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(rep.workload.load.warmup, 4);
  const [one] = rep.runs;
  assert.equal(one.warmup, 4);
  assert.equal(one.warmup_failed, 0);
  assert.equal(one.summary.requests, 8, 'measured requests only');
  assert.equal(one.summary.completed, 8);
  assert.match(r.stdout, /^warm-up round-robin: 4 warm-up requests \(0 failed\) before the measured run/m);
  const picks = new Map();
  for (const line of fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const d = JSON.parse(line);
    if (d.event === 'pick') picks.set(Number(d.request.slice(1)), d.t);
  }
  assert.deepEqual([...picks.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const measured = [...picks].filter(([n]) => n > 4).map(([, t]) => t);
  const first = Math.min(...measured);
  assert.ok(first > one.warmup_end_s, `first measured pick ${first} s after the last warm-up ended at ${one.warmup_end_s} s`);
  assert.ok(first - one.warmup_end_s < 0.01, 'sent as soon as the warm-up drained');
  assert.equal(picks.get(5), picks.get(6), 'both slots filled at once');
  for (let n = 1; n <= 4; n++) assert.ok(picks.get(n) < one.warmup_end_s);

  // The key in a workload file, and its errors.
  const bad = await run(['simulate', '-f', topo, '--num-warmups', '-2', '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /load\.warmup: -2 is out of range \[0, 4000000\]/);
  const file = writeTemp('type: random\nload:\n  type: concurrency\n  concurrency: 2\n  warmup: lots\n');
  const badFile = await run(['simulate', '-f', topo, '--workload', file, '--quiet']);
  assert.equal(badFile.code, 2);
  assert.match(badFile.stderr, /:5:\d+: load\.warmup: expected an integer/);
});

// The engine model's constants from the topology (simulation.prefillMfu, decodeMbu,
// stepOverheadMs, and any of them under simulation.engineModel): with the layer floor at 0, one
// request alone on one replica decodes in steps of weights / (bandwidth x decodeMbu) + KV /
// (bandwidth x attnMbu) + overhead, so dropping a 3 ms overhead takes exactly 3 ms off every
// gap, and halving both bandwidth shares doubles the rest.
test('test_simulate_engine_constants', async () => {
  const itl = async (extra) => {
    const topo = writeTemp(`model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 1\nsimulation:\n  basePort: 0\n${extra}` +
      (extra.includes('engineModel') ? '' : '  engineModel: {layerLatencyUs: 0, attnMbu: 0.5}\n'));
    const json = writeTemp('', '.json');
    const r = await run(['simulate', '-f', topo, '--concurrency', '1', '--num-requests', '1',
      '--set', 'num_groups=1', '--set', 'system_prompt_len=64', '--set', 'output_len=64', '--json', json, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(fs.readFileSync(json, 'utf8')).runs[0].summary.itl_s.mean * 1000;
  };
  const base = await itl('  stepOverheadMs: 3\n  decodeMbu: 0.75\n');
  const bare = await itl('  stepOverheadMs: 0\n  decodeMbu: 0.75\n');
  const slow = await itl('  stepOverheadMs: 3\n  decodeMbu: 0.375\n  engineModel: {layerLatencyUs: 0, attnMbu: 0.25}\n');
  const faster = await itl('  stepOverheadMs: 0\n  decodeMbu: 0.75\n  prefillMfu: 0.65\n');
  const keyed = await itl('  decodeMbu: 0.75\n  engineModel: {layerLatencyUs: 0, attnMbu: 0.5, stepOverheadMs: 0}\n');
  assert.ok(Math.abs(base - bare - 3) < 0.01, `overhead: ${base} - ${bare} ms`);
  assert.ok(Math.abs((slow - 3) / (base - 3) - 2) < 0.01, `mbu halved: ${slow} vs ${base} ms`);
  assert.ok(Math.abs(faster - bare) < 0.01, 'the prefill MFU does not change a decode step');
  assert.ok(Math.abs(keyed - bare) < 1e-9, `engineModel.stepOverheadMs: ${keyed} vs ${bare} ms`);
  for (const [bad, msg] of [['moeMfux: 0.2', /engineModel\.moeMfux: unknown constant; allowed: prefillMfu, moeMfu/],
    ['moeMfu: 2', /engineModel\.moeMfu: engine model: moeMfu 2 must be in \(0, 1\]/],
    ['eagerLayerUs: fast', /engineModel\.eagerLayerUs: expected a number, got "fast"/],
    ['moeMfu: "0.2"', /engineModel\.moeMfu: expected a number, got the string "0\.2"/],
    ['layerLatencyUs: 0x10', /engineModel\.layerLatencyUs: expected a number, got "0x10"/],
    ['moeMfu: 0.2\n    moeMfu: 0.3', /:5:5: simulation\.engineModel\.moeMfu: duplicate key/]]) {
    const res = await run(['simulate', '-f', writeTemp(`model: qwen3-8b\nsimulation:\n  engineModel:\n    ${bad}\n`), '--quiet']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, msg);
  }
  let r = await run(['simulate', '-f', writeTemp('model: qwen3-8b\nsimulation:\n  decodeMbu: 1.5\n'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:3:\d+: simulation\.decodeMbu/);
  r = await run(['simulate', '-f', writeTemp('model: qwen3-8b\nsimulation:\n  stepOverheadMs: -1\n'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /simulation\.stepOverheadMs/);
  r = await run(['sim', '--decode-mbu', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--decode-mbu: expected a number in \(0, 1\], got '0'/);
  r = await run(['sim', '--engine-model', 'attnMbu=0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--engine-model: attnMbu: expected a number in range, got '0'/);
  for (const [bad, msg] of [['moeMfu=0.2,', /expected KEY=VALUE\[,KEY=VALUE\.\.\.\], got 'moeMfu=0\.2,'/],
    ['moeMfu=0.2,moeMfu=0.3', /--engine-model: moeMfu given twice/], ['nope=1', /unknown constant 'nope'/]]) {
    r = await run(['sim', '--engine-model', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, msg);
  }
  r = await run(['sim', '--step-overhead-ms', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--step-overhead-ms: expected a number in \[0, 1000\], got 'x'/);
});

// The gateway's admission from the topology, as the live gateway applies it: an in-flight
// limit of 1 on each of 3 replicas with 12 requests sent at once sheds 9 with 429; with flow
// control they wait at the gateway and all complete.
// The deployment settings the engine model reads (precision, vllm.kvCacheDtype) show in the
// engine line simulate prints at start, as vLLM logs its KV-cache size: FP8 KV holds twice the
// tokens of BF16 KV in the same memory, MXFP4 weights leave more room than FP8 ones. Bad
// values name the key.
test('test_simulate_precision_and_kv_dtype', async () => {
  const kv = async (extra) => {
    const topo = writeTemp(`model: gpt-oss-120b\ngpu: h100\nvllm:\n  replicas: 1\n  tensorParallel: 2\n${extra}`);
    const r = await run(['simulate', '-f', topo, '--num-requests', '1', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const m = /engine gpt-oss-120b \((\w+) weights, (\d)-byte KV\) on h100 x tp2: weights ([\d.]+) GB per GPU, KV cache (\d+) tokens/.exec(r.stderr);
    assert.ok(m, r.stderr);
    return { prec: m[1], kvBytes: +m[2], weights: +m[3], tokens: +m[4] };
  };
  const native = await kv('');
  assert.deepEqual([native.prec, native.kvBytes], ['mxfp4', 2]);
  const fp8kv = await kv('  kvCacheDtype: fp8\n');
  assert.ok(Math.abs(fp8kv.tokens / native.tokens - 2) < 0.001, `${fp8kv.tokens} vs ${native.tokens}`);
  const fp8 = await kv('precision: fp8\n');
  assert.equal(fp8.prec, 'fp8');
  assert.ok(fp8.weights > native.weights && fp8.tokens < native.tokens);
  for (const [bad, msg] of [['precision: int4\n', /:2:12: precision: "int4" is not one of: bf16, fp8, mxfp4, nvfp4/],
    ['  kvCacheDtype: fp4\n', /vllm\.kvCacheDtype: "fp4" is not one of: auto, bfloat16, fp8, fp8_e4m3, fp8_e5m2/],
    ['  maxCudagraphCaptureSize: 0\n', /vllm\.maxCudagraphCaptureSize: 0 is out of range/]]) {
    const topo = writeTemp(bad.startsWith(' ') ? `model: qwen3-8b\nvllm:\n${bad}` : `model: qwen3-8b\n${bad}`);
    const r = await run(['simulate', '-f', topo, '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});

// The P/D guide's gpt-oss-120b deployment (8 prefill TP1 + 2 decode TP4 on H200) loads and
// simulates: with MXFP4 weights gpt-oss fits on one H200 (65.2 GB), which BF16 weights did not.
test('test_simulate_pd_guide_gpt_oss', async () => {
  const topo = writeTemp('model: gpt-oss-120b\ngpu: h200\nprefill:\n  replicas: 8\n  tensorParallel: 1\n' +
    'decode:\n  replicas: 2\n  tensorParallel: 4\nnixl:\n  backend: ucx\n  transport: rdma\n');
  const json = writeTemp('', '.json');
  const r = await run(['simulate', '-f', topo, '--type', 'random', '--set', 'input_len=4000', '--set', 'output_len=64', '--rate', '8',
    '--num-requests', '40', '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /prefill engine gpt-oss-120b \(mxfp4 weights, 2-byte KV\) on h200 x tp1: weights 65\.2 GB per GPU/);
  assert.match(r.stderr, /decode engine gpt-oss-120b \(mxfp4 weights, 2-byte KV\) on h200 x tp4/);
  const sum = JSON.parse(fs.readFileSync(json, 'utf8')).runs[0].summary;
  assert.equal(sum.completed, 40);
  assert.equal(sum.failed, 0);
});

// The seed's Path 3 topology (topologies/wide-ep.yaml: DeepSeek-R1 on 32 H200s, a prefill
// and a decode group of 16 data-parallel ranks each) loads unchanged and runs at full size:
// each rank holds the dense weights and 16 of the 256 experts in FP8; every request is
// served, and every decode rank takes a share.
test('test_simulate_wide_ep_seed', async () => {
  const topo = new URL('../../topologies/wide-ep.yaml', import.meta.url).pathname;
  const json = writeTemp('', '.json');
  const r = await run(['simulate', '-f', topo, '--type', 'random', '--set', 'input_len=1000', '--set', 'output_len=100',
    '--concurrency', '256', '--num-requests', '512', '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const eng = /decode engine deepseek-r1 \(fp8 weights, 2-byte KV\) on h200 x wide-EP groups of 16 ranks: weights ([\d.]+) GB per GPU, KV cache (\d+) tokens/.exec(r.stderr);
  assert.ok(eng, r.stderr);
  assert.ok(+eng[1] > 40 && +eng[1] < 80, `dense weights + 16 experts per rank: ${eng[1]} GB`);
  const sum = JSON.parse(fs.readFileSync(json, 'utf8')).runs[0].summary;
  assert.equal(sum.completed, 512);
  assert.equal(sum.failed, 0);
  const picks = /picks=([\d,]+)/.exec(r.stderr)[1].split(',').map(Number);
  assert.equal(picks.length, 32);
  assert.ok(picks.slice(16).every((n) => n > 0), `every decode rank served: ${picks}`);
});

// --uncertainty: each policy again with the engine model's unset constants at the fast and
// at the slow end of their ranges, and a band per metric that holds the calibrated value;
// a constant the topology sets stays put (here every one is set: the three runs agree).
test('test_simulate_uncertainty', async () => {
  const go = async (extra) => {
    const topo = writeTemp(`model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 2\nsimulation:\n  basePort: 0\n${extra}`);
    const json = writeTemp('', '.json');
    const r = await run(['simulate', '-f', topo, '--concurrency', '4', '--num-requests', '16', '--uncertainty',
      '--json', json, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    return { out: r.stdout, runs: JSON.parse(fs.readFileSync(json, 'utf8')).runs };
  };
  const { out, runs } = await go('');
  assert.deepEqual(runs.map((x) => x.policy), ['topology', 'topology [fast]', 'topology [slow]']);
  const ttft = runs.map((x) => x.summary.ttft_s.mean);
  assert.ok(ttft[1] < ttft[0] && ttft[0] < ttft[2], `fast < calibrated < slow: ${ttft}`);
  const band = /uncertainty: topology: TTFT mean ([\d.]+) ms \[([\d.]+), ([\d.]+)\]/.exec(out);
  assert.ok(band, out);
  assert.ok(Math.abs(+band[2] - ttft[1] * 1000) < 0.01 * ttft[1] * 1000 && Math.abs(+band[3] - ttft[2] * 1000) < 0.01 * ttft[2] * 1000);
  const keys = ['prefillMfu: 0.5', 'moeMfu: 0.2', 'decodeMbu: 0.7', 'attnMbu: 0.5', 'stepOverheadMs: 1', 'layerLatencyUs: 20',
    'moeSlotLatencyUs: 5', 'eagerLayerUs: 300', 'allreduceLatencyUs: 5', 'activationReserveGiB: 6', 'allreduceBwShare: 0.45', 'eagerMoeLayerUs: 500'];
  const pinned = await go(`  engineModel: {${keys.join(', ')}}\n`);
  const t = pinned.runs.map((x) => x.summary.ttft_s.mean);
  assert.ok(t[0] === t[1] && t[1] === t[2], `every constant set: ${t}`);
});

test('test_simulate_gateway_admission', async () => {
  const topo = (flow) => writeTemp(`${TOPOLOGY}gateway:\n  maxInFlightPerEndpoint: 1\n  flowControl:\n    enabled: ${flow}\n`);
  const args = (f, json) => ['simulate', '-f', f, '--policy', 'round-robin', '--rate', '10000', '--num-requests', '12',
    '--set', 'output_len=8', '--json', json, '--quiet'];
  for (const [flow, completed, shed] of [[false, 3, 9], [true, 12, 0]]) {
    const json = writeTemp('', '.json');
    const r = await run(args(topo(flow), json));
    assert.equal(r.code, 0, r.stderr);
    const sum = JSON.parse(fs.readFileSync(json, 'utf8')).runs[0].summary;
    assert.equal(sum.completed, completed, `flow ${flow}`);
    assert.equal(sum.failures.http_4xx, shed, `flow ${flow}: shed with 429`);
    assert.match(r.stderr, new RegExp(`\\d+ queued at the gateway, ${shed} shed`));
  }
});

// P/D in virtual time: the guide's Path 2 block, and the prefill:decode split of a GPU budget.
test('test_simulate_pd_and_xpyd_sweep', async () => {
  const topo = writeTemp(`model: qwen3-32b
gpu: h100
prefill:
  replicas: 2
  tensorParallel: 2
decode:
  replicas: 2
  tensorParallel: 2
nixl:
  backend: ucx
  transport: rdma
`);
  const load = ['--type', 'random', '--set', 'input_len=8000', '--set', 'output_len=100', '--rate', '2',
    '--num-requests', '40', '--quiet'];
  const json = writeTemp('', '.json');
  let r = await run(['simulate', '-f', topo, ...load, '--json', json]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(rep.runs[0].summary.completed, 40);
  r = await run(['simulate', '-f', topo, ...load, '--xpyd-gpus', '8', '--json', json]);
  assert.equal(r.code, 0, r.stderr);
  const sweep = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.deepEqual(sweep.runs.map((x) => x.policy), ['1P3D', '2P2D', '3P1D']);
  for (const x of sweep.runs) assert.equal(x.summary.completed, 40);
  assert.match(r.stdout, /^xpyd: 8 GPUs: best by output tokens\/s \dP\dD/m);
  // A Path 1 topology cannot be swept.
  r = await run(['simulate', '-f', writeTemp(TOPOLOGY), ...load, '--xpyd-gpus', '8']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs a topology with prefill and decode sections/);
});

// Precise prefix routing and gateway replicas, in virtual time: the Path 1 workload of
// bench-path1 (shared prefixes that fit the pool but not one replica), its first 10 s at 12/s. One gateway: llm-d
// and llm-d-precise both come close to the oracle. Three replicas that keep their routing
// to themselves: the approximate scheduler loses hits (each replica knows a third of the
// routing), the precise one, reading the engines' own KV events, does not; with shareRoutes
// the approximate replicas learn each other's routing and get their hits back.
test('test_simulate_precise_prefix_and_gateway_replicas', async () => {
  const base = fs.readFileSync(new URL('../../bench/path1/topology.yaml', import.meta.url), 'utf8');
  const workload = new URL('../../bench/path1/workload.yaml', import.meta.url).pathname;
  const hits = async (replicas, share) => {
    const topo = writeTemp(`${base}gateway:\n  replicas: ${replicas}\n  shareRoutes: ${share}\n`);
    const r = await run(['simulate', '-f', topo, '--workload', workload, '--stages', '12:10', '--policies',
      'llm-d,llm-d-precise', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const out = {};
    for (const m of r.stderr.matchAll(/simulate: ([\w-]+): prefix-cache hits ([\d.]+)% .* ([\d.]+)%/g))
      out[m[1]] = { hit: Number(m[2]), oracle: Number(m[3]) };
    assert.ok(out['llm-d'] && out['llm-d-precise'], r.stderr);
    return out;
  };
  const one = await hits(1, true);
  for (const p of ['llm-d', 'llm-d-precise']) {
    assert.ok(one[p].hit > one[p].oracle - 5, `${p} with one gateway: ${one[p].hit}% vs oracle ${one[p].oracle}%`);
    assert.ok(one[p].hit <= one[p].oracle + 0.05, `${p} cannot beat the oracle`);
  }
  const apart = await hits(3, false);
  assert.ok(apart['llm-d'].hit < one['llm-d'].hit - 20,
    `three approximate replicas lose hits: ${apart['llm-d'].hit}% vs ${one['llm-d'].hit}%`);
  assert.ok(Math.abs(apart['llm-d-precise'].hit - one['llm-d-precise'].hit) < 1,
    `precise replicas keep them: ${apart['llm-d-precise'].hit}% vs ${one['llm-d-precise'].hit}%`);
  const shared = await hits(3, true);
  assert.ok(shared['llm-d'].hit > one['llm-d'].hit - 2,
    `shared routes restore them: ${shared['llm-d'].hit}% vs ${one['llm-d'].hit}%`);
  const bad = await run(['simulate', '-f', writeTemp(`${base}gateway:\n  replicas: 17\n`), '--workload', workload,
    '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /replicas/);
});

// Scale-to-zero in virtual time (gateway.scaleToZero, the core the live gateway runs): bursts
// with long quiet stretches between them. The pool sleeps in the gaps (most of the run), the
// first requests of a burst wait for the wake-up (the model's 0.4 s for Qwen3-8B on an H100),
// and nothing fails; the same pool always on never sleeps and has no such wait.
test('test_simulate_scale_to_zero', async () => {
  const base = fs.readFileSync(new URL('../../bench/scale-to-zero/scale-to-zero.yaml', import.meta.url), 'utf8');
  const args = (f) => ['simulate', '-f', f, '--type', 'random', '--set', 'input_len=500', '--set', 'output_len=50',
    '--stages', '4:3,0.01:20,4:3,0.01:20,4:3', '--json', writeTemp('', '.json'), '--quiet'];
  const on = await run(args(writeTemp(base)));
  assert.equal(on.code, 0, on.stderr);
  const m = on.stderr.match(/scale-to-zero: the pool slept ([\d.]+) s of ([\d.]+) s \((\d+) %\): (\d+) sleeps, (\d+) wake-ups of ([\d.]+) s, (\d+) requests held/);
  assert.ok(m, on.stderr);
  assert.ok(+m[3] > 50, `asleep most of the run: ${m[3]} %`);
  assert.ok(+m[4] >= 2 && +m[5] >= 2, 'it slept and woke between the bursts');
  assert.ok(Math.abs(+m[6] - 0.4) < 0.02, `wake-up ${m[6]} s`);
  assert.ok(+m[7] >= 2, 'the first requests of a burst were held');
  const always = await run(args(writeTemp(base.replace('enabled: true', 'enabled: false'))));
  assert.equal(always.code, 0, always.stderr);
  assert.doesNotMatch(always.stderr, /scale-to-zero: the pool slept/);
  const p95 = (s) => +s.match(/^topology\s+\d+\s+0\s+\S+\s+\S+\s+\S+\s+(\S+)/m)[1];
  assert.ok(p95(on.stdout) > p95(always.stdout) + 300, `cold starts show in TTFT p95: ${p95(on.stdout)} vs ${p95(always.stdout)} ms`);
});
