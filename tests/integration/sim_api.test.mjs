// The simulated model server's vLLM-compatible API (docs/reference.md §1, §2): models,
// health, tokenize, completions and chat (streamed and not), usage and prefix-cache
// accounting, cache_salt isolation, /metrics names, labels and buckets, and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL, assertErrorShape, metrics, post, postStream, randomText, rawRequest, sample, startSim, stopClean } from '../lib/wellpath.mjs';

describe('sim API', () => {
  let sim, base;

  before(async () => {
    sim = await startSim({ replicas: 1, timeScale: 0.05 });
    base = `http://127.0.0.1:${sim.ports[0]}`;
  });
  after(async () => {
    if (sim) await stopClean(assert, sim.proc, 'wellpath sim');
  });

  test('test_sim_models_shape', async () => {
    const res = await fetch(`${base}/v1/models`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, 'list');
    assert.ok(Array.isArray(body.data) && body.data.length >= 1);
    const m = body.data.find((d) => d.id === MODEL);
    assert.ok(m, `model ${MODEL} listed`);
    assert.equal(m.object, 'model');
    assert.equal(typeof m.created, 'number');
    assert.equal(typeof m.owned_by, 'string');
    assert.equal(m.max_model_len, 32768);
  });

  test('test_sim_health_empty_200', async () => {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  test('test_sim_tokenize_prompt_and_messages', async () => {
    const a = await post(`${base}/tokenize`, { prompt: 'hello world how are you today' });
    assert.equal(a.status, 200);
    assert.equal(a.json.max_model_len, 32768);
    assert.ok(a.json.count > 0);
    assert.equal(a.json.tokens.length, a.json.count);
    assert.ok(a.json.tokens.every((t) => Number.isInteger(t) && t >= 0));
    const again = await post(`${base}/tokenize`, { prompt: 'hello world how are you today' });
    assert.deepEqual(again.json.tokens, a.json.tokens, 'tokenization is deterministic');
    const b = await post(`${base}/tokenize`, { messages: [{ role: 'user', content: 'hello world how are you today' }] });
    assert.equal(b.status, 200);
    assert.equal(b.json.tokens.length, b.json.count);
    assert.ok(b.json.count > a.json.count, 'the chat template adds tokens around the content');
    // The count matches what a completion reports as prompt_tokens.
    const c = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'hello world how are you today', max_tokens: 1 });
    assert.equal(c.json.usage.prompt_tokens, a.json.count);
  });

  test('test_sim_pipelined_streams_keep_every_token', async () => {
    // Ending one response starts the next pipelined request from inside the step loop:
    // its first step must not overwrite the step whose tokens are still going out.
    const n = 3, maxTokens = 4;
    let data = '';
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ model: MODEL, prompt: `pipelined ${i} ${randomText(40)}`, max_tokens: maxTokens, stream: true });
      data += `POST /v1/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${i === n - 1 ? 'Connection: close\r\n' : ''}\r\n${body}`;
    }
    const got = await rawRequest(sim.ports[0], data, { timeout: 15000 });
    const answers = got.split(/(?=HTTP\/1\.1 )/).filter((a) => a.startsWith('HTTP/1.1 '));
    assert.equal(answers.length, n, got.slice(0, 400));
    for (const a of answers) {
      assert.ok(a.startsWith('HTTP/1.1 200'), a.slice(0, 200));
      assert.equal((a.match(/"text":/g) || []).length, maxTokens, a);
      assert.ok(a.includes('data: [DONE]'));
    }
  });

  test('test_sim_completion_non_stream', async () => {
    const r = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'Say something.', max_tokens: 7 });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const j = r.json;
    assert.match(j.id, /^cmpl-/);
    assert.equal(j.object, 'text_completion');
    assert.equal(j.model, MODEL);
    assert.equal(typeof j.created, 'number');
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].index, 0);
    assert.equal(typeof j.choices[0].text, 'string');
    assert.ok(j.choices[0].text.length > 0);
    assert.equal(j.choices[0].finish_reason, 'length');
    const u = j.usage;
    assert.equal(u.completion_tokens, 7, 'max_tokens respected');
    assert.ok(u.prompt_tokens > 0);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.equal(typeof u.prompt_tokens_details.cached_tokens, 'number');
  });

  test('test_sim_chat_non_stream', async () => {
    const r = await post(`${base}/v1/chat/completions`, {
      model: 'qwen3-8b',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      max_completion_tokens: 5,
    });
    assert.equal(r.status, 200);
    const j = r.json;
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.object, 'chat.completion');
    assert.equal(j.choices[0].message.role, 'assistant');
    assert.equal(typeof j.choices[0].message.content, 'string');
    assert.equal(j.usage.completion_tokens, 5, 'max_completion_tokens respected');
    assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 5);
  });

  test('test_sim_completion_stream_include_usage', async () => {
    const s = await postStream(`${base}/v1/completions`, {
      model: MODEL,
      prompt: 'Count.',
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(s.rest, '', 'the stream ends on an event boundary');
    const ev = s.events;
    assert.equal(ev.at(-1).data, '[DONE]', '[DONE] is last');
    assert.equal(ev.filter((e) => e.data === '[DONE]').length, 1);
    const usage = ev.at(-2).data;
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 6);
    assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + 6);
    assert.equal(typeof usage.usage.prompt_tokens_details.cached_tokens, 'number');
    const content = ev.slice(0, -2).map((e) => e.data);
    assert.equal(content.length, 6, 'one chunk per token');
    for (const c of content) {
      assert.equal(c.object, 'text_completion');
      assert.equal(c.choices.length, 1);
      assert.equal(typeof c.choices[0].text, 'string');
      assert.equal(c.id, content[0].id, 'one id for the whole stream');
    }
    assert.equal(content.at(-1).choices[0].finish_reason, 'length');
    assert.ok(content.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  });

  test('test_sim_chat_stream_role_first', async () => {
    const s = await postStream(`${base}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello there' }],
      max_tokens: 4,
      stream: true,
    });
    assert.equal(s.status, 200);
    const ev = s.events;
    assert.equal(ev.at(-1).data, '[DONE]');
    const first = ev[0].data;
    assert.equal(first.object, 'chat.completion.chunk');
    assert.deepEqual(first.choices[0].delta, { role: 'assistant', content: '' });
    const chunks = ev.slice(1, -1).map((e) => e.data);
    assert.equal(chunks.length, 4, 'without include_usage: no usage chunk, one chunk per token');
    assert.ok(chunks.every((c) => c.choices.length === 1 && typeof c.choices[0].delta.content === 'string'));
    assert.ok(chunks.every((c) => c.usage === undefined || c.usage === null));
  });

  test('test_sim_prefix_cache_hits', async () => {
    const prompt = randomText(4000);
    const body = { model: MODEL, prompt, max_tokens: 2 };
    const a = await post(`${base}/v1/completions`, body);
    assert.equal(a.status, 200);
    assert.equal(a.json.usage.prompt_tokens_details.cached_tokens, 0, 'a new prompt has nothing cached');
    const b = await post(`${base}/v1/completions`, body);
    const cached = b.json.usage.prompt_tokens_details.cached_tokens;
    assert.ok(cached > 0, 'the second identical prompt hits the prefix cache');
    assert.equal(cached % 16, 0, `cached tokens ${cached} are whole blocks of 16`);
    assert.ok(cached <= b.json.usage.prompt_tokens);
    assert.ok(cached >= b.json.usage.prompt_tokens - 16, 'all full blocks but the last token are cached');
  });

  test('test_sim_cache_salt_isolates', async () => {
    const prompt = randomText(3000);
    const cachedOf = async (salt) => {
      const r = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 1, cache_salt: salt });
      assert.equal(r.status, 200);
      return r.json.usage.prompt_tokens_details.cached_tokens;
    };
    assert.equal(await cachedOf('tenant-a'), 0);
    assert.equal(await cachedOf('tenant-b'), 0, 'another salt does not see tenant-a blocks');
    assert.ok((await cachedOf('tenant-a')) > 0, 'the same salt hits');
    const unsalted = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    assert.equal(unsalted.json.usage.prompt_tokens_details.cached_tokens, 0, 'no salt does not see salted blocks');
  });

  test('test_sim_metrics_names_and_buckets', async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const text = await res.text();
    const names = [
      ['vllm:num_requests_running', 'gauge'],
      ['vllm:num_requests_waiting', 'gauge'],
      ['vllm:kv_cache_usage_perc', 'gauge'],
      ['vllm:prefix_cache_queries_total', 'counter'],
      ['vllm:prefix_cache_hits_total', 'counter'],
      ['vllm:prompt_tokens_total', 'counter'],
      ['vllm:generation_tokens_total', 'counter'],
      ['vllm:num_preemptions_total', 'counter'],
      ['vllm:request_success_total', 'counter'],
      ['vllm:time_to_first_token_seconds', 'histogram'],
      ['vllm:inter_token_latency_seconds', 'histogram'],
      ['vllm:e2e_request_latency_seconds', 'histogram'],
      ['vllm:request_queue_time_seconds', 'histogram'],
      ['vllm:request_prefill_time_seconds', 'histogram'],
      ['vllm:request_decode_time_seconds', 'histogram'],
      ['vllm:cache_config_info', 'gauge'],
    ];
    for (const [name, type] of names) assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `family ${name} (${type})`);
    const prom = await metrics(base);
    for (const [name, type] of names) {
      if (name === 'vllm:cache_config_info') continue;
      const series = type === 'histogram' ? `${name}_bucket` : name;
      const s = prom.filter((x) => x.name === series);
      assert.ok(s.length > 0, `samples of ${series}`);
      assert.ok(s.every((x) => x.labels.model_name === MODEL), `${series} has model_name="${MODEL}"`);
    }
    const leStr = (name) => prom.filter((x) => x.name === `${name}_bucket`).map((x) => x.labels.le);
    const le = (name) => leStr(name).map((s) => (s === '+Inf' ? Infinity : Number(s)));
    assert.deepEqual(
      le('vllm:time_to_first_token_seconds'),
      [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560, Infinity],
    );
    // Exactly as vLLM's prometheus_client prints them.
    assert.deepEqual(leStr('vllm:time_to_first_token_seconds'), [
      '0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1.0',
      '2.5', '5.0', '7.5', '10.0', '20.0', '40.0', '80.0', '160.0', '640.0', '2560.0', '+Inf',
    ]);
    assert.deepEqual(
      le('vllm:inter_token_latency_seconds'),
      [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, Infinity],
    );
    const e2e = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680, Infinity];
    for (const h of ['e2e_request_latency_seconds', 'request_queue_time_seconds', 'request_prefill_time_seconds', 'request_decode_time_seconds'])
      assert.deepEqual(le(`vllm:${h}`), e2e, h);
    const info = prom.find((x) => x.name === 'vllm:cache_config_info');
    assert.ok(info, 'vllm:cache_config_info');
    assert.equal(info.value, 1);
    assert.equal(info.labels.block_size, '16');
    assert.ok(Number(info.labels.num_gpu_blocks) > 0, 'num_gpu_blocks');
    assert.ok(['True', 'False'].includes(info.labels.enable_prefix_caching));
    const kv = sample(prom, 'vllm:kv_cache_usage_perc');
    assert.ok(kv >= 0 && kv <= 1, 'KV usage is a fraction');
    assert.ok(prom.some((x) => x.name === 'vllm:request_success_total' && x.labels.finished_reason === 'length'));
  });

  test('test_sim_metrics_counters_move', async () => {
    const before = await metrics(base);
    const v = (prom, name, labels = {}) => sample(prom, name, labels) ?? NaN;
    const prompt = randomText(2000);
    const r1 = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });
    const r2 = await post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });
    const after = await metrics(base);
    const d = (name, labels) => v(after, name, labels) - v(before, name, labels);
    const pt = r1.json.usage.prompt_tokens + r2.json.usage.prompt_tokens;
    assert.equal(d('vllm:prompt_tokens_total'), pt);
    assert.equal(d('vllm:generation_tokens_total'), 6);
    assert.equal(d('vllm:request_success_total', { finished_reason: 'length' }), 2);
    assert.equal(d('vllm:prefix_cache_queries_total'), pt);
    assert.equal(d('vllm:prefix_cache_hits_total'), r2.json.usage.prompt_tokens_details.cached_tokens);
    assert.equal(d('vllm:time_to_first_token_seconds_count'), 2);
    assert.equal(d('vllm:e2e_request_latency_seconds_count'), 2);
    assert.equal(d('vllm:inter_token_latency_seconds_count'), 4, 'two gaps per 3-token request');
    assert.ok(d('vllm:time_to_first_token_seconds_sum') > 0);
    assert.equal(v(after, 'vllm:num_requests_running'), 0);
    assert.equal(v(after, 'vllm:num_requests_waiting'), 0);
  });

  test('test_sim_errors', async () => {
    const unknown = await post(`${base}/v1/completions`, { model: 'no-such-model', prompt: 'x', max_tokens: 1 });
    assert.equal(unknown.status, 404);
    assertErrorShape(assert, unknown.json, 404, 'unknown model');
    assert.equal(unknown.json.error.param, 'model');

    const tooLong = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 40000 });
    assert.equal(tooLong.status, 400);
    assertErrorShape(assert, tooLong.json, 400, 'context too long');
    assert.match(tooLong.json.error.message, /maximum context length is 32768/);

    for (const [body, param] of [
      [{ model: MODEL, prompt: 'x', max_tokens: 'x' }, 'max_tokens'],
      [{ model: MODEL, prompt: 'x', stream: 'yes' }, 'stream'],
      [{ model: MODEL, prompt: 42 }, 'prompt'],
    ]) {
      const r = await post(`${base}/v1/completions`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assertErrorShape(assert, r.json, 400, JSON.stringify(body));
      assert.equal(r.json.error.param, param);
    }
    const chatBad = await post(`${base}/v1/chat/completions`, { model: MODEL, messages: 'hi' });
    assert.equal(chatBad.status, 400);
    assertErrorShape(assert, chatBad.json, 400, 'messages not an array');

    const badJson = await post(`${base}/v1/completions`, '{"prompt": ');
    assert.equal(badJson.status, 400);
    assertErrorShape(assert, badJson.json, 400, 'invalid JSON');

    const nowhere = await fetch(`${base}/v1/nowhere`);
    assert.equal(nowhere.status, 404);
    assertErrorShape(assert, await nowhere.json(), 404, 'unknown path');

    // The server still works after the errors.
    const ok = await post(`${base}/v1/completions`, { model: MODEL, prompt: 'fine', max_tokens: 2 });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.usage.completion_tokens, 2);
  });
});
