// The command line of every subcommand reads the same way (issue 12): `--opt VALUE` and
// `--opt=VALUE` for every option, `-f FILE` and `--file=FILE` alike; an unknown option,
// a missing value or a value given to a flag is exit 2 and one line that names the option.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Proc, stopClean, writeTemp } from '../lib/wellpath.mjs';

const TWO_REPLICAS = 'model: qwen3-8b\nvllm:\n  replicas: 2\nsimulation:\n  basePort: 0\n  timeScale: 0.05\n';
const GATEWAY = 'endpoints:\n  - url: http://127.0.0.1:1\ngateway:\n  listen: 127.0.0.1:0\n';

async function run(args) {
  const p = new Proc(args);
  const r = await p.exit;
  return { ...r, stdout: p.lines.stdout, err: p.lines.stderr.filter((l) => l.trim() !== '') };
}

// Starts `wellpath sim` with args and returns the ports of its ready line.
async function simPorts(t, args) {
  const p = new Proc(['sim', ...args]);
  t.after(() => p.stop());
  const m = await p.waitFor(/^wellpath sim: ready model=\S+ ports=(\S+)/);
  await stopClean(assert, p, `wellpath sim ${args.join(' ')}`);
  return m[1].split(',');
}

for (const form of [['-f', 'FILE'], ['--file', 'FILE'], ['--file=FILE'], ['-fFILE']]) {
  test(`test_cli_sim_reads_the_file_given_as_${form.join('_')}`, async (t) => {
    const file = writeTemp(TWO_REPLICAS);
    const args = form.map((a) => a.replace('FILE', file));
    assert.equal((await simPorts(t, [...args, '--port=0'])).length, 2, 'vllm.replicas: 2 from the file');
  });
}

test('test_cli_sim_flags_over_the_file_in_both_forms', async (t) => {
  const file = writeTemp(TWO_REPLICAS);
  assert.equal((await simPorts(t, ['--replicas=3', `--file=${file}`, '--port', '0'])).length, 3);
  assert.equal((await simPorts(t, ['--replicas', '1', '-f', file, '--port=0'])).length, 1);
});

test('test_cli_workload_file_in_both_forms', async () => {
  const topo = writeTemp(TWO_REPLICAS);
  const bad = writeTemp('type: shared_prefix\nnum_groupz: 3\n');
  for (const args of [['--workload', bad], [`--workload=${bad}`]]) {
    const r = await run(['simulate', `--file=${topo}`, ...args, '--num-requests=4', '--quiet']);
    assert.equal(r.code, 2, `simulate ${args}: ${r.err.join('\n')}`);
    assert.equal(r.err.length, 1, r.err.join('\n'));
    assert.match(r.err[0], /num_groupz/, 'the workload file was read');
    const b = await run(['bench', ...args, '--target=http://127.0.0.1:1', '--quiet']);
    assert.equal(b.code, 2, `bench ${args}: ${b.err.join('\n')}`);
    assert.match(b.err.join('\n'), /num_groupz/, 'the workload file was read');
  }
});

// Per command, an option that takes a value.
const COMMANDS = { sim: '--port', gateway: '--listen', up: '--listen', bench: '--target', simulate: '--file' };

for (const [cmd, valued] of Object.entries(COMMANDS)) {
  test(`test_cli_${cmd}_rejects_bad_options_in_one_line`, async () => {
    const cases = [
      [['--no-such-flag'], /unknown option '--no-such-flag'/],
      [['--no-such-flag=3'], /unknown option '--no-such-flag'/],
      [['-Z'], /unknown option '-Z'/],
      [['--help=yes'], /option '--help' takes no value/],
      [['stray'], /unexpected argument 'stray'/],
      [[valued], new RegExp(`option '${valued}' needs a value`)],
    ];
    for (const [args, re] of cases) {
      const r = await run([cmd, ...args]);
      assert.equal(r.code, 2, `${cmd} ${args.join(' ')}: ${r.err.join('\n')}`);
      assert.equal(r.err.length, 1, `${cmd} ${args.join(' ')}: one line, got:\n${r.err.join('\n')}`);
      assert.match(r.err[0], new RegExp(`^wellpath ${cmd}: `), r.err[0]);
      assert.match(r.err[0], re, r.err[0]);
    }
  });
}

test('test_cli_no_abbreviations', async () => {
  // getopt_long took a unique prefix (`--rep` for `--replicas`); an option is its full name.
  const r = await run(['sim', '--rep=2', '--port=0']);
  assert.equal(r.code, 2, r.err.join('\n'));
  assert.match(r.err[0], /unknown option '--rep'/);
});

test('test_cli_gateway_and_up_take_both_forms', async (t) => {
  const gwFile = writeTemp(GATEWAY);
  for (const args of [['-f', gwFile, '--listen', '127.0.0.1:0', '--drain-timeout', '100'],
    [`--file=${gwFile}`, '--listen=127.0.0.1:0', '--drain-timeout=100', '--log-level=info']]) {
    const gw = new Proc(['gateway', ...args]);
    t.after(() => gw.stop());
    await gw.waitFor(/msg="gateway listening" addr=127\.0\.0\.1:\d+/, { stream: 'stderr' });
    await stopClean(assert, gw, `wellpath gateway ${args.join(' ')}`);
  }
  const up = new Proc(['up', `--file=${writeTemp(TWO_REPLICAS)}`, '--listen=127.0.0.1:0', '--base-port=0',
    '--policy=round-robin', '--drain-timeout=1000', '--log-level=warn']);
  t.after(() => up.stop());
  await up.waitFor(/^wellpath up: ready gateway=http:\/\/127\.0\.0\.1:\d+\/v1 replicas=2\/2/);
  await stopClean(assert, up, 'wellpath up');
});

// --listen and gateway.listen go through the same parser (config/addr.h): an unbracketed
// IPv6 address is an error, not a guess at where the port starts.
test('test_cli_listen_follows_the_address_rules', async () => {
  const noEndpoints = writeTemp('model: qwen3-8b\n');
  const cases = [
    [['gateway', '-f', noEndpoints, '--listen', '::1:0'], /--listen: .*needs brackets/],
    [['up', '-f', noEndpoints, '--listen=localhost:70000'], /--listen: bad port "70000"/],
    [['up', '--listen=bad host:80'], /--listen: bad character ' '/],
    [['gateway', '-f', writeTemp('model: m\ngateway:\n  listen: "::1:80"\n')], /gateway\.listen: .*needs brackets/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err.join('\n')}`);
    assert.equal(r.err.length, 1, r.err.join('\n'));
    assert.match(r.err[0], re);
  }
});
