// Scale-to-zero end to end with the official OpenAI SDK as the client: `wellpath up` with
// gateway.scaleToZero puts its idle simulated replica to sleep (vLLM's sleep mode); a
// streamed completion from the SDK then waits at the gateway while the replica wakes up
// and completes, with no retry and no error on the client's side; so does a plain one
// after the pool has gone back to sleep.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { MODEL, Proc, metrics, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const topology = `model: qwen3-8b
vllm:
  replicas: 1
gateway:
  scaleToZero: {enabled: true, idleAfterMs: 300, wakeTimeoutMs: 30000, maxQueue: 8}
simulation:
  basePort: 0
  timeScale: 2
`;

async function asleep(base, sleeps) {
  await waitUntil(async () => {
    const prom = await metrics(base);
    return sample(prom, 'wellpath_gateway_pool_sleeping') === 1 && sample(prom, 'wellpath_gateway_pool_sleeps_total') === sleeps;
  }, { timeout: 20000, what: `the pool asleep (${sleeps})` });
}

describe('OpenAI SDK across a wake-up', () => {
  let up, base;
  before(async () => {
    up = new Proc(['up', '-f', writeTemp(topology), '--listen', '127.0.0.1:0']);
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=1\/1/);
    base = m[1];
  });
  after(async () => up && stopClean(assert, up, 'wellpath up'));

  test('a streamed completion to a sleeping pool is held while it wakes, then streams', async () => {
    await asleep(base, 1);
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
    const t0 = performance.now();
    const s = await client.completions.create({ model: MODEL, prompt: 'Wake up and tell me about GPUs.', max_tokens: 16, stream: true });
    let text = '';
    let firstAt = 0;
    for await (const chunk of s) {
      if (!firstAt) firstAt = performance.now();
      text += chunk.choices[0]?.text ?? '';
    }
    assert.ok(text.length > 0);
    // the first token came after the wake-up (~0.4 simulated s x time scale 2)
    assert.ok(firstAt - t0 >= 700, `first token after ${firstAt - t0} ms`);
    const prom = await metrics(base);
    assert.equal(sample(prom, 'wellpath_gateway_pool_wakeups_total'), 1);
    assert.equal(sample(prom, 'wellpath_gateway_pool_demand'), 0);
  });

  test('a chat completion after the pool went back to sleep completes too', async () => {
    await asleep(base, 2);
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello again.' }], max_tokens: 8 });
    assert.ok(r.choices[0].message.content.length > 0);
    assert.equal(sample(await metrics(base), 'wellpath_gateway_pool_wakeups_total'), 2);
  });
});
