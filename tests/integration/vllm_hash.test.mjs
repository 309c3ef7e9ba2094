// vLLM's portable block hashes (src/kvhash/kvhash.h, docs/kv-hash.md) against a second,
// independent implementation written here from the same description: Node's crypto for
// SHA-256 and the `cbor` package's canonical encoder (tests/kvhash, pinned) for CBOR. The
// C side is the unit test binary test_kvhash (beside the wellpath binary in the build
// directory): given WELLPATH_KVHASH_VECTORS and WELLPATH_KVHASH_OUT it reads prompts as
// JSON lines and writes their hashes. Prompts come from a seeded generator: lengths that
// are mostly not multiples of the block size, token ids across every CBOR integer width,
// with and without cache_salt (non-ASCII too) and a LoRA name, several PYTHONHASHSEED
// values and block sizes; and single blocks with multimodal, bytes and text extra keys.
//
// Needs tests/kvhash/node_modules (`make node-deps`). Without them the test skips with a
// message, unless CI is set: then it fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BIN } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEPS = path.resolve(here, '../kvhash');
const UNIT = path.join(path.dirname(BIN), 'test_kvhash');
const CI = !!process.env.CI;

function skipReason() {
  if (!fs.existsSync(path.join(DEPS, 'node_modules', 'cbor')))
    return CI ? false : 'tests/kvhash/node_modules missing: run `make node-deps` (CI would fail here)';
  if (!fs.existsSync(UNIT)) return CI ? false : `${UNIT} missing (built only with cmocka; CI would fail here)`;
  return false;
}

// ---- the independent implementation ----

let cbor;
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();
const hashOf = (value) => sha256(cbor.encodeCanonical(value));
const seedHash = (seed) => hashOf(seed); // the PYTHONHASHSEED text, as a CBOR text string
const blockHash = (parent, tokens, extra) => hashOf([parent, tokens, extra && extra.length ? extra : null]);
const u64 = (h) => h.readBigUInt64BE(24).toString();

function chain(v) {
  const bs = v.block_size || 16;
  let parent = seedHash(v.seed);
  const out = [];
  for (let i = 0; (i + 1) * bs <= v.tokens.length; i++) {
    const extra = [];
    if (v.lora_name != null) extra.push(v.lora_name);
    if (i === 0 && v.cache_salt) extra.push(v.cache_salt);
    parent = blockHash(parent, v.tokens.slice(i * bs, (i + 1) * bs), extra);
    out.push(parent);
  }
  return out;
}

function oneBlock(v) {
  const parent = v.parent ? Buffer.from(v.parent, 'hex') : seedHash(v.seed);
  const extra = (v.extra || []).map((k) =>
    'text' in k ? k.text : 'bytes' in k ? Buffer.from(k.bytes, 'hex') : [k.mm[0], k.mm[1]]);
  return [blockHash(parent, v.tokens, extra)];
}

// ---- the prompts ----

// mulberry32: a small seeded generator, so a failure reproduces.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGE_IDS = [0, 1, 23, 24, 255, 256, 65535, 65536, 151935, 2147483647];
const SEEDS = ['0', '42', '1234567', '', 'random'];
const SALTS = ['s', 'tenant-a', 'über', '日本語のソルト', 'emoji 🚀', 'x'.repeat(300)];
const LORAS = ['sql-lora', '', 'adapter/ü'];

function tokens(r, n) {
  const t = [];
  for (let i = 0; i < n; i++)
    t.push(r() < 0.2 ? EDGE_IDS[Math.floor(r() * EDGE_IDS.length)] : Math.floor(r() * 200000));
  return t;
}

const pick = (r, a) => a[Math.floor(r() * a.length)];
const hex = (r, n) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256))).toString('hex');

function vectors(seed, count) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const bs = r() < 0.8 ? 16 : pick(r, [1, 5, 32]);
    let n = Math.floor(r() * 24 * bs);
    if (n % bs === 0 && r() < 0.7) n += 1 + Math.floor(r() * (bs - 1 || 1)); // mostly not a multiple
    const v = { seed: pick(r, SEEDS), tokens: tokens(r, n) };
    if (bs !== 16 || r() < 0.3) v.block_size = bs;
    if (r() < 0.5) v.cache_salt = pick(r, SALTS);
    else if (r() < 0.1) v.cache_salt = '';
    if (r() < 0.2) v.lora_name = pick(r, LORAS);
    out.push(v);
  }
  for (let i = 0; i < count / 4; i++) {
    const extra = [];
    const nk = Math.floor(r() * 4);
    for (let k = 0; k < nk; k++) {
      const kind = Math.floor(r() * 3);
      if (kind === 0) extra.push({ text: pick(r, SALTS.concat(LORAS)) });
      else if (kind === 1) extra.push({ bytes: hex(r, 32) });
      else extra.push({ mm: [hex(r, 16), Math.floor(r() * 600) - 300] });
    }
    out.push({
      seed: pick(r, SEEDS),
      parent: r() < 0.5 ? hex(r, 32) : null,
      tokens: tokens(r, 1 + Math.floor(r() * 40)),
      extra: extra.length || r() < 0.5 ? extra : null,
    });
  }
  return out;
}

function runUnit(env) {
  return new Promise((resolve, reject) => {
    execFile(UNIT, [], { env: { ...process.env, ...env }, timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${UNIT} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('vLLM sha256_cbor block hashes: C against an independent implementation', { skip: skipReason() }, () => {
  const SEED = 20261207;
  let dir;
  let input;
  let got;

  before(async () => {
    assert.ok(fs.existsSync(path.join(DEPS, 'node_modules', 'cbor')), 'tests/kvhash/node_modules missing (make node-deps)');
    assert.ok(fs.existsSync(UNIT), `${UNIT} missing`);
    cbor = createRequire(path.join(DEPS, 'package.json'))('cbor');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-kvhash-'));
    input = vectors(SEED, 400);
    const vin = path.join(dir, 'vectors.jsonl');
    const vout = path.join(dir, 'hashes.jsonl');
    fs.writeFileSync(vin, input.map((v) => JSON.stringify(v)).join('\n') + '\n');
    const log = await runUnit({ WELLPATH_KVHASH_VECTORS: vin, WELLPATH_KVHASH_OUT: vout });
    assert.match(log, /test_kvhash_vectors_file/);
    assert.doesNotMatch(log, /SKIPPED.*test_kvhash_vectors_file/);
    got = fs.readFileSync(vout, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the encoder is canonical: shortest heads, definite lengths', () => {
    assert.equal(cbor.encodeCanonical([Buffer.from([0, 1]), [1, 2, 500], null]).toString('hex'), '834200018301021901f4f6');
    assert.equal(cbor.encodeCanonical(-70000).toString('hex'), '3a0001116f');
    assert.equal(cbor.encodeCanonical('0').toString('hex'), '6130');
  });

  test('the seed for PYTHONHASHSEED=0 is SHA-256 of the CBOR text "0"', () => {
    assert.equal(seedHash('0').toString('hex'), '4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e');
  });

  test(`every prompt's chain and every block match (generator seed ${SEED})`, () => {
    assert.equal(got.length, input.length);
    let blocks = 0;
    let partial = 0;
    let salted = 0;
    for (let i = 0; i < input.length; i++) {
      const v = input[i];
      const want = 'extra' in v ? oneBlock(v) : chain(v);
      const ctx = `vector ${i}: ${JSON.stringify(v).slice(0, 200)}`;
      assert.deepEqual(got[i].hashes, want.map((h) => h.toString('hex')), ctx);
      assert.deepEqual(got[i].u64, want.map(u64), ctx);
      blocks += want.length;
      if (!('extra' in v) && v.tokens.length % (v.block_size || 16) !== 0) partial++;
      if (v.cache_salt) salted++;
    }
    // The generator did cover what it should.
    assert.ok(blocks > 2000, `${blocks} blocks`);
    assert.ok(partial > 250, `${partial} prompts with a partial last block`);
    assert.ok(salted > 100, `${salted} salted prompts`);
  });

  test('the 64-bit form is the last 8 bytes, big-endian', () => {
    const h = Buffer.from('202da172482d928bbc42ab25b0151e2b895f13f41002e27b2ceabcfae6d332ea', 'hex');
    assert.equal(u64(h), BigInt('0x2ceabcfae6d332ea').toString());
  });
});
