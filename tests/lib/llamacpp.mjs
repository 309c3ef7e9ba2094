// Real llama.cpp servers for wellpath's tests and benchmarks: run scripts/llama.sh (which
// builds `llama-server` and a tiny random-weight Qwen3 GGUF once into a cache outside the
// tree), start `llama-server` processes on free loopback ports, put `wellpath gateway` in
// front of them with `engine: llamacpp`, and read llama.cpp's own prompt-cache counters.
//
// Every process is a tests/lib/wellpath.mjs Proc: stopped by the caller, and SIGKILLed by
// the process-exit safety net whatever happens (a stopped, SIGSTOPped or hung server too).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc, freePort, parseProm, waitUntil, writeTemp } from './wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const SCRIPT = path.join(ROOT, 'scripts/llama.sh');
// The name the servers serve the tiny model under (`--alias`), and so the gateway's model.
export const LLAMA_MODEL = 'wellpath/tiny-qwen3';
export const SKIP_STATUS = 77;

// Runs scripts/llama.sh; resolves with { server, model, version } when it is ready, or
// { skip: message } when it exits 77 (a package cannot be installed here). Rejects on any
// other failure, with the script's last lines. Its progress goes to our stderr as it comes
// (the first run builds llama.cpp for several minutes).
export function ensureLlama({ timeoutMs = 1100_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`scripts/llama.sh did not finish in ${timeoutMs} ms\n${err.slice(-2000)}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
      process.stderr.write(d);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === SKIP_STATUS) {
        const line = err.split('\n').find((l) => l.startsWith('llama.sh: SKIP:'));
        return resolve({ skip: line || `scripts/llama.sh exited ${SKIP_STATUS}` });
      }
      if (code !== 0) return reject(new Error(`scripts/llama.sh failed (code=${code} signal=${signal})\n${err.slice(-3000)}`));
      const v = {};
      for (const m of out.matchAll(/^WELLPATH_LLAMA_(\w+)=(.*)$/gm)) v[m[1]] = m[2];
      if (!v.SERVER || !v.MODEL) return reject(new Error(`scripts/llama.sh printed no paths\n${out}`));
      resolve({ server: v.SERVER, model: v.MODEL, version: `${v.VERSION} (node-llama-cpp ${v.NODE_LLAMA_CPP})` });
    });
  });
}

// Starts n llama-servers (`--metrics -np 2`, small context, one thread each: the machine
// may have two cores for all of them) and resolves once each answers /health with 200.
export async function startLlamaServers(llama, n, { parallel = 2, ctx = 8192, threads = 1, extraArgs = [] } = {}) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const args = ['-m', llama.model, '--host', '127.0.0.1', '--port', String(port), '--metrics',
      '-np', String(parallel), '-c', String(ctx), '-t', String(threads), '-tb', String(threads),
      '--alias', LLAMA_MODEL, '--no-webui', ...extraArgs];
    const proc = new Proc(args, { bin: llama.server });
    servers.push({ name: `llama${i}`, port, url: `http://127.0.0.1:${port}`, proc });
  }
  await Promise.all(servers.map((s) => waitUntil(async () => {
    if (s.proc.exited) throw new Error(`llama-server ${s.name} exited: ${JSON.stringify(s.proc.exited)}\n${s.proc.output()}`);
    const r = await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  }, { timeout: 60000, interval: 50, what: `llama-server ${s.name} on port ${s.port} to be ready` }).catch((e) => {
    throw new Error(`${e.message}\n${s.proc.output()}`);
  })));
  return servers;
}

// SIGKILLs every server (a SIGSTOPped one too) and waits for their exits.
export async function stopLlamaServers(servers) {
  await Promise.all((servers || []).map(async (s) => {
    try {
      s.proc.child.kill('SIGCONT');
    } catch {
      /* gone */
    }
    await s.proc.stop({ signal: 'SIGTERM', grace: 3000 });
  }));
}

// The topology for `wellpath gateway` in front of the servers (engine: llamacpp).
export function llamaTopology(servers, extra = '') {
  const eps = servers.map((s) => `  - {url: "${s.url}", name: ${s.name}, engine: llamacpp}`).join('\n');
  return `endpoints:\n${eps}\n${extra}`;
}

// `wellpath gateway` on a free port in front of `servers`; resolves once it listens.
// Does not wait for the pool: see waitPool.
export async function startLlamaGateway(servers, { extra = '' } = {}) {
  const file = writeTemp(llamaTopology(servers, extra));
  const proc = new Proc(['gateway', '-f', file, '--listen', '127.0.0.1:0']);
  const m = await proc.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  return { proc, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, file };
}

// The gateway's /status JSON (for error messages).
export async function gatewayStatus(gw) {
  try {
    const r = await fetch(`${gw.url}/status`, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(2000) });
    return await r.text();
  } catch (e) {
    return `(no /status: ${e.message})`;
  }
}

// Names of the endpoints the gateway counts healthy.
export async function healthyEndpoints(gw) {
  const prom = parseProm(await (await fetch(`${gw.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text());
  return prom.filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1).map((s) => s.labels.endpoint).sort();
}

// Waits until `names` are exactly the healthy endpoints and the model is listed; throws
// with /status (which says why an endpoint is out) when that does not happen in time.
export async function waitPool(gw, names, { timeout = 20000 } = {}) {
  const want = [...names].sort().join(',');
  let last = '';
  try {
    await waitUntil(async () => {
      last = (await healthyEndpoints(gw)).join(',');
      if (last !== want) return false;
      const models = await (await fetch(`${gw.url}/v1/models`, { signal: AbortSignal.timeout(2000) })).json();
      return models.data.some((d) => d.id === LLAMA_MODEL);
    }, { timeout, interval: 50, what: `the pool to be [${want}]` });
  } catch (e) {
    throw new Error(`${e.message}; healthy now: [${last}]\ngateway /status: ${(await gatewayStatus(gw)).slice(0, 3000)}\n` +
      `gateway log:\n${gw.proc.lines.stderr.slice(-20).join('\n')}`);
  }
}

// llama.cpp's own counters, summed over servers (or of one): prompt tokens processed
// (excluding cached ones) and reused from its cache, tokens predicted, slots busy.
export async function llamaCounters(servers) {
  const sum = { processed: 0, cached: 0, predicted: 0, processing: 0, deferred: 0 };
  for (const s of [].concat(servers)) {
    const prom = parseProm(await (await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text());
    const v = (n) => prom.find((x) => x.name === `llamacpp:${n}`)?.value ?? NaN;
    sum.processed += v('prompt_tokens_total');
    sum.cached += v('prompt_tokens_cached_total');
    sum.predicted += v('tokens_predicted_total');
    sum.processing += v('requests_processing');
    sum.deferred += v('requests_deferred');
  }
  return sum;
}

// A request set with shared prefixes: `groups` long "system prompts" (about `prefixChars`
// characters of words) each followed by `perGroup` different short questions, in an order
// shuffled by `rng` (which also seeds the texts): a fixed interleaving would let
// round-robin over as many servers as groups keep each group on one server by chance.
export function prefixRequests(rng, { groups = 4, perGroup = 6, prefixChars = 4000, suffixChars = 200 } = {}) {
  const words = ['alpha', 'river', 'stone', 'cloud', 'system', 'prompt', 'token', 'cache', 'gateway', 'model',
    'metric', 'route', 'north', 'amber', 'quiet', 'signal'];
  const text = (n) => {
    let s = '';
    while (s.length < n) s += `${words[Math.floor(rng() * words.length)]} ${Math.floor(rng() * 1000)} `;
    return s.slice(0, n);
  };
  const prefixes = Array.from({ length: groups }, (_, g) => `Document ${g}: ${text(prefixChars)}\n\n`);
  const reqs = [];
  for (let i = 0; i < perGroup; i++) {
    for (let g = 0; g < groups; g++) reqs.push({ group: g, prompt: `${prefixes[g]}Question ${i}: ${text(suffixChars)}\nAnswer:` });
  }
  for (let i = reqs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [reqs[i], reqs[j]] = [reqs[j], reqs[i]];
  }
  return reqs;
}

// Sends `reqs` as streamed completions through the gateway, `concurrency` at a time, and
// measures each one's time to first token. Resolves with per-request {group, endpoint,
// ttftMs, status, cached, prompt} (cached and prompt from llama.cpp's usage) and the
// change in llama.cpp's counters over the run.
export async function runPrefixSet(gwUrl, servers, reqs, { concurrency = 2, maxTokens = 4 } = {}) {
  const before = await llamaCounters(servers);
  const results = new Array(reqs.length);
  let next = 0;
  async function worker() {
    while (next < reqs.length) {
      const i = next++;
      const r = reqs[i];
      const t0 = performance.now();
      const res = await fetch(`${gwUrl}/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: LLAMA_MODEL, prompt: r.prompt, max_tokens: maxTokens, stream: true,
          stream_options: { include_usage: true }, temperature: 0 }),
        signal: AbortSignal.timeout(60000),
      });
      let ttft = null;
      let buf = '';
      let usage = null;
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (!data || data === '[DONE]') continue;
          const j = JSON.parse(data);
          if (ttft === null && j.choices && j.choices.length) ttft = performance.now() - t0;
          if (j.usage) usage = j.usage;
        }
      }
      results[i] = { group: r.group, endpoint: res.headers.get('x-wellpath-endpoint'), status: res.status, ttftMs: ttft,
        cached: usage?.prompt_tokens_details?.cached_tokens ?? null, prompt: usage?.prompt_tokens ?? null };
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const after = await llamaCounters(servers);
  const delta = { processed: after.processed - before.processed, cached: after.cached - before.cached };
  delta.reuse = delta.cached / (delta.cached + delta.processed);
  return { results, delta };
}

export function percentile(xs, p) {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

// How many requests of each group after its first went to that group's most used endpoint.
export function affinity(results) {
  let same = 0;
  let total = 0;
  const groups = new Map();
  for (const r of results) {
    if (!groups.has(r.group)) groups.set(r.group, []);
    groups.get(r.group).push(r.endpoint);
  }
  for (const eps of groups.values()) {
    const counts = new Map();
    for (const e of eps) counts.set(e, (counts.get(e) || 0) + 1);
    same += Math.max(...counts.values()) - 1;
    total += eps.length - 1;
  }
  return { same, total, share: total ? same / total : NaN, groups };
}
