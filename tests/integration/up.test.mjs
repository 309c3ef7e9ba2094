// `wellpath up`: a simulated pool (a child `wellpath sim` process) and the gateway from
// one topology file. The ready line, a request through it, SIGTERM stopping the child
// too, and bad topology files rejected with exit code 2 and one line naming key and line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { MODEL, Proc, canConnect, childPids, freePort, listeningPorts, metrics, pidAlive, post, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const TOPOLOGY = `model: qwen3-8b
gpu: h100
vllm:
  replicas: 2
  tensorParallel: 1
  prefixCaching: true
simulation:
  basePort: 0
  timeScale: 0.05
`;

test('test_up_serves_and_stops_its_child', async (t) => {
  const up = new Proc(['up', '-f', writeTemp(TOPOLOGY), '--listen', '127.0.0.1:0']);
  t.after(() => up.stop());
  const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:(\d+)\/v1) replicas=(\d+)\/(\d+) model=(\S+)/);
  assert.equal(m[3], '2', 'both replicas joined before the ready line');
  assert.equal(m[4], '2');
  assert.equal(m[5], MODEL);
  const base = m[1];

  const r = await post(`${base}/completions`, { model: MODEL, prompt: 'Hello from the up test', max_tokens: 4 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.completion_tokens, 4);
  assert.match(r.headers.get('x-wellpath-endpoint'), /^sim-[01]$/);
  const chat = await post(`${base}/chat/completions`, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.equal(chat.status, 200, 'the model may be left out');

  // The child sim process and the ports it listens on.
  const kids = childPids(up.pid);
  assert.equal(kids.length, 1, `one child process: ${kids}`);
  const simPid = kids[0];
  // Each replica listens twice: its HTTP port and its KV side channel (P/D pulls).
  const simPorts = await waitUntil(() => {
    const p = listeningPorts(simPid);
    return p.length === 4 ? p : null;
  }, { what: 'the child to list its four listening ports' });
  for (const p of simPorts) assert.ok(await canConnect(p), `sim port ${p} accepts connections`);

  await stopClean(assert, up, 'wellpath up');
  await waitUntil(() => !pidAlive(simPid), { what: `the child sim ${simPid} to exit` });
  assert.ok(!(await canConnect(Number(m[2]))), 'the gateway port is closed');
  for (const p of simPorts) assert.ok(!(await canConnect(p)), `sim port ${p} is closed`);
});

async function badTopology(text) {
  const file = writeTemp(text);
  const p = new Proc(['up', '-f', file, '--listen', '127.0.0.1:0']);
  const r = await p.exit;
  const err = p.lines.stderr.filter((l) => l.trim() !== '');
  return { code: r.code, err, file };
}

test('test_up_bad_topology_unknown_key', async () => {
  const { code, err } = await badTopology('model: qwen3-8b\nvllm:\n  replicas: 2\n  replicaz: 3\n');
  assert.equal(code, 2);
  assert.equal(err.length, 1, `one line: ${err.join('\n')}`);
  assert.match(err[0], /replicaz/, 'names the key');
  assert.match(err[0], /:4:/, 'names the line');
});

test('test_up_bad_topology_wrong_type', async () => {
  const { code, err } = await badTopology('model: qwen3-8b\nsimulation:\n  basePort: 0\n  timeScale: fast\n');
  assert.equal(code, 2);
  assert.equal(err.length, 1, `one line: ${err.join('\n')}`);
  assert.match(err[0], /simulation\.timeScale/, 'names the key');
  assert.match(err[0], /:4:/, 'names the line');
});

test('test_up_bad_topology_unknown_model', async () => {
  const { code, err } = await badTopology('model: gpt-17\nsimulation:\n  basePort: 0\n');
  assert.equal(code, 2);
  assert.equal(err.length, 1, `one line: ${err.join('\n')}`);
  assert.match(err[0], /gpt-17/);
});

test('test_up_help', async () => {
  const p = new Proc(['up', '--help']);
  const r = await p.exit;
  assert.equal(r.code, 0);
  assert.match(p.lines.stdout.join('\n'), /usage: wellpath up/);
  const bad = new Proc(['up', '--no-such-flag']);
  assert.equal((await bad.exit).code, 2);
});

// SIGHUP and POST /admin/reload re-read the file: the gateway's part applies to the running
// pool; a change to the simulated pool is refused (it needs a restart); POST /admin/drain
// stops everything cleanly.
test('test_up_reloads_the_gateway_part_and_refuses_pool_changes', async (t) => {
  const file = writeTemp(`${TOPOLOGY}gateway:\n  adminToken: t0ken\n`);
  const up = new Proc(['up', '-f', file, '--listen', '127.0.0.1:0']);
  t.after(() => up.stop());
  const m = await up.waitFor(/^wellpath up: ready gateway=http:\/\/127\.0\.0\.1:(\d+)\/v1/);
  const url = `http://127.0.0.1:${m[1]}`;
  const admin = (path) => fetch(`${url}${path}`, { method: 'POST', headers: { Authorization: 'Bearer t0ken' } });
  const policy = async () => (await (await fetch(`${url}/status`)).json()).policy;
  assert.equal(await policy(), 'topology');

  fs.writeFileSync(file, `${TOPOLOGY}inferenceScheduler:\n  policy: round-robin\ngateway:\n  adminToken: t0ken\n`);
  let r = await admin('/admin/reload');
  assert.equal(r.status, 200, await r.text());
  assert.equal(await policy(), 'round-robin');
  const seen = new Set();
  for (let i = 0; i < 4; i++) seen.add((await post(`${url}/v1/completions`, { model: MODEL, prompt: 'same prompt', max_tokens: 1 })).headers.get('x-wellpath-endpoint'));
  assert.deepEqual([...seen].sort(), ['sim-0', 'sim-1'], 'round-robin over the running replicas');

  fs.writeFileSync(file, `${TOPOLOGY.replace('replicas: 2', 'replicas: 3')}gateway:\n  adminToken: t0ken\n`);
  r = await admin('/admin/reload');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /simulated pool changed .* restart/);
  assert.equal(await policy(), 'round-robin', 'the running config is kept');

  fs.writeFileSync(file, `${TOPOLOGY}inferenceScheduler:\n  policy: least-request\ngateway:\n  adminToken: t0ken\n`);
  const from = up.lines.stderr.length;
  up.child.kill('SIGHUP');
  await up.waitFor(/msg=reloaded/, { stream: 'stderr', from });
  assert.equal(await policy(), 'least-request');

  r = await admin('/admin/drain');
  assert.equal(r.status, 202);
  const exit = await up.exit;
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, up.output());
});

// Every vllm.* and simulation.* key reaches the `wellpath sim` child (issue 12): with all
// the engine settings, 16 faults and an admin token, the child's arguments outgrew the
// fixed argv of os/child and the last ones (the admin token) were silently dropped.
test('test_up_passes_every_simulation_setting_to_its_child', async (t) => {
  const port = await freePort();
  const faults = Array.from({ length: 16 }, () => '    - "500:0"').join('\n');
  const file = writeTemp(`model: qwen3-8b
vllm:
  replicas: 1
  prefixCaching: false
  maxNumSeqs: 64
  maxNumBatchedTokens: 4096
  blockSize: 32
  maxModelLen: 8192
  gpuMemoryUtilization: 0.8
simulation:
  basePort: ${port}
  timeScale: 0.05
  seed: 9
  prefillMfu: 0.4
  decodeMbu: 0.6
  stepOverheadMs: 2
  adminToken: s3cret
  faults:
${faults}
`);
  const up = new Proc(['up', '-f', file, '--listen', '127.0.0.1:0'], { env: { WELLPATH_ADMIN_TOKEN: '' } });
  t.after(() => up.stop());
  await up.waitFor(/^wellpath up: ready gateway=http:\/\/127\.0\.0\.1:\d+\/v1 replicas=1\/1/);
  const sim = `http://127.0.0.1:${port}`;
  const res = await fetch(`${sim}/admin/faults`, { headers: { Authorization: 'Bearer s3cret' } });
  assert.equal(res.status, 200, 'simulation.adminToken reached the child');
  assert.equal((await res.json()).faults.length, 16, 'all 16 faults reached the child');
  const tok = await post(`${sim}/tokenize`, { prompt: 'hi' });
  assert.equal(tok.json.max_model_len, 8192);
  const info = (await metrics(sim)).find((x) => x.name === 'vllm:cache_config_info');
  assert.ok(info, 'vllm:cache_config_info exported');
  assert.equal(info.labels.block_size, '32');
  assert.equal(info.labels.enable_prefix_caching, 'False');
  assert.equal(info.labels.gpu_memory_utilization, '0.8');
  await stopClean(assert, up, 'wellpath up');
});

// The seed's Path 3 topology at full size, unchanged: 32 ranks of DeepSeek-R1 (a prefill and
// a decode group of 16) join the gateway, one endpoint each, and a long prompt goes through
// a prefill rank and a decode rank.
test('test_up_wide_ep_seed_full_size', async (t) => {
  const seed = new URL('../../topologies/wide-ep.yaml', import.meta.url).pathname;
  const up = new Proc(['up', '-f', seed, '--listen', '127.0.0.1:0', '--base-port', '0']);
  t.after(() => stopClean(assert, up, 'wellpath up'));
  const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+\/v1) replicas=32\/32 model=(\S+)/, { timeout: 30000 });
  assert.equal(m[2], 'deepseek-ai/DeepSeek-R1');
  const r = await post(`${m[1]}/completions`, { model: 'deepseek-r1', prompt: 'a long prompt for a wide-EP group '.repeat(100), max_tokens: 4 });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('x-wellpath-endpoint'), /^decode-\d+$/);
  const prom = await metrics(m[1].replace(/\/v1$/, ''));
  assert.equal(prom.filter((s) => s.name === 'wellpath_endpoint_info' && s.labels.group === 'prefill-g0').length, 16);
  assert.equal(prom.filter((s) => s.name === 'wellpath_endpoint_info' && s.labels.group === 'decode-g0').length, 16);
});
