// End-to-end: the official OpenAI Node SDK against `wellpath up` (two simulated Qwen3-8B
// replicas behind the gateway). Starts the binary named by WELLPATH_BIN on ephemeral
// ports, waits for its ready line, runs the SDK's main calls, and always stops the
// process with SIGTERM, asserting a clean exit (status 0).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { BadRequestError, NotFoundError } from 'openai';

const MODEL = 'Qwen/Qwen3-8B';
const READY_RE =
  /^wellpath up: ready gateway=(http:\/\/127\.0\.0\.1:\d+\/v1) replicas=(\d+)\/(\d+) model=(\S+)$/m;
const TOPOLOGY = `model: qwen3-8b
vllm:
  replicas: 2
simulation:
  basePort: 0
  timeScale: 0.05
`;

// Starts `wellpath up` and resolves with {proc, baseURL, match} once the ready line is
// printed; rejects if the process exits first or nothing is ready within timeoutMs.
function startUp(bin, topoPath, timeoutMs = 20000) {
  const proc = spawn(bin, ['up', '-f', topoPath, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`wellpath up not ready after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
    }, timeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = READY_RE.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, baseURL: m[1], match: m });
      }
    });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`wellpath up exited early (code=${code} signal=${sig})\nstderr:\n${err}`));
    });
  });
  return { proc, ready, stderr: () => err };
}

// Sends SIGTERM and resolves with the exit code (or 'signal:NAME'); SIGKILL after timeoutMs.
function stop(proc, timeoutMs = 10000) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve(proc.exitCode ?? `signal:${proc.signalCode}`);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code ?? `signal:${sig}`);
    });
    proc.kill('SIGTERM');
  });
}

describe('OpenAI SDK against wellpath up', () => {
  const bin = process.env.WELLPATH_BIN;
  let dir;
  let server;
  let client;
  let readyMatch;

  before(async () => {
    assert.ok(bin, 'WELLPATH_BIN must name the wellpath binary');
    dir = mkdtempSync(join(tmpdir(), 'wellpath-e2e-'));
    const topo = join(dir, 'topology.yaml');
    writeFileSync(topo, TOPOLOGY);
    server = startUp(bin, topo);
    const { baseURL, match } = await server.ready;
    readyMatch = match;
    client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  });

  after(async () => {
    try {
      if (server) {
        const code = await stop(server.proc);
        assert.equal(code, 0, `wellpath up must exit 0 on SIGTERM\nstderr:\n${server.stderr()}`);
      }
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ready line names both replicas and the model', () => {
    assert.equal(readyMatch[2], '2');
    assert.equal(readyMatch[3], '2');
    assert.equal(readyMatch[4], MODEL);
  });

  test('models.list returns the served model', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      ids.push(m.id);
    }
    assert.ok(ids.includes(MODEL), `models: ${ids.join(',')}`);
  });

  test('chat.completions.create non-streamed', async () => {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello.' },
      ],
      max_tokens: 8,
    });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.model, MODEL);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].index, 0);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(r.choices[0].message.content.length > 0);
    assert.ok(['length', 'stop'].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.prompt_tokens > 0);
    assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 8);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  test('chat.completions.create streamed with include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Count to five.' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let role = null;
    let finish = null;
    let usage = null;
    let chunks = 0;
    let afterUsage = 0;
    for await (const c of stream) {
      chunks++;
      assert.equal(c.object, 'chat.completion.chunk');
      assert.match(c.id, /^chatcmpl-/);
      if (usage) afterUsage++;
      if (c.usage) {
        usage = c.usage;
        assert.deepEqual(c.choices, []);
        continue;
      }
      const ch = c.choices[0];
      if (ch.delta.role) role = ch.delta.role;
      if (ch.delta.content) text += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.ok(chunks >= 3, `chunks: ${chunks}`);
    assert.equal(role, 'assistant');
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
    assert.ok(usage, 'usage chunk present');
    assert.equal(afterUsage, 0, 'usage chunk is the last one');
    assert.equal(usage.completion_tokens, 6);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  test('completions.create non-streamed', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5 });
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.choices.length, 1);
    assert.equal(typeof r.choices[0].text, 'string');
    assert.ok(r.choices[0].text.length > 0);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 5);
    assert.ok(r.usage.prompt_tokens > 0);
  });

  test('completions.create streamed', async () => {
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'The quick brown fox',
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish = null;
    let usage = null;
    for await (const c of stream) {
      assert.equal(c.object, 'text_completion');
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.text;
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
    assert.ok(usage);
    assert.equal(usage.completion_tokens, 4);
  });

  test('repeated long prompt reports cached_tokens', async () => {
    const para =
      'Prefix caching keeps the KV blocks of a prompt so that a later request with the same ' +
      'beginning skips recomputing them. ';
    const prompt = `${para.repeat(40)}Question: what does prefix caching save?`;
    const ask = () =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: 2,
      });
    const first = await ask();
    assert.ok(first.usage.prompt_tokens > 256, `prompt_tokens ${first.usage.prompt_tokens}`);
    // The gateway routes by prefix, so the repeat lands on the replica that has the blocks.
    let cached = 0;
    for (let i = 0; i < 3 && cached === 0; i++) {
      const again = await ask();
      assert.equal(again.usage.prompt_tokens, first.usage.prompt_tokens);
      cached = again.usage.prompt_tokens_details?.cached_tokens ?? 0;
    }
    assert.ok(cached > 0, 'cached_tokens > 0 on the repeat');
    assert.ok(cached <= first.usage.prompt_tokens);
  });

  test('a malformed field throws BadRequestError (400)', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 'many',
      }),
      (e) => {
        assert.ok(e instanceof BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 400);
        assert.match(e.message, /max_tokens/);
        return true;
      },
    );
  });

  test('an unknown model throws NotFoundError (404)', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'no-such/model',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
      }),
      (e) => {
        assert.ok(e instanceof NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 404);
        return true;
      },
    );
  });
});
