// The gateway in front of simulated replicas: proxying (streamed bytes pass through
// as they arrive), request ids, prefix-aware routing, load-aware avoidance of a
// saturated replica, endpoints leaving and rejoining the pool, and its /metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  MODEL,
  assertErrorShape,
  metrics,
  post,
  postStream,
  randomText,
  rawRequest,
  sample,
  startGateway,
  startSim,
  stopClean,
  waitUntil,
} from '../lib/wellpath.mjs';

const NAMES = ['a', 'b', 'c'];

describe('gateway over three replicas', () => {
  let sim, gw;

  before(async () => {
    // Time scale 2: a 50-token answer takes about a second; max-num-seqs 2 lets the
    // load test fill a replica's queue with a few requests.
    sim = await startSim({ replicas: 3, timeScale: 2, args: ['--max-num-seqs', '2'] });
    gw = await startGateway(sim.ports.map((port, i) => ({ name: NAMES[i], port })));
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_gateway_proxy_non_stream', async () => {
    const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(200), max_tokens: 4 });
    assert.equal(r.status, 200);
    assert.ok(NAMES.includes(r.headers.get('x-wellpath-endpoint')), `endpoint header: ${r.headers.get('x-wellpath-endpoint')}`);
    assert.match(r.headers.get('x-request-id') || '', /^\S+$/, 'a generated request id');
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.usage.completion_tokens, 4);
    const chat = await post(`${gw.url}/v1/chat/completions`, { model: 'qwen3-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    assert.equal(chat.status, 200);
    assert.equal(chat.json.object, 'chat.completion');
    assert.equal(chat.json.usage.completion_tokens, 3);
  });

  // HTTP/1.0 has no chunked encoding: a stream is sent as it comes and ends with the close.
  test('test_gateway_streams_to_http10_clients', async () => {
    const body = JSON.stringify({ model: MODEL, prompt: 'hello old client', max_tokens: 3, stream: true });
    const text = await rawRequest(gw.port, `POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, { timeout: 10000 });
    const [head, payload] = text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(head, /transfer-encoding/i, head);
    assert.match(head, /connection: close/i);
    assert.equal((payload.match(/^data: \{/gm) || []).length, 3, payload); // one event per token
    assert.match(payload, /data: \[DONE\]\n\n$/);
  });

  // The heads the gateway writes, byte for byte: the status line, each header line ended by
  // CRLF, Content-Length equal to the body's bytes, and for a stream chunk-size lines in hex
  // that frame exactly the bytes that follow them.
  test('test_gateway_response_head_bytes', async () => {
    const body = JSON.stringify({ model: MODEL, prompt: 'head bytes', max_tokens: 2 });
    const ask = (b) => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
    const text = await rawRequest(gw.port, ask(body), { timeout: 10000 });
    const cut = text.indexOf('\r\n\r\n');
    const head = text.slice(0, cut).split('\r\n');
    const payload = text.slice(cut + 4);
    assert.equal(head[0], 'HTTP/1.1 200 OK');
    for (const line of head.slice(1)) assert.match(line, /^[A-Za-z-]+: [^\r\n]*$/, `a header line: ${JSON.stringify(line)}`);
    const field = (name) => head.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}: `))?.slice(name.length + 2);
    assert.equal(Number(field('Content-Length')), Buffer.byteLength(payload, 'latin1'), text);
    assert.match(field('X-Request-Id') || '', /^wp-[0-9a-f]{16}$/);
    assert.ok(NAMES.includes(field('X-Wellpath-Endpoint')), text);
    assert.equal(JSON.parse(payload).usage.completion_tokens, 2);

    const streamed = await rawRequest(gw.port, ask(JSON.stringify({ model: MODEL, prompt: 'head bytes', max_tokens: 3, stream: true })), { timeout: 10000 });
    const scut = streamed.indexOf('\r\n\r\n');
    assert.match(streamed.slice(0, scut), /\r\nTransfer-Encoding: chunked(\r\n|$)/);
    let rest = streamed.slice(scut + 4), events = '', chunks = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n');
      assert.match(rest.slice(0, eol), /^[0-9a-f]+$/, `a chunk-size line: ${JSON.stringify(rest.slice(0, 40))}`);
      const size = parseInt(rest.slice(0, eol), 16);
      if (size === 0) break;
      events += rest.slice(eol + 2, eol + 2 + size);
      assert.equal(rest.slice(eol + 2 + size, eol + 4 + size), '\r\n', 'each chunk ends where its size says');
      rest = rest.slice(eol + 4 + size);
      chunks++;
    }
    assert.ok(chunks >= 1);
    assert.equal((events.match(/^data: \{/gm) || []).length, 3, events);
    assert.match(events, /data: \[DONE\]\n\n$/);
  });

  test('test_gateway_request_id', async () => {
    const given = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'x y z', max_tokens: 1 }, { headers: { 'X-Request-Id': 'itest-req-42' } });
    assert.equal(given.status, 200);
    assert.equal(given.headers.get('x-request-id'), 'itest-req-42', 'a client id is passed through');
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'x y z', max_tokens: 1 });
      const id = r.headers.get('x-request-id');
      assert.match(id || '', /^wp-[0-9a-f]{16}$/, 'an id is generated when the client sends none');
      ids.add(id);
    }
    assert.equal(ids.size, 3, 'generated ids are unique');
  });

  test('test_gateway_stream_incremental', async () => {
    const s = await postStream(`${gw.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: randomText(100) }],
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(NAMES.includes(s.headers.get('x-wellpath-endpoint')));
    const ev = s.events;
    assert.equal(ev.at(-1).data, '[DONE]');
    assert.deepEqual(ev[0].data.choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(ev.at(-2).data.usage.completion_tokens, 50);
    const first = ev[0].t, last = ev.at(-1).t;
    console.log(`stream through the gateway: first event at ${first.toFixed(0)} ms, last at ${last.toFixed(0)} ms, ${ev.length} events`);
    // 50 decode steps of ~20 ms (scaled): a buffering proxy would deliver all at once.
    assert.ok(last - first > 250, `events spread over time (first ${first.toFixed(0)} ms, last ${last.toFixed(0)} ms)`);
    const mid = ev[Math.floor(ev.length / 2)].t;
    assert.ok(mid < last - 50, 'the middle of the stream arrives well before its end');
  });

  test('test_gateway_prefix_routing', async () => {
    const system = randomText(4096);
    const questions = ['What is the capital of France?', 'How do rivers form?', 'Explain caching.', 'Why is the sky blue?', 'Name three metals.', 'What is a token?'];
    const endpoints = [];
    let prompt = 0, cached = 0;
    for (const [i, q] of questions.entries()) {
      const r = await post(`${gw.url}/v1/chat/completions`, {
        model: MODEL,
        messages: [{ role: 'system', content: system }, { role: 'user', content: q }],
        max_tokens: 2,
      });
      assert.equal(r.status, 200);
      endpoints.push(r.headers.get('x-wellpath-endpoint'));
      const u = r.json.usage;
      if (i > 0) {
        assert.ok(u.prompt_tokens_details.cached_tokens > 0, `request ${i + 1} reuses the shared prefix (cached ${u.prompt_tokens_details.cached_tokens})`);
        prompt += u.prompt_tokens;
        cached += u.prompt_tokens_details.cached_tokens;
      }
    }
    assert.equal(new Set(endpoints).size, 1, `all on one endpoint: ${endpoints.join(',')}`);
    const rate = cached / prompt;
    console.log(`prefix routing: ${questions.length} requests sharing a 4 KB system prompt all went to endpoint ${endpoints[0]}; ` +
      `prefix-hit rate from the 2nd on = ${(100 * rate).toFixed(1)} % (${cached}/${prompt} prompt tokens cached)`);
    assert.ok(rate > 0.8, `most of each prompt is the cached system prompt (${rate})`);
  });

  test('test_gateway_avoids_saturated_endpoint', async () => {
    const saturated = 'a';
    const direct = `http://127.0.0.1:${sim.ports[0]}`;
    const ctl = new AbortController();
    // Eight long streams directly on replica a: two run, six wait.
    const pending = [];
    for (let i = 0; i < 8; i++) {
      pending.push(
        fetch(`${direct}/v1/completions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ model: MODEL, prompt: randomText(300), max_tokens: 2000, stream: true }),
          signal: ctl.signal,
        }).catch(() => null),
      );
    }
    try {
      await waitUntil(async () => sample(await metrics(gw.url), 'wellpath_endpoint_waiting', { endpoint: saturated }) > 0, {
        what: `the gateway to see waiting requests on ${saturated}`,
      });
      const landed = [];
      for (let i = 0; i < 10; i++) {
        const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(300), max_tokens: 2 });
        assert.equal(r.status, 200);
        landed.push(r.headers.get('x-wellpath-endpoint'));
      }
      console.log(`load test: with ${saturated} saturated, new requests went to ${landed.join(',')}`);
      assert.ok(!landed.includes(saturated), `no request lands on the saturated endpoint: ${landed.join(',')}`);
    } finally {
      ctl.abort();
      await Promise.all(pending);
    }
    // The aborted requests leave the replica.
    await waitUntil(async () => {
      const m = await metrics(direct);
      return sample(m, 'vllm:num_requests_waiting') === 0 && sample(m, 'vllm:num_requests_running') === 0;
    }, { what: 'the saturated replica to drain after the clients left' });
  });

  test('test_gateway_metrics', async () => {
    const prom = await metrics(gw.url);
    for (const name of [
      'wellpath_gateway_requests_total',
      'wellpath_gateway_picks_total',
      'wellpath_gateway_decision_seconds_count',
      'wellpath_gateway_ttft_seconds_count',
      'wellpath_gateway_prefix_match_ratio_count',
      'wellpath_gateway_in_flight',
      'wellpath_endpoint_healthy',
      'wellpath_endpoint_waiting',
    ])
      assert.ok(prom.some((s) => s.name === name), `metric ${name}`);
    const ok = prom.filter((s) => s.name === 'wellpath_gateway_requests_total' && s.labels.status === '200').reduce((a, s) => a + s.value, 0);
    assert.ok(ok >= 20, `requests_total{status="200"} counts the answers so far (${ok})`);
    const picks = prom.filter((s) => s.name === 'wellpath_gateway_picks_total').reduce((a, s) => a + s.value, 0);
    assert.ok(picks >= ok, 'one pick per proxied request at least');
    const count = sample(prom, 'wellpath_gateway_decision_seconds_count');
    const sum = sample(prom, 'wellpath_gateway_decision_seconds_sum');
    assert.equal(count, picks, 'one decision observed per pick');
    console.log(`gateway decision time: mean ${((sum / count) * 1e6).toFixed(2)} µs over ${count} decisions (decision_seconds_sum/count)`);
    const ttftCount = sample(prom, 'wellpath_gateway_ttft_seconds_count');
    // TTFT is observed for streamed answers (the stream test sent one); e2e for every 200.
    assert.ok(ttftCount >= 1 && ttftCount <= ok, `ttft observed for the streamed answer (${ttftCount})`);
    assert.ok(sample(prom, 'wellpath_gateway_e2e_seconds_count') >= ok, 'e2e observed for every 200');
    const ratioCount = sample(prom, 'wellpath_gateway_prefix_match_ratio_count');
    const belowHalf = sample(prom, 'wellpath_gateway_prefix_match_ratio_bucket', { le: '0.5' });
    assert.ok(ratioCount - belowHalf >= 5, 'the routing test produced high prefix matches');
    assert.equal(sample(prom, 'wellpath_gateway_in_flight'), 0);
    for (const n of NAMES) assert.equal(sample(prom, 'wellpath_endpoint_healthy', { endpoint: n }), 1);
  });
});

describe('gateway pool membership', () => {
  let simA, simB, gw, portA;

  before(async () => {
    simA = await startSim({ timeScale: 0.05 });
    simB = await startSim({ timeScale: 0.05 });
    portA = simA.ports[0];
    gw = await startGateway([
      { name: 'a', port: portA },
      { name: 'b', port: simB.ports[0] },
    ]);
  });
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
    for (const s of [simA, simB]) if (s) await s.proc.stop();
  });

  const healthy = async (name) => sample(await metrics(gw.url), 'wellpath_endpoint_healthy', { endpoint: name });

  test('test_gateway_endpoint_dies_and_rejoins', async () => {
    // A dies hard: requests keep succeeding on b (retried before the first byte).
    const killed = await simA.proc.stop({ signal: 'SIGKILL' });
    assert.equal(killed.signal, 'SIGKILL');
    for (let i = 0; i < 6; i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 2 });
      assert.equal(r.status, 200, `request ${i} with a dead endpoint: ${r.text}`);
      assert.equal(r.headers.get('x-wellpath-endpoint'), 'b');
    }
    await waitUntil(async () => (await healthy('a')) === 0, { what: 'endpoint a to leave the pool' });
    assert.equal((await fetch(`${gw.url}/health`)).status, 200, 'healthy while b is up');

    // B goes too: the gateway reports 503 and answers requests with a JSON 503.
    await stopClean(assert, simB.proc, 'wellpath sim b');
    await waitUntil(async () => (await fetch(`${gw.url}/health`)).status === 503, { what: 'gateway /health to turn 503' });
    const h = await fetch(`${gw.url}/health`);
    assert.equal(h.status, 503);
    assertErrorShape(assert, await h.json(), 503, 'health');
    const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'anyone?', max_tokens: 2 });
    assert.equal(r.status, 503);
    assertErrorShape(assert, r.json, 503, 'no endpoint');

    // A restarts on its port and joins again.
    simA = await startSim({ timeScale: 0.05, port: portA });
    assert.equal(simA.ports[0], portA);
    await waitUntil(async () => (await healthy('a')) === 1, { what: 'endpoint a to rejoin' });
    assert.equal((await fetch(`${gw.url}/health`)).status, 200);
    const back = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 3 });
    assert.equal(back.status, 200);
    assert.equal(back.headers.get('x-wellpath-endpoint'), 'a');
    assert.equal(back.json.usage.completion_tokens, 3);
    await stopClean(assert, simA.proc, 'restarted wellpath sim a');
  });
});
