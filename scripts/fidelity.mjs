#!/usr/bin/env node
// `make bench-fidelity`: the engine model against measured vLLM runs. For each row of a
// points file (the InferenceX columns of ../shared/data/inferencex/README.md: one vLLM
// instance, one model, GPU, precision and TP, closed loop at `concurrency` with lengths
// uniform in [0.8 L, L]), it writes the topology and the workload the row describes, runs
// `wellpath simulate` on them, and compares the predicted mean TTFT and mean TPOT with the
// measured ones, and the predicted KV-cache size with `resolved_gpu_kv_tokens` (what vLLM
// logged). It prints one line per row, then the median and p90 absolute percentage errors
// per model and overall.
//
//   node scripts/fidelity.mjs [--points FILE] [--json FILE] [--markdown FILE]
//        [--bin build/wellpath] [--jobs N] [--only REGEX] [--uncertainty]
//
// Engine settings: those of the row; where a cell is empty, vLLM's default (the simulator's
// own defaults are vLLM's); where the row's launch script set something the file has no
// column for, the `launch` table below says what and where it was read.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const defaultPoints = resolve(root, '..', 'shared', 'data', 'inferencex', 'vllm-h100-h200.csv');

const { values: o } = parseArgs({
  options: {
    points: { type: 'string', default: defaultPoints },
    json: { type: 'string' },
    markdown: { type: 'string' },
    bin: { type: 'string', default: join(root, 'build', 'wellpath') },
    jobs: { type: 'string', default: String(cpus().length) },
    only: { type: 'string' },
    uncertainty: { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    'engine-model': { type: 'string' },
  },
});

// Launch settings the InferenceX scripts passed that the points file has no column for
// (SemiAnalysisAI/InferenceX, read at 843c6254). Each entry: which rows, what, where.
const launch = [
  {
    // benchmarks/70b_fp8_h100_slurm.sh @ b89047d5f and 70b_fp8_h200_slurm.sh @ 026d16b82
    // (the October 2025 runs): config.yaml with kv-cache-dtype fp8, max-num-batched-tokens
    // 8192, max-model-len 10240 on H100 (ISL + OSL + 20 for 1k1k, + 200 otherwise on H200),
    // --max-num-seqs $CONC, --gpu-memory-utilization 0.9, no prefix caching; the client
    // (kimbochen/bench_serving) sent no warm-up requests.
    match: (r) => r.model === 'llama-3.1-70b-instruct' && r.settings_available === '0',
    set: (r) => ({
      kvCacheDtype: 'fp8',
      maxNumBatchedTokens: 8192,
      maxModelLen: r.gpu === 'h100' ? 10240 : +r.isl + +r.osl + (r.label === '1k1k' ? 20 : 200),
      maxNumSeqs: +r.concurrency,
      gpuMemoryUtilization: 0.9,
      prefixCaching: false,
      warmup: 0,
    }),
  },
  {
    // benchmarks/single_node/minimaxm2.5_fp8_h200.sh from 0949de54e (May 2026, the recipe
    // with max-num-seqs 512 and max-num-batched-tokens 32768): --kv-cache-dtype fp8.
    match: (r) => r.model === 'minimax-m2.5' && r.engine_version === '0.22.0',
    set: () => ({ kvCacheDtype: 'fp8' }),
  },
];

function parseCsv(text, file) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${file}: empty`);
  const head = lines[0].split(',');
  const need = ['model', 'gpu', 'precision', 'tp', 'isl', 'osl', 'concurrency', 'ttft_ms', 'tpot_ms'];
  for (const k of need) if (!head.includes(k)) throw new Error(`${file}:1: no column '${k}'`);
  return lines.slice(1).map((l, i) => {
    const cells = l.split(',');
    if (cells.length !== head.length)
      throw new Error(`${file}:${i + 2}: ${cells.length} cells, the header has ${head.length}`);
    const r = Object.fromEntries(head.map((h, j) => [h, cells[j]]));
    r.line = i + 2;
    for (const k of ['tp', 'isl', 'osl', 'concurrency', 'ttft_ms', 'tpot_ms'])
      if (!(+r[k] > 0)) throw new Error(`${file}:${r.line}: ${k} '${r[k]}' is not a positive number`);
    return r;
  });
}

const precisionOf = { fp8: 'fp8', fp4: 'mxfp4', bf16: 'bf16' };
const modelOf = (m) => (m === 'llama-3.1-70b-instruct' ? 'llama-3.1-70b' : m);

// The row's engine settings: its own cells, then the launch table's.
function settings(r) {
  const s = { warmup: 2 * +r.concurrency };
  const num = (k) => (r[k] !== undefined && r[k] !== '' ? +r[k] : undefined);
  if (num('max_num_seqs')) s.maxNumSeqs = num('max_num_seqs');
  if (num('max_num_batched_tokens')) s.maxNumBatchedTokens = num('max_num_batched_tokens');
  if (num('max_model_len')) s.maxModelLen = num('max_model_len');
  if (num('gpu_memory_utilization')) s.gpuMemoryUtilization = num('gpu_memory_utilization');
  if (num('block_size')) s.blockSize = num('block_size');
  if (num('max_cudagraph_capture_size')) s.maxCudagraphCaptureSize = num('max_cudagraph_capture_size');
  if (r.enable_prefix_caching) s.prefixCaching = r.enable_prefix_caching === 'true';
  for (const l of launch) if (l.match(r)) Object.assign(s, l.set(r));
  return s;
}

function files(r, s, extra) {
  const precision = precisionOf[r.precision];
  if (!precision) throw new Error(`line ${r.line}: precision '${r.precision}': expected fp8, fp4 or bf16`);
  const vllm = ['replicas: 1', `tensorParallel: ${r.tp}`, `prefixCaching: ${s.prefixCaching ?? false}`];
  for (const k of ['maxNumSeqs', 'maxNumBatchedTokens', 'maxModelLen', 'gpuMemoryUtilization', 'blockSize', 'kvCacheDtype',
    'maxCudagraphCaptureSize'])
    if (s[k] !== undefined) vllm.push(`${k}: ${s[k]}`);
  const topo = [`model: ${modelOf(r.model)}`, `gpu: ${r.gpu}`, `precision: ${precision}`, 'vllm:',
    ...vllm.map((l) => `  ${l}`), 'inferenceScheduler:', '  policy: round-robin', ...extra].join('\n');
  const c = +r.concurrency;
  const len = (L) => `{dist: uniform, min: ${Math.round(0.8 * L)}, max: ${L}}`;
  const load = [`  type: concurrency`, `  concurrency: ${c}`, `  num_requests: ${10 * c}`];
  if (s.warmup > 0 && !o['no-warmup']) load.push(`  warmup: ${s.warmup}`);
  const wl = ['type: random', `input_len: ${len(+r.isl)}`, `output_len: ${len(+r.osl)}`, 'seed: 1', 'load:', ...load].join('\n');
  return { topo: topo + '\n', wl: wl + '\n' };
}

function run(bin, args) {
  return new Promise((done) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => done({ code: -1, err: `${bin}: ${e.message}` })); // cannot start
    p.on('close', (code) => done({ code, err }));
  });
}

async function simulate(r, dir, extra = []) {
  const s = settings(r);
  const f = files(r, s, extra);
  const base = join(dir, `row${r.line}`);
  writeFileSync(`${base}.topology.yaml`, f.topo);
  writeFileSync(`${base}.workload.yaml`, f.wl);
  const res = await run(o.bin, ['simulate', '-f', `${base}.topology.yaml`, '--workload', `${base}.workload.yaml`,
    '--quiet', '--json', `${base}.json`, ...(o.uncertainty ? ['--uncertainty'] : [])]);
  if (res.code !== 0) return { error: res.err.trim().split('\n').pop() };
  const runs = JSON.parse(readFileSync(`${base}.json`, 'utf8')).runs;
  const sum = runs[0].summary;
  const kv = /KV cache (\d+) tokens/.exec(res.err);
  const out = {
    ttft_ms: sum.ttft_s.mean * 1000, tpot_ms: sum.tpot_s.mean * 1000, failed: sum.failed,
    kv_tokens: kv ? +kv[1] : null, settings: s,
  };
  if (o.uncertainty) // the engine model at the fast and the slow end of every constant
    out.band = Object.fromEntries(['ttft', 'tpot'].map((k) => {
      const v = runs.slice(1, 3).map((r) => r.summary[`${k}_s`].mean * 1000);
      return [`${k}_ms`, [Math.min(...v), Math.max(...v)]];
    }));
  return out;
}

// Runs fn over items with at most n at once, results in order.
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  return out;
}

const ape = (pred, meas) => Math.abs(pred - meas) / meas;
function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—');

function summarize(rows) {
  const groups = new Map([['all', rows]]);
  for (const r of rows) {
    if (!groups.has(r.model)) groups.set(r.model, []);
    groups.get(r.model).push(r);
  }
  const out = [];
  for (const [name, rs] of groups) {
    const ok = rs.filter((r) => r.pred && !r.pred.error);
    const e = (k) => ok.map((r) => ape(r.pred[k], +r[k]));
    const kv = ok.filter((r) => r.resolved_gpu_kv_tokens && r.pred.kv_tokens)
      .map((r) => ape(r.pred.kv_tokens, +r.resolved_gpu_kv_tokens));
    out.push({
      model: name, rows: rs.length, simulated: ok.length,
      ttft: { median: quantile(e('ttft_ms'), 0.5), p90: quantile(e('ttft_ms'), 0.9) },
      tpot: { median: quantile(e('tpot_ms'), 0.5), p90: quantile(e('tpot_ms'), 0.9) },
      kv: { rows: kv.length, median: quantile(kv, 0.5), p90: quantile(kv, 0.9) },
    });
    if (ok.length && ok[0].pred.band) {
      const inside = (k) => ok.filter((r) => r.pred.band[k][0] <= +r[k] && +r[k] <= r.pred.band[k][1]).length / ok.length;
      out[out.length - 1].band_coverage = { ttft: inside('ttft_ms'), tpot: inside('tpot_ms') };
    }
  }
  return out;
}

function table(summary) {
  const band = summary[0].band_coverage !== undefined;
  const lines = ['| model | rows | TTFT median | TTFT p90 | TPOT median | TPOT p90 | KV rows | KV median | KV p90 |' +
    (band ? ' TTFT in band | TPOT in band |' : ''),
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|' + (band ? '---:|---:|' : '')];
  for (const s of summary)
    lines.push(`| ${s.model} | ${s.simulated}/${s.rows} | ${pct(s.ttft.median)} | ${pct(s.ttft.p90)} | ${pct(s.tpot.median)} | ` +
      `${pct(s.tpot.p90)} | ${s.kv.rows} | ${pct(s.kv.median)} | ${pct(s.kv.p90)} |` +
      (band ? ` ${pct(s.band_coverage.ttft)} | ${pct(s.band_coverage.tpot)} |` : ''));
  return lines.join('\n');
}

async function main() {
  if (!existsSync(o.points)) {
    console.log(`bench-fidelity: skipped: no points file at ${o.points} (the measured vLLM runs live in ` +
      `../shared/data/inferencex/ beside a CI checkout; pass POINTS=file.csv)`);
    return 0;
  }
  if (!existsSync(o.bin)) throw new Error(`${o.bin}: no such binary (make build)`);
  let rows = parseCsv(readFileSync(o.points, 'utf8'), o.points);
  if (o.only) rows = rows.filter((r) => new RegExp(o.only).test(`${r.scenario} ${r.label} c${r.concurrency}`));
  const dir = mkdtempSync(join(tmpdir(), 'wp-fidelity-'));
  try {
    const extra = [];
    if (o['engine-model']) {
      extra.push('simulation:', '  engineModel:');
      for (const kv of o['engine-model'].split(',')) extra.push(`    ${kv.replace('=', ': ')}`);
    }
    const preds = await pool(rows, +o.jobs, (r) => simulate(r, dir, extra));
    rows.forEach((r, i) => (r.pred = preds[i]));
    console.log('| row | scenario | label | conc | TTFT meas ms | TTFT sim ms | err | TPOT meas ms | TPOT sim ms | err | KV logged | KV sim | err |');
    console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const p = r.pred;
      if (p.error) {
        console.log(`| ${r.line} | ${r.scenario} | ${r.label} | ${r.concurrency} | ${(+r.ttft_ms).toFixed(1)} | error: ${p.error} |||||||`);
        continue;
      }
      const kvErr = r.resolved_gpu_kv_tokens && p.kv_tokens ? pct((p.kv_tokens - r.resolved_gpu_kv_tokens) / r.resolved_gpu_kv_tokens) : '—';
      console.log(`| ${r.line} | ${r.scenario} | ${r.label} | ${r.concurrency} | ${(+r.ttft_ms).toFixed(1)} | ${p.ttft_ms.toFixed(1)} | ` +
        `${pct((p.ttft_ms - r.ttft_ms) / r.ttft_ms)} | ${(+r.tpot_ms).toFixed(2)} | ${p.tpot_ms.toFixed(2)} | ` +
        `${pct((p.tpot_ms - r.tpot_ms) / r.tpot_ms)} | ${r.resolved_gpu_kv_tokens || '—'} | ${p.kv_tokens ?? '—'} | ${kvErr} |`);
    }
    const summary = summarize(rows);
    console.log('\nAbsolute percentage error, predicted against measured (mean TTFT, mean TPOT, KV-cache tokens):\n');
    console.log(table(summary));
    if (o.markdown) writeFileSync(o.markdown, table(summary) + '\n');
    if (o.json) {
      const per = rows.map((r) => ({ line: r.line, scenario: r.scenario, label: r.label, concurrency: +r.concurrency,
        measured: { ttft_ms: +r.ttft_ms, tpot_ms: +r.tpot_ms, kv_tokens: r.resolved_gpu_kv_tokens ? +r.resolved_gpu_kv_tokens : null },
        predicted: r.pred }));
      writeFileSync(o.json, JSON.stringify({ points: o.points, rows: per, summary }, null, 1) + '\n');
    }
    return rows.some((r) => r.pred.error) ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`bench-fidelity: ${e.message}`);
  process.exit(2);
});
