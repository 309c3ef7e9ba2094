// Conformance: the live gateway and `wellpath simulate` decide with the same code, so the
// same requests in the same order get the same decisions. One workload (closed loop, one
// request at a time, prompts in groups that share a system prompt) goes through the
// gateway in front of three `wellpath sim` replicas (via `wellpath bench`, decisions in
// gateway.decisionLog) and through the simulator in virtual time (--decision-log). The two
// decision logs, times and request ids left out, must be equal line for line: the same
// endpoint, prefix share, candidates and every scorer's score for every request,
// tie-breaks included (the same seed).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';

import { Proc, startGateway, startSim, stopClean, writeTemp } from '../lib/wellpath.mjs';

const SCHEDULER = `inferenceScheduler:
  scorers:
    - {type: prefix-aware, weight: 100}
    - {type: load-aware, weight: 50}
simulation:
  seed: 7
`;
const WORKLOAD = ['--type', 'shared_prefix', '--set', 'num_groups=3', '--set', 'num_prompts_per_group=5',
  '--set', 'system_prompt_len=300', '--set', 'question_len=20', '--set', 'output_len=4',
  '--concurrency', '1', '--num-requests', '15', '--seed', '3', '--quiet'];

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  assert.equal(r.code, 0, `wellpath ${args[0]} failed: ${p.lines.stderr.join('\n')}`);
}

// What must agree: everything but the time and the request's id.
function decisions(file) {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
    const { t, request, ...rest } = JSON.parse(l);
    assert.ok(Number.isFinite(t), `a time on every line: ${l}`);
    return rest;
  });
}

let sim;
let gw;
after(async () => {
  if (gw) await stopClean(assert, gw.proc, 'gateway');
  if (sim) await stopClean(assert, sim.proc, 'sim');
});

test('the gateway and the simulator take the same decisions on the same requests', async () => {
  const desLog = writeTemp('', '.jsonl');
  const liveLog = writeTemp('', '.jsonl');
  const desTopo = writeTemp(`model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 3\n${SCHEDULER}`);
  await run(['simulate', '-f', desTopo, ...WORKLOAD, '--decision-log', desLog]);

  sim = await startSim({ replicas: 3, timeScale: 0.02 });
  const eps = sim.ports.map((port, i) => ({ name: `engine-${i}`, port }));
  gw = await startGateway(eps, { extra: `${SCHEDULER}gateway:\n  decisionLog: ${liveLog}\n` });
  await run(['bench', '--target', gw.url, ...WORKLOAD]);

  const live = decisions(liveLog);
  const des = decisions(desLog);
  assert.equal(live.length, 15, 'one pick per request');
  assert.deepEqual(live, des);
  // The workload is one that routing can get wrong: prefixes are found again.
  assert.ok(live.filter((d) => d.prefix > 0.5).length >= 9, JSON.stringify(live));
  assert.ok(new Set(live.map((d) => d.endpoint)).size >= 2, 'more than one endpoint used');
});
