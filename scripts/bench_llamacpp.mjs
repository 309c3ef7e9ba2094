#!/usr/bin/env node
// Prefix affinity on real llama.cpp servers: the same request set (groups of requests
// sharing a long prefix) through `wellpath gateway` with the default scheduler and with
// round-robin, each time in front of four freshly started llama-servers (empty caches).
// Prints, per policy, llama.cpp's own share of prompt tokens reused from its cache
// (prompt_tokens_cached_total against prompt_tokens_total, summed over the servers), how
// many requests of a group went to the group's server, and client-side TTFT p50/p95.
//
//   node scripts/bench_llamacpp.mjs [--groups 8] [--per-group 8] [--prefix-chars 4000]
//        [--concurrency 4] [--rounds 1] [--seed N]
//
// Needs build/wellpath (or WELLPATH_BIN); builds llama.cpp through scripts/llama.sh when
// it is not cached yet. docs/llamacpp.md gives measured figures.
import { parseArgs } from 'node:util';
import { seededRandom } from '../tests/lib/wellpath.mjs';
import {
  affinity, ensureLlama, percentile, prefixRequests, runPrefixSet, startLlamaGateway, startLlamaServers,
  stopLlamaServers, waitPool,
} from '../tests/lib/llamacpp.mjs';

const { values: o } = parseArgs({
  options: {
    groups: { type: 'string', default: '8' },
    'per-group': { type: 'string', default: '8' },
    'prefix-chars': { type: 'string', default: '4000' },
    'suffix-chars': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    'max-tokens': { type: 'string', default: '8' },
    rounds: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
  },
});

const llama = await ensureLlama();
if (llama.skip) {
  console.error(llama.skip);
  process.exit(77);
}
const shape = { groups: +o.groups, perGroup: +o['per-group'], prefixChars: +o['prefix-chars'], suffixChars: +o['suffix-chars'] };
const policies = [['default (prefix-aware + load-aware)', ''], ['round-robin', 'inferenceScheduler:\n  policy: round-robin\n']];
console.log(`llama.cpp ${llama.version}; request set: ${JSON.stringify(shape)}, concurrency ${o.concurrency}, max_tokens ${o['max-tokens']}, seed ${o.seed}`);
console.log('| policy | round | llama.cpp reused prompt tokens | requests on their group\'s server | TTFT p50 | TTFT p95 |');
console.log('|---|---|---|---|---|---|');
for (let round = 0; round < +o.rounds; round++) {
  for (const [name, extra] of policies) {
    const reqs = prefixRequests(seededRandom(+o.seed + round), shape);
    const servers = await startLlamaServers(llama, 4);
    const gw = await startLlamaGateway(servers, { extra: `gateway:\n  firstByteTimeoutMs: 30000\n${extra}` });
    try {
      await waitPool(gw, servers.map((s) => s.name));
      const r = await runPrefixSet(gw.url, servers, reqs, { concurrency: +o.concurrency, maxTokens: +o['max-tokens'] });
      const bad = r.results.filter((x) => x.status !== 200).length;
      const aff = affinity(r.results);
      const ttft = r.results.map((x) => x.ttftMs);
      console.log(`| ${name} | ${round + 1} | ${(100 * r.delta.reuse).toFixed(1)} % (${r.delta.cached} of ${r.delta.cached + r.delta.processed}) | ` +
        `${aff.same}/${aff.total} | ${percentile(ttft, 50).toFixed(1)} ms | ${percentile(ttft, 95).toFixed(1)} ms |${bad ? ` ${bad} failed` : ''}`);
    } finally {
      await gw.proc.stop({ grace: 5000 });
      await stopLlamaServers(servers);
    }
  }
}
