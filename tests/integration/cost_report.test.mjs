// `wellpath simulate`'s cost report (report/cost.h) and spot runs (des/spot.c): a cost line
// per run on stdout and a "cost" object in the JSON, priced as the options say; with spot,
// each policy also runs as "P [spot]" with interruptions, billed at the spot price for the
// time its engines were up; the same seed gives the same bytes; bad prices exit 2.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { Proc } from '../lib/wellpath.mjs';

const TOPOLOGY = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../bench/path1/topology.yaml');
const ARGS = ['simulate', '-f', TOPOLOGY, '--rate', '4', '--duration', '120', '--quiet', '--slo', 'ttft=0.5',
  '--price-per-gpu-hour', '4', '--spot-discount', '0.7', '--spot-interruptions-per-hour', '60',
  '--spot-notice-s', '5', '--spot-restart-s', '20'];

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  return { ...r, stdout: p.lines.stdout.join('\n'), stderr: p.lines.stderr.join('\n') };
}

test('cost lines and JSON, on demand and on spot, same seed same bytes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-cost-'));
  const a = await run([...ARGS, '--json', path.join(dir, 'a.json')]);
  const b = await run([...ARGS, '--json', path.join(dir, 'b.json')]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ja = fs.readFileSync(path.join(dir, 'a.json'), 'utf8');
  assert.equal(ja, fs.readFileSync(path.join(dir, 'b.json'), 'utf8'), 'same seed, same bytes');
  assert.equal(a.stdout, b.stdout);
  const runs = JSON.parse(ja).runs;
  assert.deepEqual(runs.map((r) => r.policy), ['topology', 'topology [spot]']);
  const [od, spot] = runs.map((r) => r.cost);
  assert.equal(od.price_per_gpu_hour, 4);
  assert.ok(Math.abs(spot.price_per_gpu_hour - 1.2) < 1e-12);
  for (const c of [od, spot]) {
    assert.ok(Math.abs(c.cost - c.gpu_hours * c.price_per_gpu_hour) < 1e-9);
    assert.ok(c.idle_share > 0 && c.idle_share < 1);
    assert.ok(c.attainment > 0 && c.attainment <= 1);
  }
  // 4 engines x TP 1 up the whole run on demand; on spot the down time is not billed.
  assert.ok(od.gpu_hours > 4 * 120 / 3600 * 0.99, `${od.gpu_hours}`);
  assert.ok(spot.gpu_hours < od.gpu_hours);
  assert.ok(spot.cost_per_mtok < od.cost_per_mtok * 0.3);
  const lines = a.stdout.split('\n').filter((l) => l.startsWith('cost: '));
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^cost: topology: [\d.]+ GPU-hours, \$[\d.]+ at \$4\/GPU-hour, \$[\d.]+ per 1M output tokens, idle [\d.]+%, SLO attainment [\d.]+%$/);
  assert.match(lines[1], /^cost: topology \[spot\]: .* at \$1\.2\/GPU-hour, .*, [1-9]\d* interruptions \([\d.]+ s down, 0 notices overran\)$/);
  fs.rmSync(dir, { recursive: true });
});

test('without a price: GPU-hours, idle share and attainment only; no spot run', async () => {
  const r = await run(['simulate', '-f', TOPOLOGY, '--rate', '2', '--duration', '20', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('cost: '));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^cost: topology: [\d.]+ GPU-hours, idle [\d.]+%, SLO attainment 100\.0%$/);
});

test('bad prices and rates exit 2 with one line', async () => {
  for (const [flag, value] of [['--price-per-gpu-hour', '-1'], ['--spot-discount', '0.99'], ['--spot-interruptions-per-hour', 'x'], ['--spot-notice-s', '0']]) {
    const r = await run(['simulate', '-f', TOPOLOGY, '--rate', '2', '--duration', '5', '--quiet', flag, value]);
    assert.equal(r.code, 2, `${flag} ${value}`);
    assert.match(r.stderr, new RegExp(`${flag.slice(2)}: expected a number`));
  }
});

test('the topology\'s cost section is the flags\' defaults; a flag wins; a bad key is named', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-cost-'));
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(file, fs.readFileSync(TOPOLOGY, 'utf8') +
    'cost:\n  pricePerGpuHour: 4\n  spotDiscount: 0.7\n  spotInterruptionsPerHour: 60\n  spotNoticeS: 5\n  spotRestartS: 20\n');
  const base = ['simulate', '--rate', '4', '--duration', '120', '--quiet', '--slo', 'ttft=0.5'];
  const fromFile = await run([...base, '-f', file]);
  const fromFlags = await run(ARGS);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(fromFile.stdout, fromFlags.stdout, 'the file says what the flags say');
  const over = await run([...base, '-f', file, '--price-per-gpu-hour', '2']);
  assert.match(over.stdout, /^cost: topology: .* at \$2\/GPU-hour/m);
  assert.match(over.stdout, /^cost: topology \[spot\]: .* at \$0\.6\/GPU-hour/m);
  fs.writeFileSync(file, fs.readFileSync(TOPOLOGY, 'utf8') + 'cost:\n  spotDiscount: 2\n');
  const bad = await run([...base, '-f', file]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cost\.spotDiscount/);
  fs.rmSync(dir, { recursive: true });
});
