// P/D disaggregation between two simulated servers (docs/reference.md §4): a `--role prefill`
// server answers the prefill step with kv_transfer_params and holds the KV blocks; a
// `--role decode` server pulls them over the side channel and answers the decode step with
// cached_tokens = prompt tokens. Failed pulls (already pulled, dead port, expired) recompute
// by default or answer 500 with kv_load_failure_policy "fail"; every pull is counted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, Proc, assertErrorShape, freePort, metrics, post, postStream, randomText, sample, stopClean, waitUntil } from '../lib/wellpath.mjs';

async function startRole(role, args = []) {
  const p = new Proc(['sim', '--role', role, '--port', '0', '--time-scale', '0.05', ...args]);
  const m = await p.waitFor(/^wellpath sim: ready model=(\S+) ports=(\d+) kv_ports=(\d+)$/);
  return { proc: p, port: Number(m[2]), kvPort: Number(m[3]), base: `http://127.0.0.1:${m[2]}` };
}

// §4 step 2: the original body with the prefill-side changes.
function prefillBody(original) {
  const b = { ...original, stream: false, max_tokens: 1 };
  delete b.stream_options;
  delete b.min_tokens;
  b.kv_transfer_params = { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null };
  return b;
}

const pulls = async (base, result) => sample(await metrics(base), 'wellpath_sim_kv_pulls_total', { result });

describe('P/D between simulated servers', () => {
  let pre, dec, short;

  before(async () => {
    [pre, dec, short] = await Promise.all([startRole('prefill'), startRole('decode'), startRole('prefill', ['--kv-timeout-ms', '300', '--kv-transport', 'tcp'])]);
  });
  after(async () => {
    for (const s of [pre, dec, short]) if (s) await stopClean(assert, s.proc, 'wellpath sim');
  });

  // Runs §4 step 2 on `server`; returns the prefill answer.
  async function prefill(server, original, rid) {
    const r = await post(`${server.base}/v1/completions`, prefillBody(original), { headers: { 'X-Request-Id': rid } });
    assert.equal(r.status, 200, r.text);
    return r;
  }

  test('test_pd_sim_prefill_answer_fields', async () => {
    const original = { model: MODEL, prompt: randomText(600), max_tokens: 12, stream: true, stream_options: { include_usage: true }, min_tokens: 2 };
    const r = await prefill(pre, original, 'pd-fields-1');
    assert.equal(r.headers.get('x-request-id'), 'pd-fields-1');
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.usage.completion_tokens, 1);
    const promptTokens = r.json.usage.prompt_tokens;
    const kv = r.json.kv_transfer_params;
    assert.deepEqual(Object.keys(kv).sort(), ['do_remote_decode', 'do_remote_prefill', 'remote_block_ids', 'remote_engine_id', 'remote_host', 'remote_port', 'remote_request_id', 'tp_size']);
    assert.equal(kv.do_remote_prefill, true);
    assert.equal(kv.do_remote_decode, false);
    // prompt + 1 - 1 token slots in blocks of 16, distinct block ids.
    assert.equal(kv.remote_block_ids.length, Math.ceil(promptTokens / 16));
    assert.ok(kv.remote_block_ids.every((b) => Number.isInteger(b) && b >= 0));
    assert.equal(new Set(kv.remote_block_ids).size, kv.remote_block_ids.length);
    assert.equal(kv.remote_engine_id, `sim-${pre.port}`);
    assert.match(kv.remote_request_id, /^\d+$/);
    assert.equal(kv.remote_host, '127.0.0.1');
    assert.equal(kv.remote_port, pre.kvPort);
    assert.equal(kv.tp_size, 1);
    const prom = await metrics(pre.base);
    assert.ok(sample(prom, 'wellpath_sim_kv_held_requests') >= 1);
    assert.ok(sample(prom, 'wellpath_sim_kv_held_blocks') >= kv.remote_block_ids.length);
  });

  test('test_pd_sim_decode_pulls_then_second_pull_fails', async () => {
    const original = { model: MODEL, prompt: randomText(800), max_tokens: 6, stream: true, stream_options: { include_usage: true } };
    const rid = 'pd-decode-1';
    const p = await prefill(pre, original, rid);
    const kv = p.json.kv_transfer_params;
    const okBefore = await pulls(dec.base, 'ok');
    // §4 step 4: the original body plus that object, verbatim.
    const d = await postStream(`${dec.base}/v1/completions`, { ...original, kv_transfer_params: kv }, { headers: { 'X-Request-Id': rid } });
    assert.equal(d.status, 200);
    assert.equal(d.headers.get('x-request-id'), rid);
    const text = d.events.filter((e) => e.data !== '[DONE]' && e.data.choices.length);
    assert.equal(text.length, 6);
    assert.equal(text[5].data.choices[0].finish_reason, 'length');
    assert.equal(d.events.at(-1).data, '[DONE]');
    const usage = d.events.at(-2).data.usage;
    assert.equal(usage.prompt_tokens, p.json.usage.prompt_tokens);
    assert.equal(usage.prompt_tokens_details.cached_tokens, usage.prompt_tokens);
    assert.equal(await pulls(dec.base, 'ok'), okBefore + 1);
    const dp = await metrics(dec.base);
    assert.ok(sample(dp, 'wellpath_sim_kv_pull_seconds_count') >= 1);
    // The prefill side released the blocks when they were pulled.
    const pp = await metrics(pre.base);
    assert.ok(sample(pp, 'wellpath_sim_kv_served_total', { result: 'ok' }) >= 1);

    // The same id again: the prefill side has nothing; the decode side recomputes (200).
    const failedBefore = await pulls(dec.base, 'failed');
    const again = await post(`${dec.base}/v1/completions`, { ...original, stream: false, kv_transfer_params: kv });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.usage.completion_tokens, 6);
    assert.ok(again.json.usage.prompt_tokens_details.cached_tokens < again.json.usage.prompt_tokens, 'recomputed locally');
    assert.equal(await pulls(dec.base, 'failed'), failedBefore + 1);
    // With kv_load_failure_policy "fail": a 500 JSON error, X-Request-Id echoed.
    const fail = await post(`${dec.base}/v1/completions`, { ...original, stream: false, kv_transfer_params: { ...kv, kv_load_failure_policy: 'fail' } }, { headers: { 'X-Request-Id': 'pd-fail-1' } });
    assert.equal(fail.status, 500);
    assertErrorShape(assert, fail.json, 500, 'failed pull');
    assert.match(fail.json.error.message, /unknown/);
    assert.equal(fail.headers.get('x-request-id'), 'pd-fail-1');
    assert.equal(await pulls(dec.base, 'failed'), failedBefore + 2);
  });

  test('test_pd_sim_dead_port_recomputes', async () => {
    const original = { model: MODEL, prompt: randomText(300), max_tokens: 3 };
    const p = await prefill(pre, original, 'pd-dead-1');
    const dead = await freePort();
    const failedBefore = await pulls(dec.base, 'failed');
    const r = await post(`${dec.base}/v1/completions`, { ...original, kv_transfer_params: { ...p.json.kv_transfer_params, remote_port: dead } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.completion_tokens, 3);
    assert.equal(r.json.usage.prompt_tokens_details.cached_tokens, 0);
    assert.equal(await pulls(dec.base, 'failed'), failedBefore + 1);
    // Bad parameters are a failed pull too.
    const bad = await post(`${dec.base}/v1/completions`, { ...original, kv_transfer_params: { do_remote_prefill: true, remote_host: 'not an address', remote_port: 1, remote_request_id: '1', kv_load_failure_policy: 'fail' } });
    assert.equal(bad.status, 500);
    assertErrorShape(assert, bad.json, 500, 'bad kv_transfer_params');
  });

  test('test_pd_sim_held_blocks_expire', async () => {
    const original = { model: MODEL, prompt: randomText(400), max_tokens: 2 };
    const p = await prefill(short, original, 'pd-expire-1');
    await waitUntil(async () => sample(await metrics(short.base), 'wellpath_sim_kv_held_requests') === 0, { timeout: 10000, what: 'held blocks to expire' });
    assert.equal(sample(await metrics(short.base), 'wellpath_sim_kv_held_blocks'), 0);
    const r = await post(`${dec.base}/v1/completions`, { ...original, kv_transfer_params: { ...p.json.kv_transfer_params, kv_load_failure_policy: 'fail' } });
    assert.equal(r.status, 500);
    assert.match(r.json.error.message, /expired/);
  });

  test('test_pd_sim_side_channel_protocol', async () => {
    const net = await import('node:net');
    const talk = (line) => new Promise((resolve, reject) => {
      const s = net.connect(pre.kvPort, '127.0.0.1');
      let got = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(line));
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.equal(await talk('HELLO\n'), 'ERR bad-request\n');
    assert.equal(await talk('PULL 999999 10\n'), 'ERR unknown\n');
    assert.equal(await talk(`PULL ${'9'.repeat(123)}`), 'ERR line-too-long\n'); // 128 bytes, no newline
    const original = { model: MODEL, prompt: randomText(200), max_tokens: 1 };
    const p = await prefill(pre, original, 'pd-proto-1');
    const kv = p.json.kv_transfer_params;
    const n = p.json.usage.prompt_tokens;
    assert.equal(await talk(`PULL ${kv.remote_request_id} ${n + 1}\n`), 'ERR tokens\n');
    // Qwen3-8B: 36 layers x 2 x 8 kv heads x 128 x 2 bytes = 147456 bytes a token.
    assert.equal(await talk(`PULL ${kv.remote_request_id} ${n}\n`), `OK ${n * 147456}\n`);
    assert.equal(await talk(`PULL ${kv.remote_request_id} ${n}\n`), 'ERR unknown\n');
  });

  test('test_pd_sim_bad_flags', async () => {
    for (const args of [['--role', 'middle'], ['--kv-transport', 'carrier-pigeon'], ['--kv-timeout-ms', '0']]) {
      const p = new Proc(['sim', '--port', '0', ...args]);
      const r = await p.exit;
      assert.notEqual(r.code, 0, args.join(' '));
      assert.ok(p.lines.stderr.some((l) => l.length > 0), p.output());
    }
  });
});
