// The Kubernetes manifests of `wellpath plan` (src/plan/manifest.h) against their real
// schemas. The renderer's unit test (tests/unit/plan/test_manifest.c, binary test_manifest
// beside the wellpath binary in the build directory) writes its three scenarios (Path 1,
// 8 x TP2 Qwen3-32B on H100; Path 2, 4 prefill TP1 + 2 decode TP4 gpt-oss-120b on H200;
// Path 3, DeepSeek-R1 EP16 prefill + EP16 decode on H200) into a temporary directory when
// WELLPATH_MANIFEST_DIR is set; every YAML document there is parsed and validated by
// tests/plan/validate.mjs: kubernetes-models and its Prometheus Operator, KEDA and Gateway
// API packages, the LeaderWorkerSet and InferencePool CRD schemas with ajv, metadata by the
// API server's rules; then selectors and references across the objects, and the GPUs each
// scenario asks for. A broken manifest (a Deployment's replicas as a string, and more) must
// be rejected.
//
// Needs tests/plan/node_modules (`make node-deps`). Without them the test skips with a
// message, unless CI is set: then it fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BIN } from '../lib/wellpath.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PLAN = path.resolve(here, '../plan');
const UNIT = path.join(path.dirname(BIN), 'test_manifest');
const CI = !!process.env.CI;

function skipReason() {
  if (!fs.existsSync(path.join(PLAN, 'node_modules', 'kubernetes-models')))
    return CI ? false : 'tests/plan/node_modules missing: run `make node-deps` (CI would fail here)';
  if (!fs.existsSync(UNIT)) return CI ? false : `${UNIT} missing (built only with cmocka; CI would fail here)`;
  return false;
}

const SCENARIOS = {
  path1: { gpus: 16, kinds: { StatefulSet: 1, LeaderWorkerSet: 0, ScaledObject: 0, InferencePool: 0 } },
  path2: { gpus: 12, kinds: { StatefulSet: 2, LeaderWorkerSet: 0, ScaledObject: 1, InferencePool: 1, HTTPRoute: 1 } },
  path3: { gpus: 32, kinds: { StatefulSet: 0, LeaderWorkerSet: 2, ScaledObject: 1, InferencePool: 1, HTTPRoute: 1 } },
};
const COMMON = { Service: null, ConfigMap: null, Deployment: 1, ServiceMonitor: 1, PodMonitor: 1, PrometheusRule: 2 };

const gpuLimit = (tpl) => Number(tpl.spec.containers[0].resources.limits['nvidia.com/gpu']);

// The value after a flag, in an argv list or an sh -c script.
function flagValue(container, flag) {
  const words = container.command[0] === 'vllm' ? container.args : container.args.join(' ').split(/\s+/);
  const i = words.indexOf(flag);
  return i < 0 ? undefined : words[i + 1];
}

function run(cmd, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, [], { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

describe('plan manifests against their schemas', { skip: skipReason() }, () => {
  let v;
  let dir;
  const objects = {}; // scenario -> [{file, obj}]

  before(async () => {
    assert.ok(fs.existsSync(path.join(PLAN, 'node_modules', 'kubernetes-models')), 'tests/plan/node_modules missing (make node-deps)');
    assert.ok(fs.existsSync(UNIT), `${UNIT} missing`);
    v = await import('../plan/validate.mjs');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wellpath-manifests-'));
    await run(UNIT, { WELLPATH_MANIFEST_DIR: dir });
    for (const sc of Object.keys(SCENARIOS)) {
      objects[sc] = [];
      for (const file of fs.readdirSync(path.join(dir, sc)).sort()) {
        const text = fs.readFileSync(path.join(dir, sc, file), 'utf8');
        for (const obj of v.parseDocuments(text, `${sc}/${file}`)) objects[sc].push({ file, obj });
      }
    }
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('each scenario renders the files and kinds of its path', () => {
    for (const [sc, want] of Object.entries(SCENARIOS)) {
      const files = new Set(objects[sc].map((o) => o.file));
      const optional = want.kinds.ScaledObject ? ['keda.yaml', 'gateway-api.yaml'] : [];
      assert.deepEqual([...files].sort(), ['gateway.yaml', 'model-servers.yaml', 'monitoring.yaml', ...optional].sort(), sc);
      const count = (kind) => objects[sc].filter((o) => o.obj.kind === kind).length;
      for (const [kind, n] of Object.entries({ ...COMMON, ...want.kinds })) if (n !== null) assert.equal(count(kind), n, `${sc}: ${kind}`);
    }
  });

  for (const sc of Object.keys(SCENARIOS)) {
    test(`${sc}: every object passes its schema`, () => {
      const errors = objects[sc].flatMap(({ file, obj }) => v.validateObject(obj).map((e) => `${file}: ${e}`));
      assert.deepEqual(errors, []);
    });

    test(`${sc}: selectors and references agree across the objects`, () => {
      assert.deepEqual(v.crossCheck(objects[sc].map((o) => o.obj)), []);
    });

    test(`${sc}: the model servers ask for the plan's GPUs, TP x ranks per pod`, () => {
      let total = 0;
      for (const { obj } of objects[sc]) {
        if (obj.kind === 'StatefulSet') {
          const tpl = obj.spec.template;
          const c = tpl.spec.containers[0];
          const ranks = Number(flagValue(c, '--data-parallel-size') || 1);
          assert.equal(Number(flagValue(c, '--tensor-parallel-size')) * ranks, gpuLimit(tpl), obj.metadata.name);
          total += obj.spec.replicas * gpuLimit(tpl);
        }
        if (obj.kind === 'LeaderWorkerSet') {
          const t = obj.spec.leaderWorkerTemplate;
          for (const tpl of [t.leaderTemplate, t.workerTemplate]) {
            const c = tpl.spec.containers[0];
            assert.equal(Number(flagValue(c, '--tensor-parallel-size')) * Number(flagValue(c, '--data-parallel-size-local')), gpuLimit(tpl));
          }
          const size = t.size;
          assert.equal(size * Number(flagValue(t.leaderTemplate.spec.containers[0], '--data-parallel-size-local')), Number(flagValue(t.leaderTemplate.spec.containers[0], '--data-parallel-size')));
          total += obj.spec.replicas * (gpuLimit(t.leaderTemplate) + (size - 1) * gpuLimit(t.workerTemplate));
        }
      }
      assert.equal(total, SCENARIOS[sc].gpus);
    });
  }

  test('the gateway topology names every server pod', () => {
    for (const sc of Object.keys(SCENARIOS)) {
      const cm = objects[sc].find((o) => o.obj.kind === 'ConfigMap' && o.obj.data['topology.yaml']).obj;
      const topo = v.YAML.parse(cm.data['topology.yaml']);
      const hosts = new Set(topo.endpoints.map((e) => new URL(e.url).hostname));
      const expected = new Set();
      for (const { obj } of objects[sc])
        if (obj.kind === 'StatefulSet' || obj.kind === 'LeaderWorkerSet')
          for (let i = 0; i < obj.spec.replicas; i++) expected.add(`${obj.metadata.name}-${i}.${obj.metadata.name}.${obj.metadata.namespace}.svc.cluster.local`);
      assert.deepEqual([...hosts].sort(), [...expected].sort(), sc);
      // Each pod's name is followed in DNS: a restarted pod's new address is found.
      assert.ok(topo.endpoints.every((e) => e.discover === 'dns'), sc);
    }
  });

  test('broken manifests are rejected', () => {
    const pick = (sc, kind) => structuredClone(objects[sc].find((o) => o.obj.kind === kind).obj);
    const dep = pick('path1', 'Deployment');
    dep.spec.replicas = '1'; // a string where an int belongs
    assert.match(v.validateObject(dep).join('\n'), /replicas must be integer/);
    const lws = pick('path3', 'LeaderWorkerSet');
    lws.spec.leaderWorkerTemplate.size = '2';
    assert.match(v.validateObject(lws).join('\n'), /size must be integer/);
    const lws2 = pick('path3', 'LeaderWorkerSet');
    lws2.spec.leaderWorkerTemplate.replica = 1; // not a field
    assert.match(v.validateObject(lws2).join('\n'), /additional properties \(replica\)/);
    const pool = pick('path2', 'InferencePool');
    delete pool.spec.targetPorts;
    assert.match(v.validateObject(pool).join('\n'), /required property 'targetPorts'/);
    const so = pick('path2', 'ScaledObject');
    so.spec.maxReplicaCount = 'two';
    assert.match(v.validateObject(so).join('\n'), /maxReplicaCount must be integer/);
    const sts = pick('path1', 'StatefulSet');
    sts.metadata.name = 'Wellpath_VLLM';
    assert.match(v.validateObject(sts).join('\n'), /bad metadata.name/);
    const svc = pick('path1', 'Service');
    svc.spec.selector = { 'app.kubernetes.io/name': 'nothing' };
    assert.match(v.crossCheck([svc, pick('path1', 'StatefulSet')]).join('\n'), /selects no pod/);
    assert.match(v.validateObject({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x', namespace: 'y' } }).join('\n'), /no schema known/);
  });
});
