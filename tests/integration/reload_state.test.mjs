// What a reload keeps of an endpoint that stays (same name and address):
// - its prefix-index entries, so a prompt whose long prefix it served goes back to it with
//   the whole prefix matched (X-Wellpath-Endpoint, wellpath_gateway_prefix_match_ratio,
//   wellpath_endpoint_prefix_index_blocks);
// - its upstream connections: no new TCP connection reaches the server after the reload;
// - the in-flight count of a request that began before the reload, which ends without an
//   accounting error (wellpath_gateway_accounting_errors_total stays 0).
// Two node look-alikes of vLLM serve, so routing depends on the gateway alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, fakeVllm, metrics, post, randomText, sample, startGateway, stopClean, waitUntil } from '../lib/wellpath.mjs';

const TOKEN = 'reload-tok';

async function server() {
  const s = await fakeVllm({ failing: false });
  s.connections = 0;
  s.server.keepAliveTimeout = 60000; // the gateway decides when its idle connections close
  s.server.on('connection', () => s.connections++);
  return s;
}

describe('reload keeps the state of endpoints that stay', () => {
  let a, b, gw;
  before(async () => {
    [a, b] = await Promise.all([server(), server()]);
    gw = await startGateway([{ name: 'a', port: a.port }, { name: 'b', port: b.port }], {
      extra: `gateway:\n  adminToken: ${TOKEN}\n`,
    });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'gateway');
    for (const s of [a, b]) if (s) s.server.close();
  });

  test('prefix routing, connections and in-flight counts survive POST /admin/reload', async () => {
    const prefix = randomText(4000); // about 60 blocks of 64 characters
    const ask = (suffix) => post(`${gw.url}/v1/completions`, { model: MODEL, prompt: prefix + suffix, max_tokens: 2 });
    const first = await ask(' first question');
    assert.equal(first.status, 200, first.text);
    const home = first.headers.get('x-wellpath-endpoint');
    const srv = home === 'a' ? a : b;
    // Warm the connection pool: several at once, all to the prefix's endpoint.
    srv.delayMs = 150;
    const warm = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => ask(` warm ${i}`)));
    assert.deepEqual(warm.map((r) => [r.status, r.headers.get('x-wellpath-endpoint')]), warm.map(() => [200, home]));
    const slow = ask(' in flight across the reload');
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_in_flight', { endpoint: home }) === 1, { what: 'one in flight' });

    let prom = await metrics(gw.url);
    const blocks = sample(prom, 'wellpath_endpoint_prefix_index_blocks', { endpoint: home });
    assert.ok(blocks >= 60, `index blocks before the reload: ${blocks}`);
    const highBefore = sample(prom, 'wellpath_gateway_prefix_match_ratio_bucket', { le: '0.9' });
    const countBefore = sample(prom, 'wellpath_gateway_prefix_match_ratio_count');
    const connsBefore = srv.connections;

    const r = await fetch(`${gw.url}/admin/reload`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, await r.text());
    prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_gateway_reloads_total'), 1);
    assert.equal(sample(prom, 'wellpath_endpoint_prefix_index_blocks', { endpoint: home }), blocks, 'index entries kept');
    assert.equal(sample(prom, 'wellpath_endpoint_in_flight', { endpoint: home }), 1, 'in flight kept');

    srv.delayMs = 0;
    for (let i = 0; i < 3; i++) {
      const res = await ask(` after the reload ${i}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-wellpath-endpoint'), home, 'the prefix still routes home');
    }
    assert.equal((await slow).status, 200);
    prom = await metrics(gw.url);
    assert.equal(sample(prom, 'wellpath_gateway_prefix_match_ratio_count'), countBefore + 3);
    assert.equal(sample(prom, 'wellpath_gateway_prefix_match_ratio_bucket', { le: '0.9' }), highBefore,
      'every request after the reload matched more than 90 % of its prefix blocks');
    assert.equal(srv.connections, connsBefore, 'no new upstream connection after the reload');
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_in_flight', { endpoint: home }) === 0, { what: 'nothing in flight' });
    prom = await metrics(gw.url);
    for (const endpoint of ['a', 'b'])
      for (const kind of ['complete', 'prefill'])
        assert.equal(sample(prom, 'wellpath_gateway_accounting_errors_total', { endpoint, kind }), 0, `${endpoint} ${kind}`);
  });
});
