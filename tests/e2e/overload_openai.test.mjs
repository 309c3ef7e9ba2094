// Overload end to end with the official OpenAI SDK as the client: one simulated replica
// that takes one request at a time (gateway.maxInFlightPerEndpoint: 1).
// - With flow control, concurrent streams wait at the gateway and every one completes, in
//   priority order (the SDK passes `priority` through as a body field).
// - Without it, the gateway answers 429 with Retry-After: 1; the SDK with its default
//   retries waits and tries again, and the request completes; with retries off the SDK
//   raises RateLimitError carrying the gateway's JSON error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { RateLimitError } from 'openai';

import { MODEL, Proc, metrics, sample, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const topology = (gateway) => `model: qwen3-8b
vllm:
  replicas: 1
gateway:
  maxInFlightPerEndpoint: 1
${gateway}simulation:
  basePort: 0
  timeScale: 1
`;

// Resolves once the gateway has `n` requests in flight on its one replica.
async function inFlight(base, n) {
  await waitUntil(async () => sample(await metrics(base), 'wellpath_endpoint_in_flight', { endpoint: 'sim-0' }) === n, { what: `${n} in flight` });
}

async function startUp(gateway) {
  const up = new Proc(['up', '-f', writeTemp(topology(gateway)), '--listen', '127.0.0.1:0']);
  const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=1\/1/);
  return { up, base: m[1] };
}

// Streams a completion through the SDK; resolves with its text and when it ended.
async function stream(client, priority, maxTokens = 24) {
  const s = await client.completions.create({ model: MODEL, prompt: 'Tell me about queues.', max_tokens: maxTokens, stream: true, priority });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  return { text, endedAt: performance.now(), priority };
}

describe('OpenAI SDK through flow control', () => {
  let up, base;
  before(async () => ({ up, base } = await startUp('  flowControl: {enabled: true, maxQueue: 16}\n')));
  after(async () => up && stopClean(assert, up, 'wellpath up'));

  test('concurrent streams wait at the gateway and complete, by priority', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
    const first = stream(client, 0, 200); // takes the one slot for about 1.5 s
    await inFlight(base, 1);
    const rest = [9, 5, 1].map((p) => stream(client, p));
    const all = await Promise.all([first, ...rest]);
    for (const r of all) assert.ok(r.text.length > 0, `priority ${r.priority} got text`);
    const order = all.slice(1).sort((a, b) => a.endedAt - b.endedAt).map((r) => r.priority);
    assert.deepEqual(order, [1, 5, 9], 'served lowest priority value first');
    assert.equal(sample(await metrics(base), 'wellpath_gateway_queue_wait_seconds_count'), 3);
  });
});

describe('OpenAI SDK against the in-flight limit', () => {
  let up, base;
  before(async () => ({ up, base } = await startUp('')));
  after(async () => up && stopClean(assert, up, 'wellpath up'));

  test('429 with retries off raises RateLimitError; the default retries get through', async () => {
    const noRetry = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
    const busy = stream(noRetry, 0, 200);
    await inFlight(base, 1);
    await assert.rejects(
      noRetry.completions.create({ model: MODEL, prompt: 'hi', max_tokens: 4 }),
      (e) => e instanceof RateLimitError && e.status === 429 && /in-flight limit/.test(e.message),
    );
    const retrying = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 4, timeout: 60000 });
    const r = await retrying.completions.create({ model: MODEL, prompt: 'hi', max_tokens: 4 });
    assert.equal(r.usage.completion_tokens, 4);
    await busy;
    assert.ok(sample(await metrics(base), 'wellpath_gateway_shed_total', { reason: 'in_flight_limit' }) >= 2, 'the SDK was turned away before it got through');
  });
});
