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
// stepOverheadMs): one request alone on one replica decodes in steps of weights / (bandwidth x
// MBU) + overhead, so dropping the 3 ms overhead takes exactly 3 ms off every gap, and halving
// the MBU doubles the rest.
test('test_simulate_engine_constants', async () => {
  const itl = async (extra) => {
    const topo = writeTemp(`model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 1\nsimulation:\n  basePort: 0\n${extra}`);
    const json = writeTemp('', '.json');
    const r = await run(['simulate', '-f', topo, '--concurrency', '1', '--num-requests', '1',
      '--set', 'num_groups=1', '--set', 'system_prompt_len=64', '--set', 'output_len=64', '--json', json, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(fs.readFileSync(json, 'utf8')).runs[0].summary.itl_s.mean * 1000;
  };
  const base = await itl('');
  const bare = await itl('  stepOverheadMs: 0\n');
  const slow = await itl('  decodeMbu: 0.375\n');
  const faster = await itl('  decodeMbu: 0.75\n  stepOverheadMs: 0\n  prefillMfu: 0.65\n');
  assert.ok(Math.abs(base - bare - 3) < 0.01, `overhead: ${base} - ${bare} ms`);
  assert.ok(Math.abs((slow - 3) / (base - 3) - 2) < 0.01, `mbu halved: ${slow} vs ${base} ms`);
  assert.ok(Math.abs(faster - bare) < 0.01, 'the prefill MFU does not change a decode step');
  let r = await run(['simulate', '-f', writeTemp('model: qwen3-8b\nsimulation:\n  decodeMbu: 1.5\n'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:3:\d+: simulation\.decodeMbu/);
  r = await run(['simulate', '-f', writeTemp('model: qwen3-8b\nsimulation:\n  stepOverheadMs: -1\n'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /simulation\.stepOverheadMs/);
  r = await run(['sim', '--decode-mbu', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--decode-mbu: expected a number in \(0, 1\], got '0'/);
  r = await run(['sim', '--step-overhead-ms', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--step-overhead-ms: expected a number in \[0, 1000\], got 'x'/);
});

// The gateway's admission from the topology, as the live gateway applies it: an in-flight
// limit of 1 on each of 3 replicas with 12 requests sent at once sheds 9 with 429; with flow
// control they wait at the gateway and all complete.
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
