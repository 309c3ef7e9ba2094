// Helpers for wellpath's integration tests: start `wellpath` processes, wait for
// their log lines (events, with a timeout; never a fixed sleep), stop them, and talk
// HTTP to them (JSON, SSE streams, raw TCP, Prometheus text).
//
// Every process started here is tracked: `stop()` sends SIGTERM, then SIGKILL after
// a grace period, and a process-exit safety net SIGKILLs whatever is still running
// (a failed test or a crash in the runner never leaves servers behind). Tests stop
// their processes in `after`/`t.after` hooks and assert the exit code is 0, so a
// LeakSanitizer report under the ASan build fails the test.
// Only node built-ins are used.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.WELLPATH_BIN || path.resolve(here, '../../build/wellpath');
export const MODEL = 'Qwen/Qwen3-8B';

const live = new Set();
const tempFiles = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const f of tempFiles) {
    try {
      fs.unlinkSync(f);
    } catch {
      /* already gone */
    }
  }
});

// WELLPATH_WORKERS=N runs every `wellpath gateway` the tests start with --workers N (a sweep
// of the suite over several event loops; a test that sets its own --workers keeps it).
const WORKERS = process.env.WELLPATH_WORKERS;

// A started process: its output by line, and a promise of its exit.
export class Proc {
  constructor(args, opts = {}) {
    if (WORKERS && args[0] === 'gateway' && !args.includes('--workers')) args = ['gateway', '--workers', WORKERS, ...args.slice(1)];
    this.args = args;
    this.lines = { stdout: [], stderr: [] };
    this.waiters = [];
    this.child = spawn(opts.bin || BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env || {}) },
    });
    this.pid = this.child.pid;
    live.add(this);
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this);
        this.exited = { code, signal };
        // Let the pipes drain so the last lines (sanitizer reports) are kept.
        setImmediate(() => {
          resolve(this.exited);
          this.notify();
        });
      });
      this.child.on('error', (e) => {
        live.delete(this);
        this.exited = { code: -1, signal: null, error: e };
        resolve(this.exited);
        this.notify();
      });
    });
    for (const stream of ['stdout', 'stderr']) {
      let partial = '';
      this.child[stream].setEncoding('utf8');
      this.child[stream].on('data', (chunk) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop();
        for (const line of parts) this.lines[stream].push(line);
        if (parts.length) this.notify();
      });
      this.child[stream].on('end', () => {
        if (partial) this.lines[stream].push(partial);
        partial = '';
        this.notify();
      });
    }
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  output() {
    return `stdout:\n${this.lines.stdout.join('\n')}\nstderr:\n${this.lines.stderr.slice(-60).join('\n')}`;
  }

  // Resolves with the match of the first line (from line `from` on) of `stream`
  // matching `re`; rejects on timeout or if the process exits first.
  waitFor(re, { stream = 'stdout', timeout = 20000, from = 0 } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        const lines = this.lines[stream];
        for (let i = from; i < lines.length; i++) {
          const m = lines[i].match(re);
          if (m) return done(null, m);
        }
        if (this.exited) done(new Error(`process exited (${JSON.stringify(this.exited)}) before ${re}\n${this.output()}`));
      };
      const done = (err, m) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        if (err) reject(err);
        else resolve(m);
      };
      timer = setTimeout(() => done(new Error(`timed out after ${timeout} ms waiting for ${re} on ${stream}\n${this.output()}`)), timeout);
      this.waiters.push(check);
      check();
    });
  }

  // SIGTERM, then SIGKILL after `grace` ms. Resolves with { code, signal }.
  async stop({ signal = 'SIGTERM', grace = 10000 } = {}) {
    if (!this.exited) {
      try {
        this.child.kill(signal);
      } catch {
        /* gone */
      }
      const killer = setTimeout(() => {
        try {
          this.child.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }, grace);
      await this.exit;
      clearTimeout(killer);
    }
    return this.exit;
  }
}

// Stops p and checks it exited with status 0 (no signal): a clean shutdown, and
// under the ASan build no LeakSanitizer report.
export async function stopClean(assert, p, what = 'process') {
  const r = await p.stop();
  assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, `${what} did not exit cleanly\n${p.output()}`);
}

export function writeTemp(text, suffix = '.yaml') {
  const f = path.join(os.tmpdir(), `wellpath-itest-${process.pid}-${Math.random().toString(36).slice(2)}${suffix}`);
  fs.writeFileSync(f, text);
  tempFiles.add(f);
  return f;
}

// `wellpath sim` on ephemeral ports; resolves once its ready line is out.
export async function startSim({ replicas = 1, timeScale = 0.05, args = [], port = 0 } = {}) {
  const p = new Proc(['sim', '--replicas', String(replicas), '--port', String(port), '--time-scale', String(timeScale), ...args]);
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=([\d,]+)/);
  return { proc: p, model: m[1], ports: m[2].split(',').map(Number) };
}

// A topology listing endpoints [{name, port, role?}] plus extra top-level YAML.
export function gatewayTopology(endpoints, extra = '') {
  const eps = endpoints
    .map((e) => `  - {url: "http://127.0.0.1:${e.port}", name: ${e.name}${e.role ? `, role: ${e.role}` : ''}}`)
    .join('\n');
  return `endpoints:\n${eps}\n${extra}`;
}

// `wellpath gateway -f FILE --listen 127.0.0.1:0`; resolves once it listens and (when
// waitReady) every endpoint has joined the pool and the model is known.
export async function startGateway(endpoints, { extra = '', waitReady = true } = {}) {
  const file = writeTemp(gatewayTopology(endpoints, extra));
  const p = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0']);
  const m = await p.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const port = Number(m[1]);
  const url = `http://127.0.0.1:${port}`;
  if (waitReady) {
    await waitUntil(async () => {
      const prom = parseProm(await (await fetch(`${url}/metrics`)).text());
      const healthy = prom.filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1).length;
      if (healthy < endpoints.length) return false;
      const models = await (await fetch(`${url}/v1/models`)).json();
      return models.data.some((d) => d.id === MODEL);
    }, { timeout: 20000, what: 'gateway endpoints to join the pool' });
  }
  return { proc: p, port, url, file };
}

// Listens s.server on 127.0.0.1 at an ephemeral port; resolves with s, its port in s.port.
export function listenLocal(s) {
  return new Promise((resolve) => s.server.listen(0, '127.0.0.1', () => {
    s.port = s.server.address().port;
    resolve(s);
  }));
}

// Answers the gateway's checks as an idle vLLM server would: /health, /metrics (idle gauges)
// and /v1/models; false for any other path (the caller answers it).
export function answerChecks(req, res) {
  if (req.url === '/health') return res.end(), true;
  if (req.url === '/metrics') {
    res.setHeader('Content-Type', 'text/plain');
    return res.end('vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n'), true;
  }
  if (req.url === '/v1/models') return res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] })), true;
  return false;
}

// A vLLM look-alike on 127.0.0.1 (node's http): /health, /metrics (idle gauges) and
// /v1/models answer; each completion takes `delayMs` and fails with a 500 JSON error while
// `failing` is true. It counts completions and the most it had at once (`maxActive`).
// Close it with `s.server.close()`.
export function fakeVllm({ failing = true, delayMs = 0 } = {}) {
  const s = { failing, delayMs, completions: 0, active: 0, maxActive: 0 };
  s.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (answerChecks(req, res)) return;
      s.completions++;
      s.active++;
      s.maxActive = Math.max(s.maxActive, s.active);
      setTimeout(() => {
        s.active--;
        res.setHeader('Content-Type', 'application/json');
        if (s.failing) {
          res.statusCode = 500;
          return res.end('{"error":{"message":"engine dead","type":"InternalServerError","param":null,"code":500}}');
        }
        res.end(JSON.stringify({ id: 'cmpl-fake', object: 'text_completion', model: MODEL, choices: [{ index: 0, text: 'ok', finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      }, s.delayMs);
    });
  });
  return listenLocal(s);
}

// A change made under load: `workers` loops call send(tag) (a request; resolves with
// post()'s answer) until `after` answers have come after change() resolved, change() being
// called once `before` answers came. Resolves with every answer ({status, endpoint (its
// X-Wellpath-Endpoint), text, sent: when it was sent}) and `changedAt` (when change()
// resolved).
export async function loadAcross(send, change, { workers = 6, before = 30, after = 30 } = {}) {
  let stop = false;
  const results = [];
  const loop = async (w) => {
    for (let i = 0; !stop; i++) {
      const sent = Date.now();
      const r = await send(`load ${w} ${i}`);
      results.push({ status: r.status, endpoint: r.headers.get('x-wellpath-endpoint'), text: r.text, sent });
    }
  };
  const loops = Array.from({ length: workers }, (_, w) => loop(w));
  try {
    await waitUntil(() => results.length >= before, { what: 'load before the change' });
    await change();
    const changedAt = Date.now();
    const n = results.length;
    await waitUntil(() => results.length >= n + after, { what: 'load after the change' });
    return { results, changedAt };
  } finally {
    stop = true;
    await Promise.all(loops);
  }
}

// Polls cond() (sync or async) until it returns a truthy value, or throws on timeout.
export async function waitUntil(cond, { timeout = 15000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// POST JSON (or a raw string body); resolves with status, headers, text and json.
export async function post(url, body, { headers = {}, timeout = 30000 } = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
  return readJson(res);
}

// A fetch Response as { status, headers, text, json } (json undefined when not JSON).
export async function readJson(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// POST a streaming request and gather its SSE events, each { data, t } with t the
// arrival time (ms, performance.now()). data is the parsed JSON or the string [DONE].
export async function postStream(url, body, { headers = {}, timeout = 30000 } = {}) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
  const events = [];
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = raw
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      events.push({ data: data === '[DONE]' ? data : JSON.parse(data), t: performance.now() - t0 });
    }
  }
  return { status: res.status, headers: res.headers, events, rest: buf };
}

// Prometheus text into [{ name, labels: {k: v}, value }] (comments skipped).
export function parseProm(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/);
    if (!m) throw new Error(`bad metrics line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export async function metrics(base) {
  const res = await fetch(`${base}/metrics`);
  return parseProm(await res.text());
}

// The value of the first sample named `name` whose labels include `labels`.
export function sample(prom, name, labels = {}) {
  const s = prom.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : undefined;
}

// Sends raw bytes on a TCP connection and resolves with everything read until the
// server closes (or `timeout` ms pass: then what was read so far).
export async function rawRequest(port, data, { timeout = 5000 } = {}) {
  return (await rawExchange(port, data, { timeout })).text;
}

// Like rawRequest, and says whether the server closed the connection (closed: true) or
// `timeout` ms passed first (closed: false).
export function rawExchange(port, data, { timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text: got, closed: false });
    }, timeout);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(data));
    sock.on('data', (d) => (got += d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (got) resolve({ text: got, closed: true });
      else reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text: got, closed: true });
    });
  });
}

// Status code and parsed JSON body of a raw HTTP/1.1 answer (first response only).
export function parseRawResponse(text) {
  const m = text.match(/^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/);
  if (!m) return { status: 0, headers: '', body: text, json: undefined };
  let body = m[3];
  const len = m[2].match(/content-length:\s*(\d+)/i);
  if (len) body = body.slice(0, Number(len[1]));
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), headers: m[2], body, json };
}

// True when something accepts TCP connections on 127.0.0.1:port.
export function canConnect(port, timeout = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeout);
    sock.on('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

// A port nobody listens on right now (bound, then released).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Checks the OpenAI error shape {"error":{"message","type","param","code"}}.
export function assertErrorShape(assert, json, status, what = '') {
  assert.ok(json && typeof json.error === 'object', `${what}: expected a JSON error body, got ${JSON.stringify(json)}`);
  const e = json.error;
  assert.equal(typeof e.message, 'string', `${what}: error.message`);
  assert.ok(e.message.length > 0, `${what}: error.message is empty`);
  assert.equal(typeof e.type, 'string', `${what}: error.type`);
  assert.ok('param' in e, `${what}: error.param missing`);
  assert.ok(e.param === null || typeof e.param === 'string', `${what}: error.param type`);
  assert.equal(e.code, status, `${what}: error.code`);
}

// A random text of about n characters (words), different on every call. `rng` (a
// function returning [0, 1)) picks the words: pass a seeded one (seededRandom) for a
// text that a seed reproduces.
export function randomText(n, rng = Math.random) {
  const words = ['alpha', 'river', 'stone', 'cloud', 'system', 'prompt', 'token', 'cache', 'gateway', 'model', 'metric', 'route'];
  let s = `${Math.floor(rng() * 2 ** 52).toString(36)} `;
  while (s.length < n) s += `${words[Math.floor(rng() * words.length)]} ${Math.floor(rng() * 1000)} `;
  return s.slice(0, n);
}

// The seed of a test's randomness: WELLPATH_TEST_SEED when set (to rerun a failure),
// otherwise a fresh one. A test prints it when it fails, with how to rerun with it.
export function testSeed() {
  const env = process.env.WELLPATH_TEST_SEED;
  if (env !== undefined && env !== '') {
    const v = Number(env);
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`WELLPATH_TEST_SEED=${env}: want an integer in 0..4294967295`);
    return v;
  }
  return Math.floor(Math.random() * 0x100000000);
}

// A seeded generator of numbers in [0, 1) (mulberry32): the same seed gives the same
// sequence.
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Listening TCP ports of a process, from /proc (Linux): its socket inodes matched
// against /proc/net/tcp{,6} rows in state LISTEN.
export function listeningPorts(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const c = row.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && inodes.has(c[9])) ports.push(parseInt(c[1].split(':')[1], 16));
    }
  }
  return ports;
}

// Child pids of pid, from /proc/*/stat (Linux).
export function childPids(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function pidAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// A sim's KV events as an independent reader sees them: tests/integration/sim_kv_events.py
// (pyzmq + msgpack under python, e.g. /usr/bin/python3) subscribes to the PUB and replay
// addresses the sim printed on its ready line and writes one JSON object a line; resolves
// with the growing array of those objects once the replay's end marker arrived. The reader
// is killed when test t ends.
export async function kvEventReader(t, simProc, python) {
  const ready = simProc.lines.stdout.find((l) => l.includes(' kv_events='));
  const live = ready.match(/ kv_events=(\S+)/)[1];
  const replay = ready.match(/ kv_events_replay=(\S+)/)[1];
  const py = spawn(python, [path.resolve(here, '../integration/sim_kv_events.py'), live, replay],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill('SIGKILL'));
  const got = [];
  let partial = '';
  py.stdout.setEncoding('utf8');
  py.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const l of parts) got.push(JSON.parse(l));
  });
  await waitUntil(() => got.some((x) => x.ready), { what: 'the replay end marker' });
  return got;
}
