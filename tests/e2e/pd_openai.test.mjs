// Path 2 end to end: `wellpath up` with the guide's prefill/decode topology (a prefill
// pool and a decode pool of simulated servers) and the official OpenAI SDK streaming
// through the gateway's P/D flow. Also the selective decider on both sides of its
// threshold, a prefill 4xx passed to the client, and the fallback to decode-only when the
// prefill pool is gone (counted by reason).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { BadRequestError } from 'openai';

import { MODEL, Proc, metrics, post, randomText, sample, startGateway, startSim, stopClean, writeTemp } from '../lib/wellpath.mjs';

const TOPOLOGY = `model: qwen3-8b
gpu: h100
vllm:
  maxModelLen: 4096
prefill:
  replicas: 1
  tensorParallel: 1
decode:
  replicas: 1
  tensorParallel: 1
nixl:
  backend: ucx
  transport: rdma
inferenceScheduler:
  pdThreshold: 200
simulation:
  basePort: 0
  timeScale: 0.05
`;

const pd = (prom, path) => sample(prom, 'wellpath_gateway_pd_requests_total', { path });
const fallbacks = (prom, reason) => sample(prom, 'wellpath_gateway_pd_fallbacks_total', { reason });

describe('P/D through the gateway', () => {
  let up, base, client;
  before(async () => {
    up = new Proc(['up', '-f', writeTemp(TOPOLOGY), '--listen', '127.0.0.1:0']);
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=2\/2/);
    base = m[1];
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    if (up) await stopClean(assert, up, 'wellpath up');
  });

  test('test_pd_openai_sdk_streams_through_prefill_and_decode', async () => {
    const before = await metrics(base);
    const prompt = randomText(3000); // ~750 tokens: over the threshold
    const stream = await client.completions.create({ model: MODEL, prompt, max_tokens: 12, stream: true,
      stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      if (chunk.choices.length) {
        text += chunk.choices[0].text;
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 12);
    const after = await metrics(base);
    assert.equal(pd(after, 'disaggregated') - pd(before, 'disaggregated'), 1, 'one request went through prefill');
    // The client sees the prefill side's cache hits (the decode side computed nothing of the
    // prompt, having pulled it): none the first time, most of the prompt the second.
    const messages = [{ role: 'user', content: randomText(3000) }];
    const first = await post(`${base}/v1/chat/completions`, { model: MODEL, max_tokens: 3, messages });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-wellpath-endpoint'), 'decode-0');
    assert.equal(first.json.usage.prompt_tokens_details.cached_tokens, 0);
    const again = await post(`${base}/v1/chat/completions`, { model: MODEL, max_tokens: 3, messages });
    const cached = again.json.usage.prompt_tokens_details.cached_tokens;
    assert.ok(cached > 0 && cached < again.json.usage.prompt_tokens, `cached ${cached}`);
  });

  test('test_pd_decider_sends_short_prompts_straight_to_decode', async () => {
    const before = await metrics(base);
    const r = await client.completions.create({ model: MODEL, prompt: 'short prompt', max_tokens: 2 });
    assert.equal(r.usage.completion_tokens, 2);
    const after = await metrics(base);
    assert.equal(pd(after, 'decode_only') - pd(before, 'decode_only'), 1);
    assert.equal(pd(after, 'disaggregated') - pd(before, 'disaggregated'), 0);
  });

  test('test_pd_prefill_4xx_goes_to_the_client', async () => {
    // A prompt alone over maxModelLen: the prefill server refuses it (the prefill request
    // asks for one token), and that 400 is what the client sees.
    const prompt = randomText(20000); // ~5000 tokens
    const r = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 5 });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.headers.get('x-wellpath-endpoint'), 'prefill-0');
    assert.match(r.json.error.message, /maximum context length/);
    await assert.rejects(client.completions.create({ model: MODEL, prompt, max_tokens: 5 }), BadRequestError);
  });
});

// `up` stops when a pool dies, so this one is built by hand: a prefill sim, a decode sim
// and `wellpath gateway` in front of them with their roles.
test('test_pd_falls_back_to_decode_only_when_prefill_is_gone', async (t) => {
  const pf = await startSim({ args: ['--role', 'prefill'] });
  t.after(() => pf.proc.stop());
  const dc = await startSim({ args: ['--role', 'decode'] });
  t.after(() => dc.proc.stop());
  const gw = await startGateway([{ name: 'p', port: pf.ports[0], role: 'prefill' }, { name: 'd', port: dc.ports[0], role: 'decode' }], {
    extra: 'inferenceScheduler:\n  pdThreshold: 200\n',
  });
  t.after(() => gw.proc.stop());
  let r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(3000), max_tokens: 4 });
  assert.equal(r.status, 200, r.text);
  let prom = await metrics(gw.url);
  assert.equal(pd(prom, 'disaggregated'), 1);
  await pf.proc.stop({ signal: 'SIGKILL' });
  for (let i = 0; i < 3; i++) {
    r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(3000), max_tokens: 4 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.completion_tokens, 4);
    assert.equal(r.headers.get('x-wellpath-endpoint'), 'd');
  }
  prom = await metrics(gw.url);
  const fell = ['connect', 'no_prefill_endpoint', 'http_5xx', 'timeout'].reduce((s, k) => s + fallbacks(prom, k), 0);
  assert.equal(fell, 3, 'every fallback is counted');
  assert.equal(pd(prom, 'decode_only'), 3);
});
