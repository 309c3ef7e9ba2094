// Bad input against the gateway (with simulated replicas behind it): malformed HTTP,
// malformed or mistyped JSON bodies, limits, and no endpoint ready. Every answer has
// the right status and the OpenAI error shape, and the gateway keeps serving
// afterwards, also when a client disconnects in the middle of a stream.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  MODEL,
  assertErrorShape,
  freePort,
  metrics,
  parseRawResponse,
  post,
  randomText,
  rawExchange,
  rawRequest,
  sample,
  startGateway,
  startSim,
  stopClean,
  waitUntil,
} from '../lib/wellpath.mjs';

describe('gateway bad input', () => {
  let sim, gw;

  before(async () => {
    sim = await startSim({ replicas: 2, timeScale: 1 });
    gw = await startGateway(
      sim.ports.map((port, i) => ({ name: `r${i}`, port })),
      { extra: 'gateway:\n  maxBodyBytes: 4096\n  maxHeaderBytes: 8192\n' },
    );
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  const raw = async (text, status, what) => {
    const res = parseRawResponse(await rawRequest(gw.port, text));
    assert.equal(res.status, status, `${what}: ${res.headers}\n${res.body}`);
    assertErrorShape(assert, res.json, status, what);
    return res;
  };

  test('test_bad_input_malformed_http', async () => {
    await raw('GARBAGE\r\n\r\n', 400, 'garbage request line');
    await raw('GET / HTTP/9.9.9\r\n\r\n', 400, 'bad version');
    await raw('POST /v1/completions HTTP/1.1\r\nHost: x\r\nThis is not a header\r\n\r\n', 400, 'header without a colon');
    const body = JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 1 });
    await raw(
      `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      400,
      'Content-Length with Transfer-Encoding',
    );
  });

  // HTTP versions other than 1.0 and 1.1 get 505 (as nginx answers them) with a JSON
  // error, then the connection closes: the request pipelined behind is not answered.
  // The gateway and the simulated servers share src/http/server.c; both are checked.
  test('test_bad_input_http_version_505', async () => {
    for (const [who, port] of [
      ['gateway', gw.port],
      ['sim', sim.ports[0]],
    ]) {
      for (const version of ['9.9', '2.0', '0.9', '1.2']) {
        const what = `${who}: GET /health HTTP/${version}`;
        const ex = await rawExchange(port, `GET /health HTTP/${version}\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.ok(ex.closed, `${what}: the server closes the connection\n${ex.text}`);
        assert.match(ex.text, /^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/, what);
        assert.equal(ex.text.match(/HTTP\/1\.1 \d{3}/g).length, 1, `${what}: one answer only\n${ex.text}`);
        const res = parseRawResponse(ex.text);
        assert.match(res.headers, /^Connection: close\r?$/im, what);
        assertErrorShape(assert, res.json, 505, what);
        assert.match(res.json.error.message, new RegExp(`HTTP version ${version.replace('.', '\\.')} is not supported`), what);
      }
      for (const version of ['1.0', '1.1']) {
        const res = parseRawResponse(await rawRequest(port, `GET /health HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`));
        assert.equal(res.status, 200, `${who}: HTTP/${version} is served`);
      }
    }
  });

  test('test_bad_input_limits', async () => {
    const big = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'x'.repeat(5000), max_tokens: 1 });
    assert.equal(big.status, 413);
    assertErrorShape(assert, big.json, 413, 'body over maxBodyBytes');
    await raw(
      `POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Filler: ${'f'.repeat(10000)}\r\nContent-Length: 2\r\n\r\n{}`,
      431,
      'headers over maxHeaderBytes',
    );
    // Just under the limit is fine.
    const fits = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'x '.repeat(1800), max_tokens: 1 });
    assert.equal(fits.status, 200, fits.text);
  });

  test('test_bad_input_bodies', async () => {
    const cases = [
      ['/v1/completions', '{"model": "x", "prompt": ', 'invalid JSON'],
      ['/v1/completions', '', 'empty body'],
      ['/v1/completions', '[1, 2, 3]', 'an array'],
      ['/v1/completions', '"prompt"', 'a string'],
      ['/v1/completions', '42', 'a number'],
      ['/v1/completions', { model: MODEL, max_tokens: 1 }, 'missing prompt'],
      ['/v1/chat/completions', { model: MODEL, max_tokens: 1 }, 'missing messages'],
      ['/v1/completions', { model: MODEL, prompt: 'x', stream: 'yes' }, 'stream "yes"'],
      ['/v1/completions', { model: MODEL, prompt: 'x', max_tokens: -1 }, 'max_tokens -1'],
      ['/v1/completions', { model: MODEL, prompt: 'x', max_tokens: 'x' }, 'max_tokens "x"'],
      ['/v1/completions', { model: MODEL, prompt: 'x', max_tokens: 1.5 }, 'max_tokens 1.5'],
      ['/v1/chat/completions', { model: MODEL, messages: 'hello' }, 'messages not an array'],
      ['/v1/completions', { model: MODEL, prompt: 'x', temperature: 9 }, 'temperature 9'],
      ['/v1/completions', { model: 7, prompt: 'x' }, 'model not a string'],
      ['/v1/completions', { model: MODEL, prompt: 'x', cache_salt: '' }, 'empty cache_salt'],
    ];
    const none400 = async () => sample(await metrics(gw.url), 'wellpath_gateway_requests_total', { endpoint: 'none', status: '400' }) ?? 0;
    const before400 = await none400();
    for (const [path, body, what] of cases) {
      const r = await post(`${gw.url}${path}`, body);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assertErrorShape(assert, r.json, 400, what);
      assert.equal(r.json.error.type, 'BadRequestError', what);
      assert.ok(r.headers.get('x-request-id'), `${what}: an error still carries X-Request-Id`);
    }
    assert.equal((await none400()) - before400, cases.length, 'each 400 is counted once in requests_total{endpoint="none"}');
    const unknown = await post(`${gw.url}/v1/completions`, { model: 'gpt-5', prompt: 'x' });
    assert.equal(unknown.status, 404);
    assertErrorShape(assert, unknown.json, 404, 'unknown model');
    assert.equal(unknown.json.error.param, 'model');
    const path = await fetch(`${gw.url}/v2/nothing`);
    assert.equal(path.status, 404);
    assertErrorShape(assert, await path.json(), 404, 'unknown path');
    const method = await fetch(`${gw.url}/v1/completions`);
    assert.equal(method.status, 405);
    assertErrorShape(assert, await method.json(), 405, 'GET on a completion path');
  });

  test('test_bad_input_client_disconnect_mid_stream', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${gw.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: randomText(200), max_tokens: 500, stream: true }),
      signal: ctl.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0, 'the stream started');
    const m = await metrics(gw.url);
    assert.ok(sample(m, 'wellpath_gateway_in_flight') >= 1, 'the stream is in flight');
    // Other requests run while the stream is going, and after it is cut.
    const during = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 2 });
    assert.equal(during.status, 200);
    ctl.abort();
    await reader.read().catch(() => null);
    await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_gateway_in_flight') === 0, {
      what: 'in_flight to return to 0 after the client left',
    });
    await waitUntil(async () => {
      const all = await Promise.all(sim.ports.map((p) => metrics(`http://127.0.0.1:${p}`)));
      return all.every((x) => sample(x, 'vllm:num_requests_running') === 0);
    }, { what: 'the replica to drop the abandoned request' });
    for (let i = 0; i < 3; i++) {
      const r = await post(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: randomText(50) }], max_tokens: 2 });
      assert.equal(r.status, 200);
    }
  });

  test('test_bad_input_gateway_still_serves', async () => {
    const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'after the battery', max_tokens: 3 });
    assert.equal(r.status, 200);
    assert.equal(r.json.usage.completion_tokens, 3);
    const h = await fetch(`${gw.url}/health`);
    assert.equal(h.status, 200);
    const m = await metrics(gw.url);
    assert.equal(sample(m, 'wellpath_gateway_in_flight'), 0);
  });
});

describe('gateway with no endpoint ready', () => {
  let gw;
  before(async () => {
    const port = await freePort();
    gw = await startGateway([{ name: 'nobody', port }], { waitReady: false });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
  });

  test('test_bad_input_no_endpoint_503', async () => {
    const h = await fetch(`${gw.url}/health`);
    assert.equal(h.status, 503);
    assertErrorShape(assert, await h.json(), 503, 'health');
    for (const body of [{ model: MODEL, prompt: 'x', max_tokens: 1 }, { prompt: 'x', max_tokens: 1 }]) {
      const r = await post(`${gw.url}/v1/completions`, body);
      assert.equal(r.status, 503, JSON.stringify(body));
      assertErrorShape(assert, r.json, 503, JSON.stringify(body));
    }
    // Bad input is still told apart from "no endpoint".
    const bad = await post(`${gw.url}/v1/completions`, '{');
    assert.equal(bad.status, 400);
  });
});

describe('connection limit', () => {
  let sim, gw;
  before(async () => {
    sim = await startSim({ timeScale: 0.01 });
    // The gateway's own scrapes are client connections of the simulator, not of the gateway.
    gw = await startGateway([{ name: 'r0', port: sim.ports[0] }], { extra: 'gateway:\n  maxConnections: 2\n' });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_bad_input_connection_limit_answers_503', async () => {
    // Connections held open (each has had one answer and stays kept alive) until one is
    // over the limit; the test's own fetch pool may hold some of the two slots already.
    const held = [];
    let res;
    for (let i = 0; i < 3 && !res; i++) {
      const sock = net.connect(gw.port, '127.0.0.1');
      sock.setEncoding('latin1');
      sock.on('error', () => {});
      let got = '';
      await new Promise((resolve) => {
        sock.on('data', (d) => {
          got += d;
          if (/\r\n\r\n[\s\S]*\}|^HTTP\/1\.1 200[^]*\r\n\r\n/.test(got)) resolve();
        });
        sock.on('close', resolve);
        sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      if (/^HTTP\/1\.1 200/.test(got)) held.push(sock);
      else res = parseRawResponse(got);
    }
    assert.ok(res, `the third connection at the latest is over the limit of 2 (held ${held.length})`);
    assert.equal(res.status, 503, res.headers);
    assertErrorShape(assert, res.json, 503, 'over the connection limit');
    assert.match(res.json.error.message, /too many connections: this server takes 2 at once/);
    assert.match(res.headers, /connection: close/i);
    // A slot freed: served again.
    for (const sock of held.splice(0)) sock.destroy();
    await waitUntil(async () => parseRawResponse(await rawRequest(gw.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status === 200, { what: 'a slot to free' });
  });
});
