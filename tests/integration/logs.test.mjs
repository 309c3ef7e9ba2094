// The gateway's request log: one structured line per request (id, model, endpoint,
// status, TTFT, tokens, the winning scores), logfmt or JSON; the prompt never appears
// unless the operator asks for it with gateway.logPrompts.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MODEL, Proc, gatewayTopology, post, startGateway, startSim, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const SECRET = 'the-launch-code-is-swordfish';

async function requestLines(gw, n) {
  const lines = () => gw.proc.lines.stderr.filter((l) => l.includes('msg=request') || l.includes('"msg":"request"'));
  await waitUntil(() => lines().length >= n, { timeout: 10000, what: `${n} request log lines` });
  return lines();
}

test('test_logs_logfmt_without_prompts', async (t) => {
  const sim = await startSim();
  t.after(() => sim.proc.stop());
  const gw = await startGateway([{ name: 'only', port: sim.ports[0] }]);
  t.after(() => stopClean(assert, gw.proc, 'gateway'));
  const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: `${SECRET} and more text`, max_tokens: 3 },
    { headers: { 'X-Request-Id': 'log-test-1' } });
  assert.equal(r.status, 200);
  const [line] = (await requestLines(gw, 1)).filter((l) => l.includes('id=log-test-1'));
  assert.ok(line, gw.proc.output());
  assert.match(line, /level=info msg=request id=log-test-1 model=Qwen\/Qwen3-8B endpoint=only status=200 /);
  assert.match(line, / ttft_ms=[\d.]+ e2e_ms=[\d.]+ prompt_tokens=\d+ completion_tokens=3 /);
  assert.match(line, / scores=prefix-aware:[\d.]+,load-aware:[\d.]+/);
  assert.ok(!gw.proc.output().includes(SECRET), 'the prompt is not logged by default');
});

test('test_logs_json_with_prompts_when_asked', async (t) => {
  const sim = await startSim();
  t.after(() => sim.proc.stop());
  const file = writeTemp(gatewayTopology([{ name: 'only', port: sim.ports[0] }],
    'gateway:\n  listen: 127.0.0.1:0\n  logFormat: json\n  logPrompts: true\n'));
  const gw = { proc: new Proc(['gateway', '-f', file]) };
  t.after(() => stopClean(assert, gw.proc, 'gateway'));
  const m = await gw.proc.waitFor(/"msg":"gateway listening","addr":"127\.0\.0\.1:(\d+)"/, { stream: 'stderr' });
  const url = `http://127.0.0.1:${m[1]}`;
  await waitUntil(async () => (await fetch(`${url}/health`)).status === 200, { what: 'the endpoint to join' });
  const r = await post(`${url}/v1/completions`, { model: MODEL, prompt: `${SECRET} again`, max_tokens: 2 });
  assert.equal(r.status, 200);
  const line = (await requestLines(gw, 1)).find((l) => l.startsWith('{') && l.includes('"msg":"request"'));
  assert.ok(line, gw.proc.output());
  const rec = JSON.parse(line);
  assert.equal(rec.level, 'info');
  assert.equal(rec.status, '200');
  assert.equal(rec.endpoint, 'only');
  assert.equal(rec.completion_tokens, '2');
  assert.ok(rec.prompt.includes(SECRET), 'the prompt is logged when asked');
});
