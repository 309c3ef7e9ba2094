// The gateway's status page end to end: `wellpath up` with two simulated replicas, the
// page at GET / loaded in headless Chromium (Debian `chromium`), its rendered DOM read
// after the page's own JS fetched /status (--dump-dom with a virtual-time budget), then
// load through the gateway and a second render whose numbers must have moved. A
// screenshot of the page is saved as a test artifact (tests/artifacts/status-page.png,
// git-ignored) and its path printed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium, findChromium, stripTags } from '../lib/chromium.mjs';
import { MODEL, Proc, postStream, randomText, stopClean, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.resolve(here, '../artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'status-page.png');

const TOPOLOGY = `model: qwen3-8b
gpu: h100
vllm:
  replicas: 2
  tensorParallel: 1
  prefixCaching: true
simulation:
  basePort: 0
  timeScale: 0.05
`;

// The rendered page's pool table and total cards: { updated, totals: {key: text},
// rows: {endpoint: {field: text}} } (cell text without the bars).
function readDom(html) {
  const rows = {};
  for (const tr of html.matchAll(/<tr data-endpoint="([^"]*)">([\s\S]*?)<\/tr>/g)) {
    const cells = {};
    for (const td of tr[2].matchAll(/<td data-field="([^"]*)"[^>]*>([\s\S]*?)<\/td>/g)) cells[td[1]] = stripTags(td[2]);
    rows[tr[1]] = cells;
  }
  const totals = {};
  for (const c of html.matchAll(/data-total="([^"]*)"><div class="v">([\s\S]*?)<\/div>/g)) totals[c[1]] = stripTags(c[2]);
  const updated = (html.match(/<span id="updated">([^<]*)<\/span>/) || [])[1];
  return { updated, totals, rows };
}

const sumPicks = (dom) => Object.values(dom.rows).reduce((a, r) => a + Number(r.picks), 0);

describe('status page in headless Chromium', () => {
  let up, base, bin, profile;
  before(async () => {
    bin = findChromium();
    assert.ok(bin, 'chromium not found (set $CHROMIUM, or install the Debian package `chromium`: `make test` runs scripts/install-deps.sh, which does)');
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-chromium-'));
    up = new Proc(['up', '-f', writeTemp(TOPOLOGY), '--listen', '127.0.0.1:0']);
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=2\/2/);
    base = m[1];
  });
  after(async () => {
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    if (up) await stopClean(assert, up, 'wellpath up');
  });

  test('test_status_page_is_self_contained_html', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const html = await res.text();
    assert.match(html, /<script>[\s\S]*fetch\('\/status'/, 'the page polls /status');
    assert.doesNotMatch(html, /(src|href)\s*=\s*"(https?:)?\/\//i, 'no external assets');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+stylesheet/i, 'CSS and JS are inline');
  });

  test('test_status_json_lists_the_pool', async () => {
    const s = await (await fetch(`${base}/status`)).json();
    assert.equal(s.totals.endpoints, 2);
    assert.equal(s.totals.healthy, 2);
    assert.deepEqual([s.totals.queued, s.totals.shed], [0, 0], 'flow control idle');
    assert.ok(s.models.includes(MODEL), JSON.stringify(s.models));
    assert.deepEqual(s.endpoints.map((e) => e.name).sort(), ['sim-0', 'sim-1']);
    for (const e of s.endpoints) {
      assert.equal(e.role, 'both');
      assert.equal(e.healthy, true);
      for (const k of ['in_flight', 'waiting', 'running', 'kv_usage', 'picks', 'requests', 'errors', 'ttft_samples'])
        assert.equal(typeof e[k], 'number', `${e.name}.${k}`);
      for (const k of ['cache_hit_rate', 'pick_share', 'ttft_ms'])
        assert.ok(e[k] === null || typeof e[k] === 'number', `${e.name}.${k}`);
    }
  });

  test('test_status_page_renders_the_pool_and_moves_under_load', async () => {
    const first = readDom(await chromium(bin, profile, `${base}/`, ['--dump-dom']));
    assert.notEqual(first.updated, 'never', 'the page fetched /status and rendered it');
    assert.deepEqual(Object.keys(first.rows).sort(), ['sim-0', 'sim-1'], 'both endpoints are listed');
    for (const r of Object.values(first.rows)) assert.equal(r.state, 'up');
    assert.equal(first.totals.healthy, '2 / 2');

    // Load: streamed completions (their TTFTs feed the page), two shared prefixes.
    const N = 16;
    const prefixes = [randomText(400), randomText(400)];
    const results = await Promise.all(Array.from({ length: N }, (_, i) =>
      postStream(`${base}/v1/completions`, { model: MODEL, prompt: prefixes[i % 2] + randomText(200), max_tokens: 8, stream: true })));
    for (const r of results) assert.equal(r.status, 200);

    const second = readDom(await chromium(bin, profile, `${base}/`, ['--dump-dom']));
    assert.ok(sumPicks(second) >= sumPicks(first) + N, `picks moved: ${sumPicks(first)} -> ${sumPicks(second)}`);
    assert.ok(Number(second.totals.requests) >= Number(first.totals.requests) + N,
      `requests moved: ${first.totals.requests} -> ${second.totals.requests}`);
    assert.match(second.totals.ttft_p50, /^\d+(\.\d+)? ms$/, 'gateway TTFT p50 shown');
    const withTtft = Object.values(second.rows).filter((r) => /^\d+(\.\d+)? ms$/.test(r.ttft_ms));
    assert.ok(withTtft.length >= 1, `recent TTFT shown: ${JSON.stringify(second.rows)}`);
    const shares = Object.values(second.rows).map((r) => Number(r.pick_share.replace('%', '')));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 100) < 0.2, `shares of picks add up: ${shares}`);
    const hit = Object.values(second.rows).map((r) => r.cache_hit_rate);
    assert.ok(hit.some((h) => /^\d+(\.\d)?%$/.test(h) && Number(h.slice(0, -1)) > 0),
      `a shared prefix shows up as cache hits: ${hit}`);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.rmSync(SCREENSHOT, { force: true });
    await chromium(bin, profile, `${base}/`, [`--screenshot=${SCREENSHOT}`, '--window-size=1200,800']);
    const png = fs.readFileSync(SCREENSHOT);
    assert.ok(png.length > 5000, `screenshot size ${png.length}`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    console.log(`status page screenshot: ${SCREENSHOT}`);
  });
});
