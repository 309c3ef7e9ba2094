// Path 3 end to end: `wellpath up` with the scaled-down seed topology
// (topologies/wide-ep-small.yaml, unchanged: a prefill group and a decode group of 4
// data-parallel ranks of Qwen3-30B-A3B, NIXL) and the official OpenAI SDK through the
// gateway. Every rank is an endpoint tagged with its group and rank; long prompts go through
// a prefill rank and a decode rank; the load spreads over the ranks of each group.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { Proc, metrics, post, randomText, sample, stopClean } from '../lib/wellpath.mjs';

const MOE = 'Qwen/Qwen3-30B-A3B';
const SEED = new URL('../../topologies/wide-ep-small.yaml', import.meta.url).pathname;

describe('wide-EP through the gateway', () => {
  let up, base, client;
  before(async () => {
    up = new Proc(['up', '-f', SEED, '--listen', '127.0.0.1:0', '--base-port', '0']);
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=8\/8/, { timeout: 30000 });
    base = m[1];
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    if (up) await stopClean(assert, up, 'wellpath up');
  });

  test('test_wide_ep_openai_sdk_streams_through_ranks', async () => {
    const stream = await client.chat.completions.create({
      model: MOE, messages: [{ role: 'user', content: randomText(3000) }], max_tokens: 10, stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.length > 0);
    assert.equal(usage.completion_tokens, 10);
    const prom = await metrics(base);
    assert.equal(sample(prom, 'wellpath_gateway_pd_requests_total', { path: 'disaggregated' }), 1,
      'the long prompt went through a prefill rank and a decode rank');
  });

  test('test_wide_ep_ranks_are_endpoints_of_their_groups', async () => {
    const prom = await metrics(base);
    const info = prom.filter((s) => s.name === 'wellpath_endpoint_info');
    const seen = info.map((s) => `${s.labels.endpoint} ${s.labels.group} ${s.labels.data_parallel_rank}`).sort();
    assert.deepEqual(seen, [0, 1, 2, 3].map((r) => `decode-${r} decode-g0 ${r}`)
      .concat([0, 1, 2, 3].map((r) => `prefill-${r} prefill-g0 ${r}`)));
    const status = await (await fetch(`${base}/status`, { headers: { Accept: 'application/json' } })).json();
    const eps = status.endpoints.filter((e) => e.group === 'decode-g0');
    assert.equal(eps.length, 4);
    assert.deepEqual(eps.map((e) => e.data_parallel_rank).sort(), [0, 1, 2, 3]);
  });

  test('test_wide_ep_load_spreads_over_the_decode_ranks', async () => {
    // Short prompts (under the P/D threshold) go straight to decode ranks, several at once:
    // the group's ranks share them rather than one rank taking all.
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      post(`${base}/v1/completions`, { model: MOE, prompt: `question ${i}: ${randomText(200)}`, max_tokens: 30 })));
    const served = new Set();
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      served.add(a.headers.get('x-wellpath-endpoint'));
    }
    assert.ok([...served].every((n) => n.startsWith('decode-')), [...served].join(','));
    assert.ok(served.size >= 3, `requests spread over the decode ranks: ${[...served].join(',')}`);
  });
});
