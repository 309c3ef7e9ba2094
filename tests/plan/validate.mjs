// Schema and reference checks of the Kubernetes manifests `wellpath plan` renders
// (src/plan/manifest.h), for tests/integration/plan_manifests.test.mjs. Lives here, beside
// its node_modules, so the imports below resolve.
//
// validateObject(obj): the object against its real schema, by apiVersion and kind:
//   - core and apps objects (Service, ConfigMap, StatefulSet, Deployment): kubernetes-models;
//   - PrometheusRule, ServiceMonitor, PodMonitor: @kubernetes-models/prometheus-operator;
//   - ScaledObject: @kubernetes-models/keda; HTTPRoute: @kubernetes-models/gateway-api;
//   - LeaderWorkerSet and InferencePool: ajv against the openAPIV3Schema of their published
//     CRDs (crds/*.schema.yaml, made by crds/strip.mjs; the header of each names its release),
//     with unknown fields rejected as `kubectl apply`'s strict field validation does, and an
//     LWS's pod templates also through kubernetes-models' PodTemplateSpec;
//   - every object and pod template: metadata names and labels by the API server's rules.
// The CRDs' CEL rules (x-kubernetes-validations) are not evaluated.
//
// crossCheck(objects): what no schema sees: selectors match the pod labels they mean,
// references (serviceName, configMap, scaleTargetRef, backendRefs) name objects that exist,
// probes name container ports that exist.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import YAML from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, PodTemplateSpec, Service } from 'kubernetes-models/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';

export { YAML };

const here = path.dirname(fileURLToPath(import.meta.url));

const MODELS = {
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
};

// ---- CRD schemas with ajv ----

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
ajv.addVocabulary([
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-validations',
]);
const inRange = (lo, hi) => (x) => Number.isInteger(x) && x >= lo && x <= hi;
ajv.addFormat('int32', { type: 'number', validate: inRange(-(2 ** 31), 2 ** 31 - 1) });
ajv.addFormat('int64', { type: 'number', validate: (x) => Number.isInteger(x) });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

// Structural schemas prune unknown fields; kubectl's default strict field validation turns
// that into an error, so the test does too.
function strictCopy(schema) {
  if (Array.isArray(schema)) return schema.map(strictCopy);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strictCopy(s)])) : strictCopy(v)]));
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

function loadCrd(file) {
  const text = fs.readFileSync(path.join(here, 'crds', file), 'utf8');
  const crd = YAML.parse(text, { maxAliasCount: -1 });
  return { key: `${crd.group}/${crd.version}/${crd.kind}`, validate: ajv.compile(strictCopy(crd.schema)), source: text.split('\n')[1].replace(/^# /, '') };
}

const CRDS = Object.fromEntries(['leaderworkersets.schema.yaml', 'inferencepools.schema.yaml'].map(loadCrd).map((c) => [c.key, c]));

export const crdSources = () => Object.values(CRDS).map((c) => c.source);

// ---- metadata by the API server's rules ----

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkLabels(labels, where, errors) {
  for (const [k, v] of Object.entries(labels || {})) {
    const slash = k.lastIndexOf('/');
    const prefix = slash >= 0 ? k.slice(0, slash) : null;
    const name = k.slice(slash + 1);
    if (prefix !== null && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) errors.push(`${where}: label key ${k}: bad prefix`);
    if (name.length > 63 || !LABEL_NAME.test(name)) errors.push(`${where}: label key ${k}: bad name`);
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) errors.push(`${where}: label ${k}: bad value ${JSON.stringify(v)}`);
  }
}

function checkMeta(obj, errors) {
  const m = obj.metadata || {};
  const where = `${obj.kind} ${m.name}`;
  // Services need an RFC 1035 label (a letter first); the rest a DNS-1123 subdomain.
  const nameOk = obj.kind === 'Service' ? /^[a-z]/.test(m.name || '') && DNS_LABEL.test(m.name) && m.name.length <= 63 : DNS_SUBDOMAIN.test(m.name || '') && m.name.length <= 253;
  if (!nameOk) errors.push(`${where}: bad metadata.name`);
  if (!DNS_LABEL.test(m.namespace || '')) errors.push(`${where}: bad metadata.namespace`);
  checkLabels(m.labels, where, errors);
  for (const t of podTemplates(obj)) checkLabels(t.metadata?.labels, `${where} pod template`, errors);
}

export function podTemplates(obj) {
  if (obj.kind === 'LeaderWorkerSet') {
    const t = obj.spec?.leaderWorkerTemplate || {};
    return [t.leaderTemplate, t.workerTemplate].filter(Boolean);
  }
  return obj.spec?.template ? [obj.spec.template] : [];
}

// ---- one object ----

export function validateObject(obj) {
  const errors = [];
  if (obj === null || typeof obj !== 'object' || !obj.apiVersion || !obj.kind) return ['not a Kubernetes object (apiVersion, kind)'];
  const key = `${obj.apiVersion}/${obj.kind}`;
  const where = `${obj.kind} ${obj.metadata?.name}`;
  const Model = MODELS[key];
  const crd = CRDS[key];
  if (Model) {
    try {
      new Model(obj).validate();
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
    }
  } else if (crd) {
    if (!crd.validate(obj)) errors.push(...crd.validate.errors.map((e) => `${where}: ${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`));
    if (obj.kind === 'LeaderWorkerSet')
      for (const t of podTemplates(obj)) {
        try {
          new PodTemplateSpec(t).validate();
        } catch (e) {
          errors.push(`${where} pod template: ${e.message}`);
        }
      }
  } else {
    errors.push(`${where}: no schema known for ${key}`);
  }
  checkMeta(obj, errors);
  return errors;
}

// ---- across objects ----

const matches = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);

function checkPods(obj, errors) {
  for (const t of podTemplates(obj))
    for (const c of t.spec?.containers || []) {
      const ports = new Set((c.ports || []).map((p) => p.name));
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const port = c[probe]?.httpGet?.port;
        if (typeof port === 'string' && !ports.has(port)) errors.push(`${obj.kind} ${obj.metadata.name}: ${probe} names port ${port}, which the container does not have`);
      }
      const mounts = new Set((t.spec.volumes || []).map((v) => v.name));
      for (const m of c.volumeMounts || []) if (!mounts.has(m.name)) errors.push(`${obj.kind} ${obj.metadata.name}: volumeMount ${m.name} has no volume`);
    }
}

export function crossCheck(objs) {
  const errors = [];
  const pods = objs.flatMap((o) => podTemplates(o).map((t) => ({ owner: o, labels: t.metadata?.labels || {} })));
  const selects = (sel) => pods.filter((p) => matches(sel, p.labels));
  for (const o of objs) {
    const name = `${o.kind} ${o.metadata.name}`;
    if (o.kind === 'StatefulSet' || o.kind === 'Deployment') {
      for (const t of podTemplates(o)) if (!matches(o.spec.selector.matchLabels, t.metadata.labels)) errors.push(`${name}: selector does not match its pod template`);
    }
    if (o.kind === 'StatefulSet' && find(objs, 'Service', o.spec.serviceName)?.spec.clusterIP !== 'None') errors.push(`${name}: serviceName ${o.spec.serviceName} is not a headless Service here`);
    if (o.kind === 'LeaderWorkerSet' && find(objs, 'Service', o.metadata.name)?.spec.clusterIP !== 'None') errors.push(`${name}: no headless Service of its name`);
    if (o.kind === 'Service' && o.spec.selector && selects(o.spec.selector).length === 0) errors.push(`${name}: selects no pod`);
    if (o.kind === 'PodMonitor' && selects(o.spec.selector.matchLabels).length === 0) errors.push(`${name}: selects no pod`);
    if (o.kind === 'InferencePool' && selects(o.spec.selector.matchLabels).length === 0) errors.push(`${name}: selects no pod`);
    if (o.kind === 'ServiceMonitor' && !objs.some((s) => s.kind === 'Service' && matches(o.spec.selector.matchLabels, s.metadata.labels))) errors.push(`${name}: selects no Service`);
    if (o.kind === 'ScaledObject') {
      const t = o.spec.scaleTargetRef;
      const target = find(objs, t.kind, t.name);
      if (!target || target.apiVersion !== t.apiVersion) errors.push(`${name}: scaleTargetRef ${t.kind} ${t.name} is not here`);
    }
    if (o.kind === 'HTTPRoute')
      for (const r of o.spec.rules)
        for (const b of r.backendRefs) {
          const svc = find(objs, 'Service', b.name);
          if (!svc || !svc.spec.ports.some((p) => p.port === b.port)) errors.push(`${name}: backendRef ${b.name}:${b.port} is not a Service port here`);
        }
    if (o.kind === 'Deployment')
      for (const v of o.spec.template.spec.volumes || []) if (v.configMap && !find(objs, 'ConfigMap', v.configMap.name)) errors.push(`${name}: ConfigMap ${v.configMap.name} is not here`);
    checkPods(o, errors);
  }
  return errors;
}

// Every document of a file; YAML errors and warnings throw.
export function parseDocuments(text, file) {
  return YAML.parseAllDocuments(text, { prettyErrors: true, strict: true }).map((d, i) => {
    if (d.errors.length || d.warnings.length) throw new Error(`${file} document ${i + 1}: ${[...d.errors, ...d.warnings].map((e) => e.message).join('; ')}`);
    return d.toJS();
  });
}
