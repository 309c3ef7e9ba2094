// Session affinity through the gateway (llm-d's session-affinity scorer): with the scorer
// in the topology, every proxied answer carries x-session-token naming (base64) the endpoint
// that served it; requests that send the token back stick to that endpoint, those without
// it spread as the other scorers say, and a garbage or unknown token is ignored. Without
// the scorer no token is sent. Three node look-alikes of vLLM serve, so routing depends on
// the gateway alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, fakeVllm, post, startGateway, stopClean } from '../lib/wellpath.mjs';

const ask = (url, headers = {}) => post(`${url}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 2 }, { headers });
const b64 = (s) => Buffer.from(s).toString('base64');

describe('session affinity', () => {
  let servers = [], gw, plain;
  before(async () => {
    servers = await Promise.all([0, 1, 2].map(() => fakeVllm({ failing: false })));
    const eps = servers.map((s, i) => ({ name: `ep${i}`, port: s.port }));
    // least-request ties on idle endpoints are broken at random: without a token requests spread.
    gw = await startGateway(eps, {
      extra: 'inferenceScheduler:\n  scorers:\n    - type: session-affinity\n      weight: 100\n    - type: least-request\n      weight: 10\n',
    });
    plain = await startGateway(eps);
  });
  after(async () => {
    for (const g of [gw, plain]) if (g) await stopClean(assert, g.proc, 'gateway');
    for (const s of servers) s.server.close();
  });

  test('answers carry the token of the endpoint that served them', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await ask(gw.url);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-session-token'), b64(r.headers.get('x-wellpath-endpoint')));
    }
  });

  test('requests with the token stick to its endpoint; requests without it need not', async () => {
    const first = await ask(gw.url);
    const home = first.headers.get('x-wellpath-endpoint');
    const token = first.headers.get('x-session-token');
    const withToken = new Set(), without = new Set();
    for (let i = 0; i < 30; i++) {
      const r = await ask(gw.url, { 'x-session-token': token });
      assert.equal(r.status, 200, r.text);
      withToken.add(r.headers.get('x-wellpath-endpoint'));
      assert.equal(r.headers.get('x-session-token'), token);
      without.add((await ask(gw.url)).headers.get('x-wellpath-endpoint'));
    }
    assert.deepEqual([...withToken], [home]);
    assert.ok(without.size >= 2, `without a token requests spread: ${[...without]}`);
  });

  test('a garbage or unknown token is ignored, never an error', async () => {
    for (const bad of ['%%%', 'not base64!', b64('no-such-endpoint'), 'ZXAw ZXAw', 'A'.repeat(3000), b64('ep0') + '=']) {
      const seen = new Set();
      for (let i = 0; i < 12; i++) {
        const r = await ask(gw.url, { 'x-session-token': bad });
        assert.equal(r.status, 200, `${bad}: ${r.text}`);
        seen.add(r.headers.get('x-wellpath-endpoint'));
      }
      assert.ok(seen.size >= 2, `a bad token pins nothing: ${bad} -> ${[...seen]}`);
    }
  });

  test('without the scorer no token is sent', async () => {
    const r = await ask(plain.url, { 'x-session-token': b64('ep1') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-session-token'), null);
  });
});
