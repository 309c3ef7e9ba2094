// Endpoints named by DNS (endpoints[].discover: dns, srv), against a real DNS server: dnsmasq
// (Debian's dnsmasq-base) on a loopback port, its records in a hosts directory it watches and
// re-reads as the test changes them, a TTL of one second. Three simulated servers listen on
// 127.0.0.1, .2 and .3 at one port, as pods behind a headless Service would. The pool grows
// when the name gains addresses, shrinks under load with no failed request, follows an
// address change, keeps its last good set when the name stops resolving (NXDOMAIN) and says
// so; an SRV name gives the ports of its records.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium, findChromium, stripTags } from '../lib/chromium.mjs';
import { MODEL, Proc, freePort, loadAcross, metrics, post, sample, startSim, stopClean, waitUntil, writeTemp } from '../lib/wellpath.mjs';

const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => fs.existsSync(p));
const SKIP = DNSMASQ ? false : process.env.CI ? false : 'dnsmasq not installed (Debian dnsmasq-base; `make deps`)';

describe('endpoints followed in DNS', { skip: SKIP }, () => {
  let dns, gw, base, dir, port, srvSims;
  const sims = [];

  // The addresses pool.test has now (an empty list: the name is gone).
  function setPool(last) {
    const lines = last.map((x) => `127.0.0.${x} pool.test\n`).join('');
    const tmp = path.join(dir, '.hosts.tmp');
    fs.writeFileSync(tmp, `127.0.0.1 srvhost.test\n${lines}`);
    fs.renameSync(tmp, path.join(dir, 'hosts'));
    return Date.now();
  }

  async function pool(prefix) {
    return (await metrics(base))
      .filter((s) => s.name === 'wellpath_endpoint_healthy' && s.value === 1 && s.labels.endpoint.startsWith(prefix))
      .map((s) => s.labels.endpoint)
      .sort();
  }

  async function waitPool(prefix, want, what) {
    await waitUntil(async () => JSON.stringify(await pool(prefix)) === JSON.stringify(want), { timeout: 15000, what });
  }

  const ep = (x) => `pool@127.0.0.${x}:${port}`;
  const complete = (prompt) => post(`${base}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-dns-'));
    port = await freePort();
    for (const x of [1, 2, 3]) sims.push(await startSim({ port, timeScale: 0.01, args: ['--host', `127.0.0.${x}`] }));
    srvSims = await startSim({ replicas: 2, timeScale: 0.01 });
    setPool([1]);
    const dnsPort = await freePort();
    dns = new Proc(['-k', `--port=${dnsPort}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts',
      `--hostsdir=${dir}`, '--local=/test/', '--local-ttl=1', '--user=root', '--pid-file=', '--log-facility=-',
      ...srvSims.ports.map((p) => `--srv-host=_vllm._tcp.svc.test,srvhost.test,${p}`)], { bin: DNSMASQ });
    await dns.waitFor(/started, version/, { stream: 'stderr' });
    const topo = writeTemp(`gateway:
  dns: {servers: "127.0.0.1:${dnsPort}", minTtlMs: 200, maxTtlMs: 5000}
endpoints:
  - {url: "http://pool.test:${port}", discover: dns, name: pool}
  - {url: "http://_vllm._tcp.svc.test", discover: srv, name: svc}
`);
    gw = new Proc(['gateway', '-f', topo, '--listen', '127.0.0.1:0']);
    const m = await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
    base = `http://127.0.0.1:${m[1]}`;
  });
  after(async () => {
    if (gw) await stopClean(assert, gw, 'wellpath gateway');
    for (const s of [...sims, srvSims]) if (s) await stopClean(assert, s.proc, 'wellpath sim');
    if (dns) await dns.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('test_dns_name_resolves_to_its_endpoint', async () => {
    await waitPool('pool@', [ep(1)], 'pool.test to give its one address');
    const r = await complete('hello');
    assert.equal(r.status, 200, r.text);
  });

  test('test_dns_srv_records_give_ports', async () => {
    await waitPool('svc@', srvSims.ports.map((p) => `svc@127.0.0.1:${p}`).sort(), 'the SRV targets and ports');
  });

  test('test_dns_scale_out_adds_endpoints_and_keeps_the_old_ones_state', async () => {
    // What the endpoint that stays learned: a long prompt's prefix, its pick count.
    // (The gateway also has the SRV name's two endpoints: the prompt lands on one of the three.)
    const prompt = `a long shared prefix ${'lorem ipsum dolor sit amet '.repeat(80)}`;
    const home = (await complete(prompt)).headers.get('x-wellpath-endpoint');
    const picks = async () => sample(await metrics(base), 'wellpath_gateway_picks_total', { endpoint: home });
    const before = await picks();
    // Under load: the first request routed to a new endpoint, and none failed.
    let t0;
    const { results } = await loadAcross(complete, async () => {
      t0 = setPool([1, 2, 3]);
      await waitPool('pool@', [ep(1), ep(2), ep(3)], 'pool.test to gain .2 and .3');
    });
    assert.deepEqual(results.filter((r) => r.status !== 200), [], 'no request failed while the pool grew');
    const first = Math.min(...results.filter((r) => [ep(2), ep(3)].includes(r.endpoint)).map((r) => r.sent)) - t0;
    assert.ok(Number.isFinite(first), 'requests reached the new endpoints');
    const during = results.filter((r) => r.endpoint === home).length;
    assert.ok((await picks()) >= before + during, 'the endpoint that stayed kept its pick count');
    assert.equal((await complete(prompt)).headers.get('x-wellpath-endpoint'), home, 'and its prefixes');
    console.log(`dns: record added -> first request routed to a new endpoint ${first} ms later (TTL 1 s)`);
  });

  test('test_dns_scale_in_under_load_fails_nothing', async () => {
    let t0;
    const { results, changedAt } = await loadAcross(complete, async () => {
      t0 = setPool([3]);
      await waitPool('pool@', [ep(3)], '.1 and .2 to leave');
    });
    assert.deepEqual(results.filter((r) => r.status !== 200), [], 'no request failed while the pool shrank');
    const late = results.filter((r) => r.sent > changedAt && r.endpoint.startsWith('pool@'));
    assert.ok(late.every((r) => r.endpoint === ep(3)), `after the change: ${[...new Set(late.map((r) => r.endpoint))]}`);
    const lastOld = Math.max(...results.filter((r) => [ep(1), ep(2)].includes(r.endpoint)).map((r) => r.sent));
    console.log(`dns: record removed -> endpoints out of the pool in ${changedAt - t0} ms, last request ` +
      `routed to a removed endpoint sent ${lastOld - t0} ms after the change (TTL 1 s)`);
  });

  test('test_dns_ttl_honoured_between_lookups', async () => {
    // dnsmasq gives its records a TTL of 1 s and minTtlMs is 200: a name is looked up again
    // when its TTL runs out, not at the floor. Two lookups in a row, timed as they show on
    // /metrics (polled every 25 ms).
    const src = { source: 'pool.test', kind: 'dns' };
    const lookups = async () => sample(await metrics(base), 'wellpath_gateway_discovery_lookups_total', src);
    const l0 = await lookups();
    await waitUntil(async () => (await lookups()) >= l0 + 1, { what: 'a lookup' });
    const t1 = Date.now();
    await waitUntil(async () => (await lookups()) >= l0 + 2, { what: 'the next lookup' });
    const gap = Date.now() - t1;
    assert.ok(gap >= 800, `lookups ${gap} ms apart, under the records' 1 s TTL`);
  });

  test('test_dns_address_change_moves_the_endpoint', async () => {
    setPool([2]);
    await waitPool('pool@', [ep(2)], 'pool.test to move from .3 to .2');
  });

  test('test_dns_server_that_refuses_is_a_failed_lookup_not_a_crash', async () => {
    // Nothing listens on the port: each query's socket is refused and c-ares opens the next
    // on the same descriptor number at once.
    const closed = await freePort();
    const topo = writeTemp(`gateway:\n  dns: {servers: "127.0.0.1:${closed}", minTtlMs: 100}\nendpoints:\n  - {url: "http://nowhere.test:${port}", discover: dns, name: nowhere}\n`);
    const g = new Proc(['gateway', '-f', topo, '--listen', '127.0.0.1:0']);
    try {
      const m = await g.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:(\d+)/, { stream: 'stderr' });
      await g.waitFor(/msg="DNS: lookup failed, keeping the last addresses" name=nowhere\.test/, { stream: 'stderr' });
      const src = { source: 'nowhere.test', kind: 'dns' };
      await waitUntil(async () => (sample(await metrics(`http://127.0.0.1:${m[1]}`), 'wellpath_gateway_discovery_failures_total', src) ?? 0) >= 3,
        { what: 'three failed lookups, the gateway still up' });
      assert.equal((await fetch(`http://127.0.0.1:${m[1]}/health`)).status, 503);
    } finally {
      await stopClean(assert, g, 'wellpath gateway with an unreachable DNS server');
    }
  });

  test('test_dns_nxdomain_keeps_the_last_good_set_and_says_so', async () => {
    const from = gw.lines.stderr.length;
    setPool([]);
    await gw.waitFor(/msg="DNS: lookup failed, keeping the last addresses" name=pool\.test type=A\/AAAA addresses=1 reason="no such name \(NXDOMAIN\)/, { stream: 'stderr', from });
    assert.deepEqual(await pool('pool@'), [ep(2)]);
    const r = await complete('still served');
    assert.equal(r.status, 200, r.text);
    // Said on /metrics and /status too.
    const src = { source: 'pool.test', kind: 'dns' };
    await waitUntil(async () => sample(await metrics(base), 'wellpath_gateway_discovery_ok', src) === 0, { what: 'discovery_ok 0' });
    // ... and on the status page, rendered in headless Chromium.
    const bin = findChromium();
    assert.ok(bin || !process.env.CI, 'chromium not found');
    if (bin) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-chromium-'));
      try {
        const html = await chromium(bin, profile, `${base}/`, ['--dump-dom']);
        const row = html.match(/<tr data-source="pool\.test">([\s\S]*?)<\/tr>/);
        assert.ok(row, 'a row for pool.test in the discovery table');
        const cells = Object.fromEntries([...row[1].matchAll(/<td data-field="([^"]*)"[^>]*>([\s\S]*?)<\/td>/g)].map((m) => [m[1], stripTags(m[2])]));
        assert.equal(cells.kind, 'dns');
        assert.match(cells.state, /failing/);
        assert.equal(cells.endpoints, '1');
        assert.match(cells.error, /NXDOMAIN/);
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    }
    const prom = await metrics(base);
    assert.equal(sample(prom, 'wellpath_gateway_discovery_endpoints', src), 1);
    assert.ok(sample(prom, 'wellpath_gateway_discovery_failures_total', src) >= 1);
    assert.ok(sample(prom, 'wellpath_gateway_discovery_lookups_total', src) > sample(prom, 'wellpath_gateway_discovery_failures_total', src));
    const status = await (await fetch(`${base}/status`)).json();
    const d = status.discovery.find((x) => x.source === 'pool.test');
    assert.equal(d.ok, false);
    assert.match(d.error, /NXDOMAIN/);
    assert.ok(status.discovery.some((x) => x.source === '_vllm._tcp.svc.test' && x.kind === 'srv' && x.ok && x.endpoints === 2));
    const back = gw.lines.stderr.length;
    setPool([2]);
    await gw.waitFor(/msg="DNS: name resolves again" name=pool\.test/, { stream: 'stderr', from: back });
    await waitUntil(async () => sample(await metrics(base), 'wellpath_gateway_discovery_ok', src) === 1, { what: 'discovery_ok 1' });
  });
});
