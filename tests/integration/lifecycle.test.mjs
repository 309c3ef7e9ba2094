// The gateway's life cycle under load: SIGTERM drains (the listener closes, in-flight
// streams run to [DONE], the process exits 0; a second signal or the drain timeout cuts
// what is left and exits 1), and SIGHUP reloads the topology file without dropping a
// request (an added endpoint takes traffic, a removed one finishes its stream, a bad file
// keeps the running config and the log says why).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import {
  MODEL,
  Proc,
  canConnect,
  gatewayTopology,
  metrics,
  parseRawResponse,
  post,
  randomText,
  sample,
  startSim,
  stopClean,
  waitUntil,
  writeTemp,
} from '../lib/wellpath.mjs';

// `wellpath gateway -f FILE` with extra flags; resolves once it listens and the named
// endpoints are healthy.
async function startGw(endpoints, args = []) {
  const file = writeTemp(gatewayTopology(endpoints));
  const proc = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0', ...args]);
  const m = await proc.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const url = `http://127.0.0.1:${m[1]}`;
  await waitHealthy(url, endpoints.map((e) => e.name));
  return { proc, file, url, port: Number(m[1]) };
}

async function waitHealthy(url, names) {
  await waitUntil(async () => {
    const prom = await metrics(url);
    return names.every((n) => sample(prom, 'wellpath_endpoint_healthy', { endpoint: n }) === 1);
  }, { timeout: 20000, what: `endpoints ${names} healthy` });
}

// A streamed completion: resolves `head` with status and headers as soon as they come,
// and `done` with the SSE data lines (strings) once the body ends (or fails).
function openStream(url, maxTokens) {
  const res = fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: randomText(200), max_tokens: maxTokens, stream: true, ignore_eos: true }),
    signal: AbortSignal.timeout(60000),
  });
  const done = res.then(async (r) => {
    let text = '';
    let error = null;
    try {
      for await (const chunk of r.body) text += Buffer.from(chunk).toString('utf8');
    } catch (e) {
      error = e;
    }
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    return { data, error, endedAt: performance.now() };
  });
  return { head: res, done };
}

// A raw kept-alive connection that has had one answer (GET /health): { sock, got, closed }.
async function keptAlive(port) {
  const c = { sock: net.connect(port, '127.0.0.1'), got: '' };
  c.sock.setEncoding('latin1');
  c.sock.on('error', () => {});
  c.closed = new Promise((r) => c.sock.on('close', r));
  const answered = new Promise((r) => c.sock.on('data', (d) => {
    c.got += d;
    if (/\r\n\r\n/.test(c.got)) r();
  }));
  c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await answered;
  assert.match(c.got, /^HTTP\/1\.1 200/);
  return c;
}

const inFlight = async (url) => sample(await metrics(url), 'wellpath_gateway_in_flight');

describe('drain on SIGTERM', () => {
  let sim;
  after(async () => {
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_lifecycle_drain_under_load', async () => {
    // Time scale 2: 60 tokens take over a second.
    sim = await startSim({ replicas: 2, timeScale: 2 });
    const gw = await startGw(sim.ports.map((port, i) => ({ name: `s${i}`, port })));
    const streams = [];
    for (let i = 0; i < 4; i++) streams.push(openStream(gw.url, 60));
    await waitUntil(async () => (await inFlight(gw.url)) === 4, { what: '4 requests in flight' });
    // A client idle on a kept-alive connection, and one halfway through sending a request;
    // each has had an answer first, so the gateway holds both connections.
    const idle = await keptAlive(gw.port);
    const half = await keptAlive(gw.port);
    const body = JSON.stringify({ model: MODEL, prompt: 'late', max_tokens: 2 });
    await new Promise((r) => half.sock.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, r));
    await metrics(gw.url); // a round trip: the gateway has read the bytes above by now
    half.got = '';

    const from = gw.proc.lines.stderr.length;
    const tSig = performance.now();
    gw.proc.child.kill('SIGTERM');
    await gw.proc.waitFor(/msg=draining/, { stream: 'stderr', from });
    assert.equal(await canConnect(gw.port, 1000), false, 'new connections are refused while draining');
    await idle.closed; // the idle keep-alive connection is closed
    half.sock.write(body);
    await half.closed;
    const late = parseRawResponse(half.got);
    assert.equal(late.status, 503, `a request arriving while draining: ${half.got}`);
    assert.match(late.headers, /connection: close/i);
    assert.match(late.json.error.message, /shutting down/);

    for (const s of streams) {
      const head = await s.head;
      assert.equal(head.status, 200);
      const r = await s.done;
      assert.equal(r.error, null, `stream cut: ${r.error}`);
      assert.equal(r.data[r.data.length - 1], '[DONE]', 'every in-flight stream completes');
      assert.ok(r.data.length >= 60, `all tokens arrived (${r.data.length} events)`);
      assert.ok(r.endedAt > tSig, 'the stream was still running at SIGTERM');
    }
    const exit = await gw.proc.exit;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gw.proc.output());
    assert.ok(gw.proc.lines.stderr.some((l) => /msg=drained/.test(l)), 'the log says it drained');
  });

  test('test_lifecycle_second_signal_and_timeout_cut', async () => {
    // A second SIGTERM exits at once; so does the drain timeout. Both exit 1.
    for (const mode of ['second-signal', 'timeout']) {
      const gw = await startGw([{ name: 's0', port: sim.ports[0] }], ['--drain-timeout', mode === 'timeout' ? '300' : '60000']);
      const s = openStream(gw.url, 2000);
      // Cut mid-stream, or before its head when the first token had not come yet (the gateway
      // holds the head until the first body byte): then the fetch itself fails, possibly
      // before the exit is awaited, so the outcome is taken at once.
      const done = s.done.catch((e) => ({ data: [`cut before the head: ${e.message}`] }));
      await waitUntil(async () => (await inFlight(gw.url)) === 1, { what: 'a request in flight' });
      const t0 = performance.now();
      gw.proc.child.kill('SIGTERM');
      await gw.proc.waitFor(/msg=draining/, { stream: 'stderr' });
      if (mode === 'second-signal') gw.proc.child.kill('SIGTERM');
      const exit = await gw.proc.exit;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, `${mode}\n${gw.proc.output()}`);
      assert.ok(performance.now() - t0 < 10000, `${mode}: exited without waiting for the stream`);
      const r = await done;
      assert.notEqual(r.data[r.data.length - 1], '[DONE]', `${mode}: the stream was cut`);
    }
  });
});

test('test_lifecycle_up_drains_then_stops_its_sims', async () => {
  const topo = 'model: qwen3-8b\ngpu: h100\nvllm:\n  replicas: 1\nsimulation:\n  basePort: 0\n  timeScale: 2\n';
  const up = new Proc(['up', '-f', writeTemp(topo), '--listen', '127.0.0.1:0']);
  try {
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1/);
    const s = openStream(m[1], 60);
    await waitUntil(async () => (await inFlight(m[1])) === 1, { what: 'a request in flight' });
    up.child.kill('SIGTERM');
    const r = await s.done;
    assert.equal(r.data[r.data.length - 1], '[DONE]', 'the stream finishes before the sims stop');
    const exit = await up.exit;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, up.output());
  } finally {
    await up.stop();
  }
});

describe('reload on SIGHUP', () => {
  let simA, simB, gw;
  after(async () => {
    if (gw) await stopClean(assert, gw.proc, 'wellpath gateway');
    if (simA) await stopClean(assert, simA.proc, 'wellpath sim a');
    if (simB) await stopClean(assert, simB.proc, 'wellpath sim b');
  });

  const endpointsOf = async () =>
    (await metrics(gw.url)).filter((s) => s.name === 'wellpath_endpoint_healthy').map((s) => s.labels.endpoint).sort();

  async function reload(eps, extra = '') {
    fs.writeFileSync(gw.file, gatewayTopology(eps, extra));
    const from = gw.proc.lines.stderr.length;
    gw.proc.child.kill('SIGHUP');
    const m = await gw.proc.waitFor(/msg="?(reloaded|reload failed[^"]*)"?(.*)$/, { stream: 'stderr', from });
    return m;
  }

  test('test_lifecycle_reload_under_load', async () => {
    simA = await startSim({ replicas: 1, timeScale: 2 });
    simB = await startSim({ replicas: 1, timeScale: 2 });
    const a = { name: 'a', port: simA.ports[0] };
    const b = { name: 'b', port: simB.ports[0] };
    gw = await startGw([a]);

    // Add b while a stream runs on a.
    const s1 = openStream(gw.url, 60);
    assert.equal((await s1.head).headers.get('x-wellpath-endpoint'), 'a');
    const m = await reload([a, b]);
    assert.equal(m[1], 'reloaded', m[0]);
    const r1 = await s1.done;
    assert.equal(r1.error, null);
    assert.equal(r1.data[r1.data.length - 1], '[DONE]', 'the stream in flight across the reload completes');
    await waitHealthy(gw.url, ['a', 'b']);
    const seen = new Set();
    for (let i = 0; i < 30 && !seen.has('b'); i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(300), max_tokens: 2 });
      assert.equal(r.status, 200);
      seen.add(r.headers.get('x-wellpath-endpoint'));
    }
    assert.ok(seen.has('b'), `requests reach the added endpoint (saw ${[...seen]})`);

    // Remove a while a stream runs on it: the stream completes, then all goes to b.
    let s2;
    for (let i = 0; i < 30; i++) {
      const s = openStream(gw.url, 60);
      if ((await s.head).headers.get('x-wellpath-endpoint') === 'a') {
        s2 = s;
        break;
      }
      await s.done;
    }
    assert.ok(s2, 'a stream landed on a');
    assert.equal((await reload([b]))[1], 'reloaded');
    const r2 = await s2.done;
    assert.equal(r2.data[r2.data.length - 1], '[DONE]', 'a stream on a removed endpoint completes');
    assert.deepEqual(await endpointsOf(), ['b']);
    for (let i = 0; i < 5; i++) {
      const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: randomText(100), max_tokens: 2 });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-wellpath-endpoint'), 'b');
    }

    // A bad file: the running config stays, one log line says which key and line.
    const bad = await reload([a, b], 'bogusKey: 1\n');
    assert.match(bad[1], /reload failed/);
    assert.match(bad[2], /bogusKey/);
    assert.match(bad[2], /\.yaml:4:1: bogusKey: unknown key/, 'the line of the bad key');
    assert.deepEqual(await endpointsOf(), ['b'], 'the old endpoints stay');
    const dup = await reload([b, { name: 'b', port: a.port }]);
    assert.match(dup[1], /reload failed/);
    assert.match(dup[2], /endpoints\[1\]: endpoint name \\"b\\" already used on line 2/, dup[0]);
    // A file that parses but cannot be applied (a host that does not resolve): the same.
    const nohost = await reload([b], '  - {url: "http://no-such-host.invalid:80", name: c}\n');
    assert.match(nohost[1], /reload failed/);
    assert.match(nohost[2], /no-such-host\.invalid/, nohost[0]);
    assert.deepEqual(await endpointsOf(), ['b']);
    const r = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: 'still here', max_tokens: 2 });
    assert.equal(r.status, 200, 'requests are still served');
    assert.equal(r.headers.get('x-wellpath-endpoint'), 'b');
  });
});
