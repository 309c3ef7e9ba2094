// The tokenizer test corpus: strings made deterministically from a seed, in families that
// each aim at one part of a byte-level BPE tokenizer (the pre-tokenizer's classes and its
// whitespace rules, contractions, numbers, scripts, emoji, combining marks, added tokens).
// Used by tests/integration/bpe_tokenizer.test.mjs; the English family also feeds the
// benchmark (scripts/bench_bpe.sh).

// mulberry32: a small seeded generator, so the corpus is the same on every run.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which ' +
  'but have an they you were her she there been one all we their has would when if so no will ' +
  'model server request cache prefix token gateway replica latency throughput scheduler queue ' +
  'decode prefill kernel memory bandwidth tensor batch stream endpoint metrics cluster ' +
  'International Organization Washington Tokyo Zürich naïve résumé coöperate façade déjà'
).split(' ');
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'Re", "\u2019s", "'x"];
const PUNCT = ['.', ',', '!', '?', ';', ':', '...', ' -', ' —', '"', "'", '(', ')', '[', ']', '{', '}', '/', '\\', '@', '#', '$', '%', '&', '*', '+', '=', '<', '>', '|', '~', '`', '^', '_'];
const SCRIPTS = [
  '你好世界', '大型语言模型', '東京都渋谷区', 'ひらがなカタカナ', '한국어 텍스트', '안녕하세요',
  'مرحبا بالعالم', 'اللغة العربية', 'שלום עולם', 'Привет мир', 'Ελληνικά γράμματα',
  'नमस्ते दुनिया', 'हिन्दी भाषा', 'สวัสดีชาวโลก', 'ქართული', 'Հայերեն', 'ትግርኛ', 'தமிழ்',
  'Tiếng Việt có dấu', 'Ｆｕｌｌｗｉｄｔｈ１２３', '①②③ Ⅻ ½ ² ³', '٣٤٥ ۱۲۳ १२३',
];
const EMOJI = ['🙂', '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '🇯🇵', '❤️', '✨', '🚀', '🤖', '🧠', '☕', '🏳️‍🌈', '🔥🔥🔥', '💯', '👩🏾‍💻'];
// Bases with combining marks: composing, not composing, out of canonical order, blocked.
const MARK_POOL = ['\u0300', '\u0301', '\u0302', '\u0303', '\u0308', '\u030a', '\u0323', '\u0327', '\u0316', '\u0315', '\u0346', '\u0334', '\u0345', '\u0344', '\u0340', '\u05b0', '\u093c', '\u0f71', '\u1dc0', '\u20d0', '\u302a', '\u3099', '\u0b3e', '\u1161', '\u11a8'];
const MARK_BASES = ['a', 'e', 'o', 'u', 'A', 'ạ', 'â', 'ü', 'Ω', 'α', 'ι', 'か', 'ଇ', '\u0b47', '\u1100', '가', ' ', '1', ''];
const MARKS = ['a\u0302\u0323', '\u00e2\u0323', 'a\u0346\u0301', 'a\u0316\u0300', 'e\u0315\u0301', 'e\u0301', 'a\u0308', 'o\u0302', 'n\u0303', 'c\u0327', 'A\u030a', 'u\u0308\u0301', 'x\u0301', 'q\u0323', 'a\u0323\u0302', '\u1100\u1161\u11a8', 'i\u0307', '\u212b', '\u2126', 'K\u0301', '\u0915\u093c', '\u0644\u0653'];
const SPACES = [' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n', '\n ', '  \n  ', '\u00a0', '\u3000', '\u2009', '\u200b', '\u2028', ' \t \n', '\f', '\v'];
const SPECIAL = {
  qwen3: ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '</think>', '<tool_call>', '</tool_call>', '<|fim_prefix|>'],
  llama3: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<|reserved_special_token_0|>', '<|python_tag|>'],
  gpt2: ['<|endoftext|>'],
};
const CODE = [
  'def f(x):\n    return x ** 2  # square\n',
  'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}\n',
  'const m = new Map();\nm.set("k", [1, 2, 3]);\n',
  'SELECT id, name FROM users WHERE age >= 21 ORDER BY name;',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }',
  'if __name__ == "__main__":\n        main()\r\n',
  '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
  '<div class="x">Hello &amp; welcome</div>',
  'x=>x*2; y ||= 0; z ??= {}; a !== b',
  '    \n    \n\t\t// indented comment\n',
];

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));

export function englishSentence(r) {
  const n = int(r, 4, 18);
  const w = [];
  for (let i = 0; i < n; i++) {
    let word = pick(r, WORDS);
    if (i === 0 || r() < 0.05) word = word[0].toUpperCase() + word.slice(1);
    if (r() < 0.03) word = word.toUpperCase();
    if (r() < 0.06) word += pick(r, CONTRACTIONS.slice(0, 7));
    if (r() < 0.08) word += pick(r, [',', ';', ':']);
    w.push(word);
  }
  return w.join(' ') + pick(r, ['.', '.', '.', '!', '?']);
}

function number(r) {
  switch (int(r, 0, 5)) {
    case 0: return String(int(r, 0, 9));
    case 1: return String(int(r, 0, 1e9));
    case 2: return (r() * 1e4).toFixed(int(r, 1, 5));
    case 3: return `${int(r, 1900, 2100)}-${String(int(r, 1, 12)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')}`;
    case 4: return '1234567890'.repeat(int(r, 1, 4));
    default: return `${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)}:${int(r, 1, 65535)}`;
  }
}

// Random character soup: every class next to every other, which is where a hand-written
// pre-tokenizer goes wrong.
const SOUP = ['a', 'Z', 'é', 'ß', '你', 'ア', '한', 'ب', 'Ж', 'λ', 'क', '0', '7', '٣', '½', 'Ⅻ', '²', ' ', '  ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u3000', "'", "'s", "'LL", '.', ',', '!', '-', '_', '"', '(', ')', '/', '\\', '#', '€', '©', '™', '→', '∑', '🙂', '👍🏽', '\u200d', '\u0301', '\u2028', '<', '|', '>', 'ſ', 'İ', 'ﬁ'];

export function corpus(model, seed = 17) {
  const r = rng(seed);
  const out = [];
  const fam = {
    english: () => {
      let s = englishSentence(r);
      for (let k = int(r, 0, 3); k > 0; k--) s += pick(r, [' ', '\n', '\n\n', '  ']) + englishSentence(r);
      return s;
    },
    code: () => {
      let s = pick(r, CODE);
      if (r() < 0.5) s = pick(r, SPACES) + s + pick(r, CODE);
      return s;
    },
    scripts: () => {
      const n = int(r, 1, 4);
      const parts = [];
      for (let i = 0; i < n; i++) parts.push(r() < 0.7 ? pick(r, SCRIPTS) : pick(r, WORDS));
      return parts.join(pick(r, [' ', '', ', ', '\n', '。', '、']));
    },
    emoji: () => {
      const n = int(r, 1, 6);
      let s = '';
      for (let i = 0; i < n; i++) s += (r() < 0.5 ? pick(r, WORDS) + pick(r, ['', ' ']) : '') + pick(r, EMOJI) + pick(r, ['', ' ', '  ', '!']);
      return s;
    },
    marks: () => {
      const n = int(r, 1, 5);
      let s = '';
      for (let i = 0; i < n; i++) {
        if (r() < 0.5) s += pick(r, ['', ' ', 'x', 'caf']) + pick(r, MARKS) + pick(r, ['', ' ', 'd', '.']);
        else {
          s += pick(r, MARK_BASES);
          for (let k = int(r, 1, 4); k > 0; k--) s += pick(r, MARK_POOL);
        }
      }
      return s;
    },
    whitespace: () => {
      const n = int(r, 1, 6);
      let s = '';
      for (let i = 0; i < n; i++) s += pick(r, SPACES).repeat(int(r, 1, 4)) + (r() < 0.7 ? pick(r, [...WORDS.slice(0, 20), ...PUNCT, '1', '你']) : '');
      return s;
    },
    numbers: () => {
      const n = int(r, 1, 4);
      const parts = [];
      for (let i = 0; i < n; i++) parts.push(r() < 0.6 ? number(r) : pick(r, WORDS));
      return parts.join(pick(r, [' ', '', ',', ' + ', 'x', '%']));
    },
    contractions: () => {
      const n = int(r, 1, 5);
      let s = '';
      for (let i = 0; i < n; i++) s += pick(r, ['I', 'you', 'WE', 'they', 'it', 'she', '', ' ', '1', '.']) + pick(r, CONTRACTIONS) + pick(r, ['', ' ', 'x', 'up', '\n']);
      return s;
    },
    special: () => {
      const sp = SPECIAL[model];
      const n = int(r, 1, 5);
      let s = '';
      for (let i = 0; i < n; i++) {
        const t = pick(r, sp);
        s += r() < 0.15 ? t.slice(0, int(r, 1, t.length - 1)) : t; // a cut-off token is text
        s += pick(r, ['', 'user\n', 'assistant\n', ' ', englishSentence(r), '\n\n', pick(r, SCRIPTS)]);
      }
      return s;
    },
    soup: () => {
      const n = int(r, 1, 24);
      let s = '';
      for (let i = 0; i < n; i++) s += pick(r, SOUP);
      return s;
    },
  };
  const names = Object.keys(fam);
  const perFamily = 1100;
  for (const name of names) for (let i = 0; i < perFamily; i++) out.push({ family: name, text: fam[name]() });
  // The edges: empty, one byte each, long runs.
  out.push({ family: 'edges', text: '' });
  for (let b = 1; b < 128; b++) out.push({ family: 'edges', text: String.fromCharCode(b) });
  out.push({ family: 'edges', text: ' '.repeat(5000) });
  out.push({ family: 'edges', text: 'a'.repeat(3000) });
  out.push({ family: 'edges', text: '\n'.repeat(300) + 'x' });
  out.push({ family: 'edges', text: 'ab'.repeat(1000) });
  return out;
}

// Conversations for the chat templates: an optional system message, user and assistant
// turns with think blocks in many shapes, tool results (Qwen3), a system message in the
// middle, contents with whitespace at their ends; generation prompt and thinking switched
// at random (think blocks: see think() below). Contents avoid U+001C-U+001F, U+0085 and U+FEFF, where Jinja's trim differs
// between Python (vLLM) and JavaScript (the reference).
export function conversations(model, count, seed = 71) {
  const r = rng(seed);
  const text = () => {
    switch (int(r, 0, 5)) {
      case 0: return englishSentence(r);
      case 1: return pick(r, SCRIPTS) + ' ' + englishSentence(r);
      case 2: return pick(r, SPACES) + englishSentence(r) + pick(r, SPACES);
      case 3: return pick(r, CODE);
      case 4: return '';
      default: return englishSentence(r) + '\n\n' + pick(r, EMOJI) + englishSentence(r);
    }
  };
  // Around a think block only newlines: the reference's Jinja (@huggingface/jinja) ignores
  // the argument of strip('\n'), lstrip('\n') and rstrip('\n') and strips all whitespace,
  // where Python's (vLLM's) strips newlines only, as tok/chat does (its unit test pins that).
  const inner = () => text().trim();
  const think = () => {
    const body = inner();
    switch (int(r, 0, 5)) {
      case 0: return `<think>\n${body}\n</think>\n\n${inner()}`;
      case 1: return `<think>${body}</think>${inner()}`;
      case 2: return `\n\n<think>\n\n${body}\n\n</think>\n\n\n${inner()}`;
      case 3: return `${body}</think>\n${inner()}`;
      case 4: return `<think>a</think>b<think>c</think>\n\n${inner()}`;
      default: return text().trimStart(); // a last turn's content is lstrip('\n')-ed too
    }
  };
  const out = [];
  for (let c = 0; c < count; c++) {
    const messages = [];
    if (r() < 0.6) messages.push({ role: 'system', content: text() });
    const turns = int(r, 1, 6);
    for (let t = 0; t < turns; t++) {
      const u = r();
      if (model === 'qwen3' && u < 0.1) messages.push({ role: 'user', content: `<tool_response>${text()}</tool_response>` });
      else messages.push({ role: 'user', content: text() });
      if (model === 'qwen3' && r() < 0.2) {
        messages.push({ role: 'assistant', content: think() });
        for (let k = int(r, 1, 3); k > 0; k--) messages.push({ role: 'tool', content: text() });
      }
      if (r() < 0.1) messages.push({ role: 'system', content: text() });
      if (t < turns - 1 || r() < 0.3) messages.push({ role: 'assistant', content: model === 'qwen3' ? think() : text() });
    }
    const conv = { messages, add_generation_prompt: r() < 0.8 };
    const th = r();
    if (th < 0.3) conv.enable_thinking = false;
    else if (th < 0.5) conv.enable_thinking = true;
    out.push(conv);
  }
  return out;
}
