// gateway.discoveryFile: endpoints from a file another system writes, watched. The gateway
// starts before the file exists (no endpoint, /health 503), takes the endpoints when the file
// appears (written and renamed into place, as writers do), grows when the file lists more,
// shrinks under load with no failed request, keeps its endpoints when the file turns bad or
// goes away (and says why, naming the file and line), and reads the same bytes without
// applying them again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, loadAcross, metrics, post, sample, startSim, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

describe('endpoints from a watched discovery file', () => {
  let sim, gw, base, dir, file;

  // Writes the endpoints named (of a, b, c) to the file as a writer would: a new file renamed
  // over the old one. Resolves with the time it was in place.
  function publish(names, text) {
    const body = text ?? `endpoints:\n${names.map((n) => `  - {url: "http://127.0.0.1:${sim.ports['abc'.indexOf(n)]}", name: ${n}}`).join('\n')}\n`;
    const tmp = path.join(dir, `.eps-${process.pid}-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, file);
    return Date.now();
  }

  // The endpoints in the pool (healthy), sorted.
  async function pool() {
    return (await metrics(base))
      .filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1)
      .map((s) => s.labels.endpoint)
      .sort();
  }

  async function waitPool(want, what) {
    await waitUntil(async () => JSON.stringify(await pool()) === JSON.stringify(want), { timeout: 15000, what });
  }

  const complete = (prompt) => post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });

  before(async () => {
    sim = await startSim({ replicas: 3, timeScale: 0.01 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-discovery-'));
    file = path.join(dir, 'endpoints.yaml');
    const topo = writeTemp(`gateway:\n  discoveryFile: ${file}\n`);
    gw = new Proc(['gateway', '-f', topo, '--listen', '127.0.0.1:0']);
    const m = await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
    base = `http://127.0.0.1:${m[1]}`;
    await gw.waitFor(/msg="discovery file watched"/, { stream: 'stderr' });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('test_discovery_starts_without_the_file_and_says_so', async () => {
    assert.equal((await fetch(`${base}/health`)).status, 503);
    assert.ok(gw.lines.stderr.some((l) => l.includes('discovery file unreadable') && l.includes(file)), gw.output());
    assert.deepEqual(await pool(), []);
  });

  test('test_discovery_file_appears_endpoint_joins_and_serves', async () => {
    const t0 = publish(['a']);
    await waitPool(['a'], 'a to join from the new file');
    const joinMs = Date.now() - t0;
    const r = await complete('hello a');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-wellpath-endpoint'), 'a');
    assert.ok(joinMs < 15000);
    console.log(`discovery: file written -> endpoint in the pool in ${joinMs} ms`);
  });

  test('test_discovery_scale_out_spreads_requests', async () => {
    publish(['a', 'b', 'c']);
    await waitPool(['a', 'b', 'c'], 'b and c to join');
    const eps = new Set();
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => complete(`spread ${i} ${'x'.repeat(i)}`)));
    for (const r of rs) {
      assert.equal(r.status, 200, r.text);
      eps.add(r.headers.get('x-wellpath-endpoint'));
    }
    assert.ok(eps.size >= 2, `60 concurrent requests went to ${[...eps]}`);
  });

  test('test_discovery_scale_in_under_load_fails_nothing', async () => {
    let t0;
    const { results, changedAt } = await loadAcross(complete, async () => {
      t0 = publish(['c']);
      await waitPool(['c'], 'a and b to leave');
    });
    assert.deepEqual(results.filter((r) => r.status !== 200), [], 'no request failed while the pool shrank');
    // Sent once the pool had shrunk: picked from the new endpoints alone.
    const late = results.filter((r) => r.sent > changedAt);
    assert.ok(late.length > 0);
    assert.ok(late.every((r) => r.endpoint === 'c'), `after the change: ${[...new Set(late.map((r) => r.endpoint))]}`);
    console.log(`discovery: file written -> removed endpoints out of the pool in ${changedAt - t0} ms`);
  });

  test('test_discovery_bad_file_keeps_the_endpoints_and_names_the_line', async () => {
    publish(null, 'endpoints:\n  - {url: "http://127.0.0.1:1", name: x}\n  - {nmae: y}\n');
    await gw.waitFor(/msg="reload failed, keeping the running config".*endpoints\.yaml:3:\d+: endpoints\[1\]\.nmae: unknown key/, { stream: 'stderr' });
    publish(null, 'gateway:\n  listen: 127.0.0.1:1\n');
    await gw.waitFor(/msg="reload failed, keeping the running config".*endpoints\.yaml:1:1: gateway: unknown key; allowed here: endpoints/, { stream: 'stderr' });
    assert.deepEqual(await pool(), ['c']);
    const r = await complete('still served');
    assert.equal(r.status, 200, r.text);
    const src = { source: file, kind: 'file' };
    await waitUntil(async () => sample(await metrics(base), 'wellpath_gateway_discovery_ok', src) === 0, { what: 'discovery_ok 0' });
    assert.equal(sample(await metrics(base), 'wellpath_gateway_discovery_endpoints', src), 1);
    const status = await (await fetch(`${base}/status`)).json();
    assert.match(status.discovery.find((x) => x.kind === 'file').error, /unknown key/);
  });

  test('test_discovery_file_removed_keeps_the_endpoints', async () => {
    const from = gw.lines.stderr.length;
    fs.rmSync(file);
    await gw.waitFor(/msg="discovery file unreadable: keeping the endpoints last read from it".*endpoints=1/, { stream: 'stderr', from });
    assert.deepEqual(await pool(), ['c']);
    assert.equal((await complete('after removal')).status, 200);
  });

  test('test_discovery_same_bytes_are_read_not_applied', async () => {
    publish(['b']);
    await waitPool(['b'], 'b from the restored file');
    const reloads = (await metrics(base)).find((s) => s.name === 'wellpath_gateway_reloads_total').value;
    const from = gw.lines.stderr.length;
    publish(['b']); // the same bytes, a new file
    await gw.waitFor(/msg="discovery file read: unchanged"/, { stream: 'stderr', from });
    assert.ok(!gw.lines.stderr.slice(from).some((l) => l.includes('discovery file changed')), gw.lines.stderr.slice(from).join('\n'));
    assert.equal((await metrics(base)).find((s) => s.name === 'wellpath_gateway_reloads_total').value, reloads);
    const r = await complete('unchanged');
    assert.equal(r.headers.get('x-wellpath-endpoint'), 'b');
  });
});
