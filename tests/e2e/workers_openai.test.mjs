// gateway.workers: 2, live, with the official OpenAI SDK as the client. Each request goes on a
// connection of its own (the kernel spreads connections over the workers), so consecutive
// requests land on either worker. Both workers serve; /metrics adds both; prompts that share a
// prefix go to one endpoint whichever worker takes them (the prefix index is shared); requests
// in flight on one worker count on the other's scheduler (long streams spread evenly); a reload
// asked of either worker's admin API applies to both; SIGTERM drains the streams of both.
// Flow control: requests queued on both workers go out by priority, whichever worker holds
// them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { MODEL, Proc, answerChecks, fakeVllm, freePort, listenLocal, metrics, parseProm, randomText, sample, seededRandom, startSim, stopClean, testSeed, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const SEED = testSeed();
const rng = seededRandom(SEED);
const TOKEN = 'workers-test-token';

// A fetch over node:http with `agent` (false: a new TCP connection each time, so the SDK's
// requests reach whichever worker the kernel gives each connection).
function fetchOver(agent) {
  return (url, init = {}) => new Promise((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers || {}).entries());
    const req = http.request(url, { method: init.method || 'GET', headers, agent }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      resolve(new Response(Readable.toWeb(res), { status: res.statusCode, headers: h }));
    });
    req.on('error', reject);
    if (init.signal) init.signal.addEventListener('abort', () => req.destroy(new Error('aborted')));
    req.end(init.body ?? undefined);
  });
}
const freshFetch = fetchOver(false);

async function served(base) {
  return (await metrics(base)).filter((s) => s.name === 'wellpath_gateway_worker_requests_total');
}

// `wellpath gateway -f file` with its two workers started and n endpoints in both workers'
// pools (twenty /health answers in a row on fresh connections: each worker answered some).
async function startWorkers(file, n) {
  const gw = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0']);
  const m = await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const base = `http://127.0.0.1:${m[1]}`;
  await gw.waitFor(/msg="workers started" workers=2/, { stream: 'stderr' });
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000, fetch: freshFetch });
  await waitUntil(async () => {
    for (let i = 0; i < 20; i++) if ((await freshFetch(`${base}/health`)).status !== 200) return false;
    return (await metrics(base)).filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1).length === n;
  }, { timeout: 20000, what: `${n} endpoints in both workers' pools` });
  return { gw, base, client };
}

function topology(eps, extra = '') {
  return `endpoints:\n${eps.map((e) => `  - {url: "http://127.0.0.1:${e.port}", name: ${e.name}}`).join('\n')}\n` +
    `gateway:\n  workers: 2\n  adminToken: ${TOKEN}\n${extra}`;
}

describe('a gateway with two workers', () => {
  let sim, gw, base, client, file, eps;


  async function complete(prompt, opts = {}) {
    const { data, response } = await client.completions
      .create({ model: MODEL, prompt, max_tokens: 3, ...opts })
      .withResponse();
    return { data, endpoint: response.headers.get('x-wellpath-endpoint') };
  }

  before(async () => {
    sim = await startSim({ replicas: 4, timeScale: 0.02 });
    eps = sim.ports.map((port, i) => ({ name: 'abcd'[i], port }));
    file = writeTemp(topology(eps));
    ({ gw, base, client } = await startWorkers(file, 4));
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_workers_both_serve_and_metrics_add_them', async () => {
    const before = await metrics(base);
    const n = 40;
    for (let i = 0; i < n; i += 4)
      await Promise.all([0, 1, 2, 3].map((k) => complete(`spread ${SEED} ${i + k} ${randomText(80, rng)}`)));
    const after = await metrics(base);
    const by = (prom, w) => sample(prom, 'wellpath_gateway_worker_requests_total', { worker: String(w) }) ?? 0;
    const got = [0, 1].map((w) => by(after, w) - by(before, w));
    assert.equal(got[0] + got[1], n, `accepted by worker: ${got}`);
    assert.ok(got[0] > 0 && got[1] > 0, `both workers take connections: ${got}`);
    const ok = (prom) => eps.reduce((s, e) => s + (sample(prom, 'wellpath_gateway_requests_total', { endpoint: e.name, model: MODEL, status: '200' }) ?? 0), 0);
    assert.equal(ok(after) - ok(before), n, 'every 200 counted once, whichever worker served it');
    const picks = (prom) => eps.reduce((s, e) => s + (sample(prom, 'wellpath_gateway_picks_total', { endpoint: e.name }) ?? 0), 0);
    assert.equal(picks(after) - picks(before), n);
    const st = await (await freshFetch(`${base}/status`)).json();
    assert.equal(st.totals.picks, picks(after), '/status adds both workers too');
  });

  test('test_workers_share_the_prefix_index', async () => {
    let spanned = 0; // groups whose requests both workers took
    for (let g = 0; g < 6; g++) {
      const prefix = `group ${g} ${SEED} ${randomText(1200, rng)}`;
      const where = new Set();
      const workers = new Set();
      for (let i = 0; i < 5; i++) {
        const before = await served(base);
        const r = await complete(`${prefix} question ${i}`);
        where.add(r.endpoint);
        const after = await served(base);
        workers.add(after.find((s, k) => s.value !== before[k].value)?.labels.worker);
      }
      assert.equal(where.size, 1, `group ${g}: one endpoint for its prefix, got ${[...where]} (workers ${[...workers]})`);
      spanned += workers.size === 2;
    }
    // each group's five connections all on one worker: 1 chance in 16
    assert.ok(spanned >= 3, `groups served by both workers: ${spanned} of 6`);
  });

  test('test_workers_count_each_others_requests_in_flight', async () => {
    const streams = [];
    const where = [];
    for (let i = 0; i < 8; i++) {
      const { data: stream, response } = await client.completions
        .create({ model: MODEL, prompt: `long ${SEED} ${i} ${randomText(100, rng)}`, max_tokens: 400, stream: true })
        .withResponse();
      where.push(response.headers.get('x-wellpath-endpoint'));
      const it = stream[Symbol.asyncIterator]();
      await it.next(); // dispatched and streaming: both workers count it by now
      streams.push((async () => { while (!(await it.next()).done); })());
    }
    const per = eps.map((e) => where.filter((w) => w === e.name).length);
    assert.deepEqual(per, [2, 2, 2, 2], `8 long streams over 4 endpoints: ${where}`);
    await Promise.all(streams);
  });

  // Round-robin's turn is one word both workers' schedulers claim in turn: 40 requests sent
  // at once over both workers reach each of the 4 endpoints exactly 10 times (turns that
  // each worker only followed after the other's pick could give one endpoint two in a row).
  test('test_workers_round_robin_takes_exact_turns', async () => {
    const rrFile = writeTemp(topology(eps, 'inferenceScheduler:\n  policy: round-robin\n'));
    const rr = await startWorkers(rrFile, 4);
    try {
      const before = await metrics(rr.base);
      const picks = (prom, name) => sample(prom, 'wellpath_gateway_picks_total', { endpoint: name }) ?? 0;
      const ends = await Promise.all(Array.from({ length: 40 }, (_, i) => rr.client.completions
        .create({ model: MODEL, prompt: `turn ${SEED} ${i}`, max_tokens: 2 }).withResponse()
        .then(({ response }) => response.headers.get('x-wellpath-endpoint'))));
      const after = await metrics(rr.base);
      const by = (prom, w) => sample(prom, 'wellpath_gateway_worker_requests_total', { worker: String(w) }) ?? 0;
      const workers = [0, 1].map((w) => by(after, w) - by(before, w));
      assert.ok(workers[0] > 0 && workers[1] > 0, `both workers picked: ${workers}`);
      assert.deepEqual(eps.map((e) => picks(after, e.name) - picks(before, e.name)), [10, 10, 10, 10], `endpoints: ${ends}`);
    } finally {
      await stopClean(assert, rr.gw, 'wellpath gateway (round-robin)');
    }
  });

  test('test_workers_reload_through_either_admin_api', async () => {
    fs.writeFileSync(file, topology(eps.slice(0, 3)));
    for (let i = 0; i < 6; i++) {
      const res = await freshFetch(`${base}/admin/reload`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.equal(JSON.parse(body).status, 'reloaded');
    }
    const seen = new Set();
    for (let i = 0; i < 24; i++) seen.add((await complete(`after reload ${SEED} ${i} ${randomText(80, rng)}`)).endpoint);
    assert.ok(!seen.has('d'), `no request to the removed endpoint: ${[...seen]}`);
    const prom = await metrics(base);
    assert.equal(sample(prom, 'wellpath_endpoint_healthy', { endpoint: 'd' }), undefined);
  });

  test('test_workers_drain_every_workers_streams', async () => {
    const streams = [];
    for (let i = 0; i < 6; i++) {
      const stream = await client.completions.create({ model: MODEL, prompt: `drain ${SEED} ${i}`, max_tokens: 150, stream: true });
      const it = stream[Symbol.asyncIterator]();
      await it.next();
      streams.push((async () => { let n = 1; while (!(await it.next()).done) n++; return n; })());
    }
    const exited = gw.stop();
    const counts = await Promise.all(streams);
    assert.ok(counts.every((n) => n >= 100), `every stream ran to its end: ${counts}`);
    const r = await exited;
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, gw.output());
    assert.ok(gw.lines.stderr.some((l) => l.includes('msg=drained')), gw.output());
    gw = null;
  });
});

// The pool's state is one: an endpoint that fails is ejected by every worker after the
// configured failures counted across workers, and a server that goes away leaves both workers'
// pools (only worker 0 checks it).
describe('two workers share the endpoints\' state', () => {
  let sim, fake, gw, base, client;
  before(async () => {
    sim = await startSim({ replicas: 2, timeScale: 0.02 });
    fake = await fakeVllm({ failing: true });
    const file = writeTemp(`endpoints:\n  - {url: "http://127.0.0.1:${sim.ports[0]}", name: a}\n` +
      `  - {url: "http://127.0.0.1:${sim.ports[1]}", name: c}\n  - {url: "http://127.0.0.1:${fake.port}", name: b}\n` +
      'gateway:\n  workers: 2\n  outlierDetection: {consecutiveFailures: 3, baseEjectionMs: 600000}\n');
    ({ gw, base, client } = await startWorkers(file, 3));
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
    if (fake) fake.server.close();
  });

  test('test_workers_eject_together', async () => {
    const workers = new Set();
    const pairs = { a: new Set(), c: new Set() }; // the workers that sent each endpoint a request
    for (let i = 0; i < 30; i++) {
      const before = await served(base);
      const r = await client.completions.create({ model: MODEL, prompt: `eject ${SEED} ${i} ${randomText(40, rng)}`, max_tokens: 2 }).withResponse();
      const ep = r.response.headers.get('x-wellpath-endpoint');
      assert.notEqual(ep, 'b');
      const after = await served(base);
      pairs[ep].add(after.find((s, k) => s.value !== before[k].value)?.labels.worker);
    }
    for (const s of await served(base)) if (s.value > 0) workers.add(s.labels.worker);
    assert.equal(workers.size, 2, 'both workers served');
    // One request at a time: each worker keeps one upstream connection to each endpoint it
    // sent to, and /metrics (whichever worker answers) adds the two workers' connections.
    const prom = await metrics(base);
    for (const ep of ['a', 'c'])
      assert.equal(sample(prom, 'wellpath_endpoint_connections', { endpoint: ep }), pairs[ep].size, `${ep}: sent by workers ${[...pairs[ep]]}`);
    // Three failures in a row, counted across the workers, and no fourth request reached it.
    assert.equal(fake.completions, 3, `requests that reached the failing server: ${fake.completions}`);
    for (let i = 0; i < 10; i++) // whichever worker answers sees it ejected
      assert.equal(sample(parseProm(await (await freshFetch(`${base}/metrics`)).text()), 'wellpath_endpoint_ejected', { endpoint: 'b' }), 1);
  });

  test('test_workers_drop_a_server_that_goes_away', async () => {
    await stopClean(assert, sim.proc, 'wellpath sim');
    sim = null; // a and c are gone: both leave every worker's pool
    await waitUntil(async () => {
      for (let i = 0; i < 10; i++) if ((await freshFetch(`${base}/health`)).status !== 503) return false;
      return true;
    }, { timeout: 15000, what: 'every worker to see no healthy endpoint' });
    const r = await freshFetch(`${base}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 1 }) });
    assert.equal(r.status, 503, await r.text());
  });
});

// A model server that holds every completion until the test lets it go (`release()`), and
// records the prompts in the order they arrived.
function heldServer() {
  const s = { order: [], held: [], waiters: [] };
  s.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (answerChecks(req, res)) return;
      const prompt = JSON.parse(body).prompt;
      s.order.push(prompt);
      s.held.push({ prompt, res });
      for (const w of s.waiters.splice(0)) w();
    });
  });
  // Answers the oldest held completion.
  s.release = () => {
    const { prompt, res } = s.held.shift();
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ id: 'cmpl-held', object: 'text_completion', created: 0, model: MODEL,
      choices: [{ index: 0, text: ` ${prompt}`, finish_reason: 'length', logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  };
  s.arrived = (n) => new Promise((resolve) => {
    const check = () => (s.order.length >= n ? resolve() : s.waiters.push(check));
    check();
  });
  return listenLocal(s);
}

describe('flow control with two workers', () => {
  let up, gw, base, client;
  before(async () => {
    up = await heldServer();
    const extra = '  maxInFlightPerEndpoint: 1\n  flowControl: {enabled: true, maxQueue: 17, queueTimeoutMs: 60000}\n';
    ({ gw, base, client } = await startWorkers(writeTemp(topology([{ name: 'held', port: up.port }], extra)), 1));
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    while (up?.held.length) up.release();
    up?.server.close();
  });

  test('test_workers_flow_control_serves_priority_across_workers', async () => {
    const before = await served(base);
    const send = (prompt, priority) => client.completions.create({ model: MODEL, prompt, max_tokens: 1, priority });
    const answers = [send('first', 5)];
    await up.arrived(1); // the endpoint's one slot is taken; everything else waits
    const queued = async (n) => waitUntil(async () => sample(await metrics(base), 'wellpath_gateway_queue_length') === n,
      { what: `${n} requests queued over both workers` });
    for (let i = 0; i < 16; i++) answers.push(send(`low ${i}`, 10));
    await queued(16);
    answers.push(send('high', 0));
    await queued(17);
    const after = await served(base);
    const by = (list, w) => list.find((x) => x.labels.worker === w)?.value ?? 0;
    for (const w of ['0', '1'])
      assert.ok(by(after, w) - by(before, w) >= 1, `worker ${w} holds some of the queued requests: ${JSON.stringify(after)}`);
    // Each release frees the slot: the worker holding the best request sends it, wherever it is.
    for (let n = 2; n <= 18; n++) {
      up.release();
      await up.arrived(n);
    }
    up.release();
    assert.equal(up.order[1], 'high', `served in the order ${up.order.join(', ')}`);
    assert.deepEqual(up.order.slice(2).sort(), Array.from({ length: 16 }, (_, i) => `low ${i}`).sort());
    const done = await Promise.all(answers);
    assert.equal(done.length, 18);
    assert.equal(sample(await metrics(base), 'wellpath_gateway_queue_length'), 0);
  });

  test('test_workers_flow_control_max_queue_counts_both_workers', async () => {
    const at = up.order.length;
    const shed = async (reason) => sample(await metrics(base), 'wellpath_gateway_shed_total', { reason }) ?? 0;
    const [evicted0, full0] = [await shed('evicted'), await shed('queue_full')];
    const status = (prompt, priority) => client.completions.create({ model: MODEL, prompt, max_tokens: 1, priority })
      .then(() => 200, (e) => e.status);
    const answers = { busy: status('busy', 5) };
    await up.arrived(at + 1);
    // Priorities 10..26, spread over both workers by their connections.
    for (let i = 0; i < 17; i++) answers[`p${10 + i}`] = status(`p${10 + i}`, 10 + i);
    await waitUntil(async () => sample(await metrics(base), 'wellpath_gateway_queue_length') === 17, { what: '17 queued: full' });
    // Full across both workers: each of priorities 0..3 takes the place of the worst request
    // queued on either worker (26, then 25, 24, 23), wherever that one waits.
    for (let u = 0; u < 4; u++) {
      answers[`p${u}`] = status(`p${u}`, u);
      await waitUntil(async () => (await shed('evicted')) === evicted0 + u + 1, { what: `eviction ${u + 1}` });
    }
    assert.equal(await status('late', 30), 429); // outranks nobody
    assert.equal(await shed('queue_full'), full0 + 1);
    assert.equal(sample(await metrics(base), 'wellpath_gateway_queue_length'), 17);
    for (let n = at + 2; n <= at + 18; n++) {
      up.release();
      await up.arrived(n);
    }
    up.release();
    // One priority order across the workers.
    const want = ['busy', 'p0', 'p1', 'p2', 'p3', ...Array.from({ length: 13 }, (_, i) => `p${10 + i}`)];
    assert.deepEqual(up.order.slice(at), want);
    const got = Object.fromEntries(await Promise.all(Object.entries(answers).map(async ([k, v]) => [k, await v])));
    for (const k of ['p23', 'p24', 'p25', 'p26']) assert.equal(got[k], 429, `${k} evicted: ${JSON.stringify(got)}`);
    for (const k of want) assert.equal(got[k], 200, k);
  });
});

describe('two gateway replicas of two workers each', () => {
  let sim;
  const gws = [];
  before(async () => {
    sim = await startSim({ replicas: 4, timeScale: 0.02 });
    const eps = sim.ports.map((port, i) => ({ name: 'abcd'[i], port }));
    const ports = [await freePort(), await freePort()];
    for (let g = 0; g < 2; g++) {
      // Seeds apart: their tie-breaks differ, as two replicas' would.
      const routes = `  routesListen: tcp://127.0.0.1:${ports[g]}\n  routesPeers: tcp://127.0.0.1:${ports[1 - g]}\n` +
        `simulation:\n  seed: ${g + 1}\n`;
      gws.push(await startWorkers(writeTemp(topology(eps, routes)), 4));
    }
  });
  after(async () => {
    for (const g of gws) await stopClean(assert, g.gw, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_workers_replicas_share_routes', async () => {
    const complete = async (g, prompt) => {
      const { response } = await g.client.completions.create({ model: MODEL, prompt, max_tokens: 2 }).withResponse();
      return response.headers.get('x-wellpath-endpoint');
    };
    const counter = async (g, name) => sample(await metrics(g.base), name);
    const before = await served(gws[1].base);
    for (let k = 0; k < 8; k++) {
      const prompt = `route ${k} ${randomText(3000, rng)}`;
      const shared = await counter(gws[0], 'wellpath_gateway_routes_shared_total');
      const first = await complete(gws[0], prompt);
      // The other replica's worker 0 learned it and handed it to its worker 1.
      await waitUntil(async () => (await counter(gws[1], 'wellpath_gateway_routes_learned_total')) >= shared + 1,
        { what: `route ${k} learned by the other replica` });
      for (let r = 0; r < 3; r++)
        assert.equal(await complete(gws[1], `${prompt} again ${r}`), first, `route ${k}, repeat ${r} through the other replica (seed ${SEED})`);
    }
    const after = await served(gws[1].base);
    const by = (list, w) => list.find((x) => x.labels.worker === w)?.value ?? 0;
    for (const w of ['0', '1'])
      assert.ok(by(after, w) > by(before, w), `both of its workers routed repeats: ${JSON.stringify(after)}`);
    // Every worker's dispatch is published once, by worker 0.
    const shared = await counter(gws[1], 'wellpath_gateway_routes_shared_total');
    assert.equal(shared, 24, 'the repeats through the second replica, each published once');
  });
});

// An OpenAI client whose requests all go over one kept-alive connection, so all reach the
// worker that accepted it; `worker` is that worker's index (learned from the per-worker
// counter).
async function stickyClient(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000, fetch: fetchOver(agent) });
  const before = await served(base);
  await client.completions.create({ model: MODEL, prompt: 'which worker', max_tokens: 1 });
  const after = await served(base);
  const moved = after.find((s) => s.value > (before.find((b) => b.labels.worker === s.labels.worker)?.value ?? 0));
  return { client, agent, worker: Number(moved.labels.worker) };
}

describe('scale-to-zero with two workers', () => {
  let up, base;
  before(async () => {
    const topology = 'model: qwen3-8b\nvllm:\n  replicas: 2\ngateway:\n  workers: 2\n' +
      '  scaleToZero: {enabled: true, idleAfterMs: 400, wakeTimeoutMs: 30000, maxQueue: 8}\n' +
      'simulation:\n  basePort: 0\n  timeScale: 2\n';
    up = new Proc(['up', '-f', writeTemp(topology), '--listen', '127.0.0.1:0']);
    const m = await up.waitFor(/^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+)\/v1 replicas=2\/2/);
    base = m[1];
  });
  after(async () => {
    if (up) await stopClean(assert, up, 'wellpath up');
  });

  test('test_workers_scale_to_zero_idle_and_wake_across_workers', async () => {
    // A connection on worker 1, the one that does not lead.
    const sticky = [];
    let c;
    for (let i = 0; i < 40; i++) {
      c = await stickyClient(base);
      if (c.worker === 1) break;
      sticky.push(c);
    }
    assert.equal(c.worker, 1, 'a connection landed on worker 1');
    const pool = async () => {
      const prom = await metrics(base);
      return { sleeps: sample(prom, 'wellpath_gateway_pool_sleeps_total'), wakes: sample(prom, 'wellpath_gateway_pool_wakeups_total'),
        sleeping: sample(prom, 'wellpath_gateway_pool_sleeping'), demand: sample(prom, 'wellpath_gateway_pool_demand') };
    };
    const start = await pool();
    // Requests on worker 1 alone, every 100 ms for 1.5 s (idleAfterMs 400): worker 0, which
    // decides, sees them and keeps the pool awake.
    const t0 = performance.now();
    while (performance.now() - t0 < 1500) {
      const r = await c.client.completions.create({ model: MODEL, prompt: 'keep awake', max_tokens: 1 });
      assert.equal(r.usage.completion_tokens, 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await pool()).sleeps, start.sleeps, 'no sleep while worker 1 had requests');
    // Quiet: the pool sleeps.
    await waitUntil(async () => {
      const p = await pool();
      return p.sleeping === 1 && p.sleeps === start.sleeps + 1;
    }, { what: 'the idle pool asleep' });
    // A request on worker 1 is held, worker 1 asks worker 0 to wake the pool, and it completes.
    const r = await c.client.completions.create({ model: MODEL, prompt: 'wake up', max_tokens: 2 });
    assert.equal(r.usage.completion_tokens, 2);
    const p = await pool();
    assert.equal(p.wakes, start.wakes + 1);
    assert.equal(p.sleeping, 0);
    assert.equal(p.demand, 0);
    for (const s of [...sticky, c]) s.agent.destroy();
  });
});
