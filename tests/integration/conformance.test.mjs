// Conformance: the live gateway and `wellpath simulate` decide with the same code, so the
// same requests in the same order get the same decisions. One workload (closed loop, one
// request at a time, prompts in groups that share a system prompt) goes through the
// gateway in front of three `wellpath sim` replicas (via `wellpath bench`, decisions in
// gateway.decisionLog) and through the simulator in virtual time (--decision-log). The
// second replica answers 70 % of its requests with an injected 500 (drawn from the same
// seed on both sides), so the logs also hold retries and the ejection of that replica by
// outlier detection; and the live gateway is reloaded in the middle of the run, which must
// change nothing. The two logs, times and request ids left out (and the live reload line),
// must be equal line for line: the same endpoint, prefix share, candidates and every
// scorer's score for every pick, tie-breaks included. A second case does the same for a
// P/D pool (the decision to disaggregate, the prefill and the decode picks).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';

import { Proc, startGateway, startSim, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const TOKEN = 'conformance-token';
const SHARED = `inferenceScheduler:
  scorers:
    - {type: prefix-aware, weight: 100}
    - {type: load-aware, weight: 50}
gateway:
  retries: 2
  outlierDetection: {consecutiveFailures: 2, baseEjectionMs: 600000, maxEjectionMs: 600000}
simulation:
  seed: 7
  faults: ["500:0.7"]
  faultReplicas: [1]
`;
const WORKLOAD = ['--type', 'shared_prefix', '--set', 'num_groups=4', '--set', 'num_prompts_per_group=4',
  '--set', 'system_prompt_len=300', '--set', 'question_len=20', '--set', 'output_len=4',
  '--concurrency', '1', '--num-requests', '24', '--seed', '3', '--quiet'];

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  assert.equal(r.code, 0, `wellpath ${args[0]} failed: ${p.lines.stderr.join('\n')}`);
}

function lines(file) {
  const text = fs.readFileSync(file, 'utf8').trim();
  return text ? text.split('\n').map((l) => JSON.parse(l)) : [];
}

// What must agree: everything but the time and the request's id.
// Live and simulated decisions agree; on a mismatch, the first decision that differs, whole.
function assertSameDecisions(live, des) {
  const i = live.findIndex((d, k) => JSON.stringify(d) !== JSON.stringify(des[k]));
  if (i >= 0 || live.length !== des.length)
    assert.fail(`decision ${i} of ${live.length} (simulated ${des.length}) differs:\n  live      ${JSON.stringify(live[i])}\n  simulated ${JSON.stringify(des[i])}`);
}

function decisions(all) {
  return all.filter((d) => d.event !== 'reload').map(({ t, request, ...rest }) => {
    assert.ok(Number.isFinite(t), `a time on every line: ${JSON.stringify(rest)}`);
    return rest;
  });
}

const procs = [];
after(async () => {
  for (const [p, what] of procs.reverse()) await stopClean(assert, p, what);
});

async function startRole(role, replicas, args = []) {
  const p = new Proc(['sim', '--role', role, '--replicas', String(replicas), '--port', '0', '--time-scale', '0.02', '--seed', '7', ...args]);
  procs.push([p, `sim ${role}`]);
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=([\d,]+)/);
  return m[2].split(',').map(Number);
}

test('the gateway and the simulator take the same decisions on the same requests', async () => {
  const desLog = writeTemp('', '.jsonl');
  const liveLog = writeTemp('', '.jsonl');
  const desTopo = writeTemp(`model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 3\n${SHARED}`);
  await run(['simulate', '-f', desTopo, ...WORKLOAD, '--decision-log', desLog]);

  const sim = await startSim({ replicas: 3, timeScale: 0.02, args: ['--seed', '7', '--fault', '500:0.7', '--fault-replicas', '1'] });
  procs.push([sim.proc, 'sim']);
  const eps = sim.ports.map((port, i) => ({ name: `engine-${i}`, port }));
  const extra = SHARED.replace('gateway:\n', `gateway:\n  decisionLog: ${liveLog}\n  adminToken: ${TOKEN}\n`);
  const gw = await startGateway(eps, { extra });
  procs.push([gw.proc, 'gateway']);
  const bench = run(['bench', '--target', gw.url, ...WORKLOAD]);
  // A reload half way through: the state of the endpoints that stay carries over.
  await waitUntil(() => lines(liveLog).length >= 12, { timeout: 30000, what: 'half the requests decided' });
  const reload = await fetch(`${gw.url}/admin/reload`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(reload.status, 200, await reload.text());
  await bench;

  const live = lines(liveLog);
  assert.equal(live.filter((d) => d.event === 'reload').length, 1, 'the reload is in the log');
  const des = decisions(lines(desLog));
  assertSameDecisions(decisions(live), des);
  // The run is one that routing can get wrong: prefixes are found again, the failing
  // replica is retried away from and ejected.
  assert.ok(des.filter((d) => d.event === 'pick' && d.prefix > 0.5).length >= 12, JSON.stringify(des));
  assert.ok(des.some((d) => d.event === 'retry' && d.endpoint === 'engine-1' && d.status === 500));
  assert.deepEqual(des.filter((d) => d.event === 'eject').map((d) => d.endpoint), ['engine-1']);
});

// P/D: two prefill and two decode replicas; the decider sends a prompt to a prefill
// endpoint when it and its uncached part on the decode endpoint it would get reach 200
// tokens. The second replica of each pool fails 70 % of its requests with a 500: a failed
// prefill falls back to decoding without it, a failed decode is retried, and outlier
// detection ejects them. Both sides log the same P/D decisions, picks, retries and
// ejections.
test('P/D: the same decisions to disaggregate, and the same prefill and decode picks', async () => {
  const desLog = writeTemp('', '.jsonl');
  const liveLog = writeTemp('', '.jsonl');
  // The first case's scheduler, gateway and faults, with the P/D threshold.
  const sched = SHARED.replace('inferenceScheduler:\n', 'inferenceScheduler:\n  pdThreshold: 200\n');
  const workload = WORKLOAD.map((a) => ({ 'num_groups=4': 'num_groups=8', 'num_prompts_per_group=4': 'num_prompts_per_group=2', 24: '16' })[a] ?? a);
  await run(['simulate', '-f', writeTemp(`model: qwen3-8b\ngpu: h100\nprefill: {replicas: 2}\ndecode: {replicas: 2}\n${sched}`),
    ...workload, '--decision-log', desLog]);

  const faults = ['--fault', '500:0.7', '--fault-replicas', '1'];
  const [pre, dec] = await Promise.all([startRole('prefill', 2, faults), startRole('decode', 2, faults)]);
  const eps = [...pre.map((port, i) => ({ name: `prefill-${i}`, port, role: 'prefill' })),
    ...dec.map((port, i) => ({ name: `decode-${i}`, port, role: 'decode' }))];
  const gw = await startGateway(eps, { extra: sched.replace('gateway:\n', `gateway:\n  decisionLog: ${liveLog}\n`) });
  procs.push([gw.proc, 'gateway']);
  await run(['bench', '--target', gw.url, ...workload]);

  const des = decisions(lines(desLog));
  assertSameDecisions(decisions(lines(liveLog)), des);
  const pd = des.filter((d) => d.event === 'pd').map((d) => d.decision);
  assert.equal(pd.length, 16);
  assert.ok(pd.includes('disaggregate') && pd.includes('decode_only'), JSON.stringify(pd));
  assert.ok(des.some((d) => d.event === 'pick' && d.role === 'prefill'));
  assert.ok(des.some((d) => d.event === 'retry' && d.endpoint === 'decode-1'));
  assert.deepEqual(des.filter((d) => d.event === 'eject').map((d) => d.endpoint).sort(), ['decode-1', 'prefill-1']);
});
