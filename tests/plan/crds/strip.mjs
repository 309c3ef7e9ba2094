// Writes the openAPIV3Schema of one version of an upstream CustomResourceDefinition as the
// YAML the schema test loads, with the descriptions taken out (they are most of the bytes
// and none of the rules) and a header naming where it came from.
//
//   node tests/plan/crds/strip.mjs CRD.yaml VERSION URL > tests/plan/crds/NAME.schema.yaml
//
// Run it from tests/plan (its node_modules has `yaml`).
import fs from 'node:fs';
import YAML from 'yaml';

const [file, version, url] = process.argv.slice(2);
if (!file || !version || !url) {
  console.error('usage: node strip.mjs CRD.yaml VERSION URL');
  process.exit(2);
}
const crd = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
  .map((d) => d.toJS())
  .find((d) => d && d.kind === 'CustomResourceDefinition');
const served = crd.spec.versions.find((v) => v.served && v.storage) || crd.spec.versions[0];

const strip = (o) => {
  if (Array.isArray(o)) return o.map(strip);
  if (o === null || typeof o !== 'object') return o;
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'description').map(([k, v]) => [k, strip(v)]));
};

// Large subtrees that are the same (a LeaderWorkerSet's leader and worker pod templates)
// are written once, as a YAML anchor and its aliases.
const seen = new Map();
const share = (o) => {
  if (o === null || typeof o !== 'object') return o;
  const key = JSON.stringify(o);
  if (key.length > 4096 && seen.has(key)) return seen.get(key);
  const r = Array.isArray(o) ? o.map(share) : Object.fromEntries(Object.entries(o).map(([k, v]) => [k, share(v)]));
  if (key.length > 4096) seen.set(key, r);
  return r;
};

const out = {
  group: crd.spec.group,
  kind: crd.spec.names.kind,
  version: served.name,
  schema: share(strip(served.schema.openAPIV3Schema)),
};
process.stdout.write(
  `# ${crd.spec.names.kind} (${crd.spec.group}/${served.name}): the openAPIV3Schema of the CRD\n` +
    `# ${url}\n# (release ${version}), descriptions removed by tests/plan/crds/strip.mjs.\n` +
    YAML.stringify(out, { lineWidth: 0 }),
);
