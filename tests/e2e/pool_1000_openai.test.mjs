// A pool of a thousand endpoints, live: one `wellpath sim` process serves 1,000 simulated
// vLLM servers on 1,000 ports, one gateway loop has each as an endpoint (the default 50 ms
// scrape interval under the default scrape budget, health checks every second, each check
// given 10 s) and the official OpenAI SDK sends completions through it. Every endpoint
// joins the pool; prompts
// that share a prefix go to one endpoint; a burst of unrelated prompts spreads over the
// pool; what the endpoints' /metrics say reaches the gateway by its scrapes; the gateway's
// decision histogram counts every pick.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { MODEL, Proc, metrics, randomText, sample, seededRandom, startSim, stopClean, testSeed, waitUntil, writeTemp, gatewayTopology } from '../lib/wellpath.mjs';

const N = 1000;
const SEED = testSeed();
const rng = seededRandom(SEED);
const SLOW = process.env.WELLPATH_SANITIZED === 'true' || process.env.WELLPATH_SANITIZED === '1';

describe(`a pool of ${N} endpoints behind one gateway`, () => {
  let sim, gw, base, client;
  const used = new Set(); // endpoints that served a request

  before(async () => {
    // Fewer KV blocks per simulated server: a thousand of them stay small.
    sim = await startSim({ replicas: N, timeScale: 0.001, args: ['--gpu-memory-utilization', '0.5'] });
    assert.equal(sim.ports.length, N);
    const eps = sim.ports.map((port, i) => ({ name: `e${i}`, port }));
    // Checks may wait longer than the default 2 s: on a loaded 2-core machine (the sanitized
    // build) one stall made two health checks in a row time out, and the endpoint that held a
    // group's prefix left the pool with it.
    const extra = 'inferenceScheduler:\n  checkTimeoutMs: 10000\n';
    gw = new Proc(['gateway', '-f', writeTemp(gatewayTopology(eps, extra)), '--listen', '127.0.0.1:0']);
    const m = await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr', timeout: 30000 });
    base = `http://127.0.0.1:${m[1]}`;
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
    await waitUntil(async () => {
      const healthy = (await metrics(base)).filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1);
      return healthy.length === N;
    }, { timeout: SLOW ? 120000 : 60000, interval: 200, what: `all ${N} endpoints to join the pool` });
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  async function complete(prompt) {
    const { data, response } = await client.completions.create({ model: MODEL, prompt, max_tokens: 4 }).withResponse();
    assert.equal(data.usage.completion_tokens, 4);
    const endpoint = response.headers.get('x-wellpath-endpoint');
    assert.match(endpoint ?? '', /^e\d+$/);
    used.add(endpoint);
    return endpoint;
  }

  test('test_pool_1000_every_endpoint_is_in_the_pool_and_known_by_name', async () => {
    const prom = await metrics(base);
    const names = new Set(prom.filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1).map((s) => s.labels.endpoint));
    assert.equal(names.size, N);
    for (let i = 0; i < N; i += 97) assert.ok(names.has(`e${i}`), `e${i} in the pool`);
    const models = await client.models.list();
    assert.ok(models.data.some((d) => d.id === MODEL));
  });

  test('test_pool_1000_shared_prefixes_stay_on_one_endpoint', async () => {
    for (let g = 0; g < 8; g++) {
      const prefix = `group ${g} ${randomText(3000, rng)}`;
      const first = await complete(`${prefix} question 0`);
      for (let k = 1; k < 6; k++) {
        const ep = await complete(`${prefix} question ${k} ${randomText(40, rng)}`);
        assert.equal(ep, first, `group ${g}, request ${k}: where the prefix is (seed ${SEED})`);
      }
    }
  });

  test('test_pool_1000_a_burst_of_new_prompts_spreads_over_the_pool', async () => {
    const eps = await Promise.all(Array.from({ length: 200 }, (_, i) => complete(`burst ${i} ${randomText(400, rng)}`)));
    const distinct = new Set(eps);
    assert.ok(distinct.size >= 100, `200 unrelated prompts went to ${distinct.size} endpoints (seed ${SEED})`);
  });

  test('test_pool_1000_scrapes_reach_every_endpoint_that_served', async () => {
    assert.ok(used.size >= 100);
    // Each endpoint that served a request reports prefix-cache queries in its /metrics; the
    // gateway's scrapes (in turns, within the budget) bring every one of them in.
    await waitUntil(async () => {
      const prom = await metrics(base);
      return [...used].every((e) => (sample(prom, 'wellpath_endpoint_prefix_cache_queries_total', { endpoint: e }) ?? 0) > 0);
    }, { timeout: 20000, interval: 200, what: `the scraped prefix-cache counters of ${used.size} endpoints` });
    const prom = await metrics(base);
    const decisions = sample(prom, 'wellpath_gateway_decision_seconds_count');
    const picks = prom.filter((s) => s.name === 'wellpath_gateway_picks_total').reduce((a, s) => a + s.value, 0);
    assert.ok(decisions >= 248, `decisions counted: ${decisions}`);
    assert.equal(picks, decisions, 'one pick per decision');
  });
});
