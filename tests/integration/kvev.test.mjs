// vLLM's KV events (src/kvev, docs/kv-events.md) against pyzmq + msgpack-python, an
// independent implementation of the same wire format: tests/integration/kvev_vllm.py drives
// the test tool kvev_tool (built beside the wellpath binary) as publisher and as
// subscriber, with the frames and payloads vLLM's publisher sends.
//
// Needs Debian's python3-zmq and python3-msgpack under /usr/bin/python3 (scripts/install-deps.sh).
// Without them the test skips with a message, unless CI is set: then it fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BIN } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PY = '/usr/bin/python3';
const TOOL = path.join(path.dirname(BIN), 'kvev_tool');
const CI = !!process.env.CI;

function skipReason() {
  const r = fs.existsSync(PY) ? spawnSync(PY, ['-c', 'import zmq, msgpack'], { encoding: 'utf8' }) : null;
  if (r === null || r.status !== 0)
    return CI ? false : `${PY} lacks zmq/msgpack: apt-get install python3-zmq python3-msgpack (CI would fail here)`;
  if (!fs.existsSync(TOOL)) return CI ? false : `${TOOL} missing: build it (cmake --build build)`;
  return false;
}

test('kv events: wire format, replay and resync against pyzmq + msgpack', { skip: skipReason(), timeout: 120_000 }, async () => {
  const child = spawn(PY, [path.join(here, 'kvev_vllm.py'), TOOL], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Killed with the runner too (a timeout): the tools it started then see stdin close and exit.
  const reap = () => child.exitCode === null && child.kill('SIGKILL');
  process.on('exit', reap);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
    process.stdout.write(out);
    assert.equal(code, 0, `kvev_vllm.py failed:\n${out}`);
    assert.match(out, /ok: all/);
  } finally {
    reap();
    process.off('exit', reap);
  }
});
