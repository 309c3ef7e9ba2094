// The gateway's open-file limit at start: each client connection may hold one upstream
// connection, so it raises RLIMIT_NOFILE to 2 x gateway.maxConnections + 1024 (the soft
// limit up to the hard one; the hard one too where the process may), and where it cannot,
// says so at start with the limit, the need and how to raise it. Started under `prlimit`
// (util-linux) with chosen limits; the kernel's /proc/PID/limits is the witness.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { BIN, Proc, fakeVllm, gatewayTopology, stopClean, writeTemp } from '../lib/wellpath.mjs';

// The soft and hard "Max open files" of a process.
function limits(pid) {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  return { soft: Number(soft), hard: Number(hard) };
}

// The gateway under prlimit's soft:hard, with maxConnections; resolves once it listens.
async function gatewayUnder(soft, hard, maxConnections, port) {
  const file = writeTemp(gatewayTopology([{ name: 'a', port }], `gateway:\n  maxConnections: ${maxConnections}\n`));
  const p = new Proc([`--nofile=${soft}:${hard}`, BIN, 'gateway', '-f', file, '--listen', '127.0.0.1:0'], { bin: 'prlimit' });
  await p.waitFor(/msg="gateway listening"/, { stream: 'stderr' });
  return p;
}

describe('open-file limit at start', () => {
  let backend, port;
  const procs = [];

  before(async () => {
    backend = await fakeVllm({ failing: false });
    port = backend.port;
  });
  after(async () => {
    for (const p of procs) await stopClean(assert, p, 'wellpath gateway');
    backend?.server.close();
  });

  test('test_open_files_soft_limit_raised_to_what_connections_need', async () => {
    const p = await gatewayUnder(256, 4000, 100, port);
    procs.push(p);
    const want = 2 * 100 + 1024;
    assert.deepEqual(limits(p.pid), { soft: want, hard: 4000 });
    assert.ok(p.lines.stderr.some((l) => l.includes('msg="open files"') && l.includes(`limit=${want} needed=${want}`)),
      p.lines.stderr.join('\n'));
    assert.ok(!p.lines.stderr.some((l) => l.includes('open-file limit below')));
  });

  test('test_open_files_hard_limit_too_low_is_said_at_start', async () => {
    const p = await gatewayUnder(256, 1000, 1000, port);
    procs.push(p);
    const want = 2 * 1000 + 1024;
    const got = limits(p.pid);
    if (got.hard >= want) {
      // A process allowed to raise its hard limit (CAP_SYS_RESOURCE) did.
      assert.equal(got.soft, want);
      return;
    }
    assert.deepEqual(got, { soft: 1000, hard: 1000 }); // the soft limit went as far as it may
    const warn = p.lines.stderr.find((l) => l.includes('open-file limit below'));
    assert.ok(warn, p.lines.stderr.join('\n'));
    assert.match(warn, /level=warn/);
    assert.match(warn, /limit=1000 needed=3024 max_connections=1000/);
    assert.match(warn, /ulimit -n/);
  });
});
