// make bench-scale-to-zero: runs the bursty workload of bench/scale-to-zero/bursts.json
// through `wellpath up` twice -- the pool always on, then with gateway.scaleToZero -- and
// prints the cold-start TTFT penalty (the first requests of each burst, which wait for the
// wake-up, against the warm ones) and the idle GPU-seconds saved (replica-seconds asleep x
// GPUs per replica, from the gateway's wellpath_gateway_pool_asleep_seconds_total).
// Usage: node scripts/bench_scale_to_zero.mjs [BUILD_DIR]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.WELLPATH_BIN = path.resolve(process.argv[2] || path.join(root, 'build'), 'wellpath');
const { Proc, MODEL, metrics, sample } = await import(path.join(root, 'tests/lib/wellpath.mjs'));

const w = JSON.parse(fs.readFileSync(path.join(root, 'bench/scale-to-zero/bursts.json'), 'utf8'));
const REPLICAS = 2, GPUS_PER_REPLICA = 1; // as the topologies say

async function streamTtft(base, i) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: `${i} `.padEnd(w.prompt_chars, 'lorem ipsum '), max_tokens: w.max_tokens, stream: true }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = 0;
  for await (const chunk of res.body) {
    if (!ttft && chunk.length) ttft = performance.now() - t0;
  }
  return ttft;
}

async function burst(base, b) {
  const ttfts = new Array(w.requests);
  let next = 0;
  const worker = async () => {
    while (next < w.requests) {
      const i = next++;
      ttfts[i] = await streamTtft(base, b * 1000 + i);
    }
  };
  await Promise.all(Array.from({ length: w.concurrency }, worker));
  return ttfts;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function run(topology) {
  const up = new Proc(['up', '-f', path.join(root, 'bench/scale-to-zero', topology), '--listen', '127.0.0.1:0']);
  try {
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1/, { timeout: 60000 });
    const base = m[1];
    const t0 = performance.now();
    const first = [], rest = [];
    for (let b = 0; b < w.bursts; b++) {
      await new Promise((r) => setTimeout(r, w.idle_s * 1000)); // the idle gap before each burst
      const ttfts = await burst(base, b);
      first.push(...ttfts.slice(0, w.concurrency)); // sent when the burst starts
      rest.push(...ttfts.slice(w.concurrency));
    }
    const wall = (performance.now() - t0) / 1000;
    const prom = await metrics(base);
    return { first, rest, wall, asleep: sample(prom, 'wellpath_gateway_pool_asleep_seconds_total') ?? 0,
      wakeups: sample(prom, 'wellpath_gateway_pool_wakeups_total') ?? 0 };
  } finally {
    await up.stop();
  }
}

const f = (x) => x.toFixed(1);
console.log(`workload: ${w.bursts} bursts x ${w.requests} streamed completions (${w.concurrency} at a time, ` +
  `${w.prompt_chars}-char prompts, ${w.max_tokens} tokens out), ${w.idle_s} s idle before each; ` +
  `${REPLICAS} simulated Qwen3-8B replicas on H100 (TP1), time scale 1`);
const on = await run('always-on.yaml');
const s2z = await run('scale-to-zero.yaml');
for (const [name, r] of [['always-on', on], ['scale-to-zero', s2z]]) {
  console.log(`${name.padEnd(14)} burst-start TTFT mean ${f(mean(r.first))} ms p50 ${f(pct(r.first, 50))} ms max ${f(Math.max(...r.first))} ms | ` +
    `warm TTFT mean ${f(mean(r.rest))} ms p50 ${f(pct(r.rest, 50))} ms | wall ${f(r.wall)} s, asleep ${f(r.asleep)} s, wake-ups ${r.wakeups}`);
}
const penalty = mean(s2z.first) - mean(on.first);
const gpuS = s2z.asleep * REPLICAS * GPUS_PER_REPLICA;
const gpuTotal = s2z.wall * REPLICAS * GPUS_PER_REPLICA;
console.log(`cold-start TTFT penalty (burst-start mean, scale-to-zero - always-on): ${f(penalty)} ms`);
console.log(`idle GPU-seconds saved: ${f(gpuS)} of ${f(gpuTotal)} GPU-s (${f((100 * gpuS) / gpuTotal)}%) ` +
  `= ${f(s2z.asleep)} s asleep x ${REPLICAS} replicas x ${GPUS_PER_REPLICA} GPU`);
