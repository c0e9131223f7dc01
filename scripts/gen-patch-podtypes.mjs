#!/usr/bin/env node
// Generates core/patch/podtypes_data.inc: the Kubernetes core/v1 Pod types with,
// for every field, its JSON type and its strategic-merge-patch metadata
// (patch strategy and merge key), as the strategic merge patch and the Pod
// type check in core/patch/ need them.
//
// Sources, all from the npm registry plus kubectl:
//   * field names and JSON types: @kubernetes/client-node (its generated models
//     carry the OpenAPI types of every field of every API type);
//   * which string fields are Quantities or IntOrStrings (JSON number or
//     string): kubernetes-models (its validators are compiled from the OpenAPI
//     schema and accept a number exactly there);
//   * patch strategy and merge key of every list field: kubectl itself. The
//     npm packages above drop the x-kubernetes-patch-* extensions, so each list
//     field is probed with `kubectl patch --local --type strategic`, which runs
//     Kubernetes' own strategic merge patch with the metadata compiled into the
//     k8s.io/api Go types: a list that keeps both of two different elements
//     merges; then the merge key is the one field whose equal value makes the
//     two elements one. Lists that can only be reached through a list that is
//     replaced are never merged, so their metadata cannot matter and is not
//     probed (they are written as replaced).
//   * "retainKeys" is only used by Kubernetes when it computes a patch, never
//     when it applies one, so it cannot be observed; RETAIN_KEYS below lists
//     the fields that carry it in k8s.io/api/core/v1/types.go.
//
// Regenerate:
//   d=$(mktemp -d) && (cd "$d" && npm install @kubernetes/client-node kubernetes-models)
//   node scripts/gen-patch-podtypes.mjs "$d/node_modules" kubectl > core/patch/podtypes_data.inc

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [modulesDir, kubectl = 'kubectl'] = process.argv.slice(2);
if (!modulesDir) {
  console.error('usage: gen-patch-podtypes.mjs <node_modules dir> [kubectl]');
  process.exit(2);
}
const require = createRequire(join(modulesDir, 'x.js'));
const clientModels = join(modulesDir, '@kubernetes/client-node/dist/gen/models');

const RETAIN_KEYS = new Set(['PodSpec.volumes', 'PodSpec.resourceClaims']);

// ---- types and fields from client-node ------------------------------------

const types = new Map(); // short name -> [{name, type, format}]
const shortName = (cls) => cls.replace(/^CoreV1/, '').replace(/^V1/, '');

async function load(cls) {
  const name = shortName(cls);
  if (types.has(name)) return;
  const mod = await import(join(clientModels, `${cls}.js`));
  const attrs = mod[cls].attributeTypeMap;
  types.set(name, { cls, attrs });
  for (const a of attrs) {
    const ref = a.type.match(/\b((?:V1|CoreV1)[A-Za-z0-9]+)\b/);
    if (ref) await load(ref[1]);
  }
}
await load('V1Pod');

function validatorFor(cls) {
  const name = shortName(cls);
  // By file path: the packages' "exports" do not list their _schemas.
  const candidates = [
    join(modulesDir, `kubernetes-models/_schemas/IoK8sApiCoreV1${name}.js`),
    join(modulesDir, `@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1${name}.js`),
  ];
  for (const c of candidates) {
    try { return require(c).validate; } catch { /* next */ }
  }
  return null;
}

// Does the schema accept a JSON number for this string field?
function acceptsNumber(cls, field, isMap) {
  const validate = validatorFor(cls);
  if (!validate) return false;
  const errorsAt = (value) => {
    validate({ [field]: value });
    return (validate.errors || []).some((e) => e.instancePath.startsWith(`/${field}`));
  };
  const wrap = (v) => (isMap ? { k: v } : v);
  // A field unknown to that schema accepts anything: not a number field.
  if (!errorsAt(wrap({}))) return false;
  return !errorsAt(wrap(1));
}

const K = { any: 'ANY', object: 'OBJECT', list: 'LIST', map: 'MAP', string: 'STRING',
  integer: 'INTEGER', number: 'NUMBER', boolean: 'BOOLEAN', quantity: 'QUANTITY',
  intOrString: 'INT_OR_STRING' };

function scalarKind(type, format, cls, field, isMap) {
  switch (type) {
    case 'string':
      if (format === 'int-or-string') return K.intOrString;
      return acceptsNumber(cls, field, isMap) ? K.quantity : K.string;
    case 'Date': return K.string;
    case 'boolean': return K.boolean;
    case 'number': return format === 'double' ? K.number : K.integer;
    case 'IntOrString': return K.intOrString;
    case 'any': case 'object': return K.any;
    default: return null;
  }
}

// {kind, item, ref}: ref is the object type of the value or of its items.
function describe(cls, a) {
  let m;
  if ((m = a.type.match(/^Array<(.+)>$/))) {
    const inner = m[1];
    const s = scalarKind(inner, a.format, cls, a.name, false);
    return s ? { kind: K.list, item: s, ref: null } : { kind: K.list, item: K.object, ref: shortName(inner) };
  }
  if ((m = a.type.match(/^\{ \[key: string\]: (.+); \}$/))) {
    const inner = m[1];
    const s = scalarKind(inner, a.format, cls, a.name, true);
    if (s) return { kind: K.map, item: s, ref: null };
    if (/^Array</.test(inner)) return { kind: K.map, item: K.list, ref: null };
    return { kind: K.map, item: K.object, ref: shortName(inner) };
  }
  const s = scalarKind(a.type, a.format, cls, a.name, false);
  if (s) return { kind: s, item: null, ref: null };
  return { kind: K.object, item: null, ref: shortName(a.type) };
}

const table = new Map(); // type -> [{name, kind, item, ref, merge, key, probed}]
for (const [name, { cls, attrs }] of types) {
  table.set(name, attrs.map((a) => ({ name: a.baseName, ...describe(cls, a), merge: false, key: null, probed: false })));
}

// ---- patch metadata from kubectl --------------------------------------------

const kubectlVersion = (() => {
  try { return JSON.parse(execFileSync(kubectl, ['version', '--client', '-o', 'json'])).clientVersion.gitVersion; } catch { return 'unknown'; }
})();

const work = mkdtempSync(join(tmpdir(), 'gen-patch-podtypes-'));
let calls = 0;
function smp(original, patch) {
  const file = join(work, 'pod.json');
  writeFileSync(file, JSON.stringify(original));
  calls++;
  try {
    const out = execFileSync(kubectl, ['patch', '--local', '-f', file, '--type', 'strategic',
      '-p', JSON.stringify(patch), '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out);
  } catch (e) {
    return { error: String(e.stderr || e) };
  }
}

const sample = (kind, which) => ({
  [K.string]: `v${which}`, [K.any]: `v${which}`, [K.integer]: which, [K.number]: which,
  [K.boolean]: which === 1, [K.quantity]: `${which}`, [K.intOrString]: which,
}[kind]);

// A value whose every scalar field is sample(which), except `same` = sample(1).
function element(type, which, same) {
  const o = {};
  for (const f of table.get(type)) {
    if (f.kind === K.object || f.kind === K.list || f.kind === K.map) continue;
    o[f.name] = sample(f.kind, f.name === same ? 1 : which);
  }
  return o;
}

// Builds a Pod whose value at `path` is `leaf`. path: [{field, type, key?, keyKind?}]
// where a step with a key goes through the one element of a merging list.
function podWith(path, leaf) {
  const root = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
  let cur = root;
  path.forEach((step, i) => {
    const last = i === path.length - 1;
    let next;
    if (last) next = leaf;
    else if (step.key) next = { [step.key]: sample(step.keyKind, 1) };
    else next = {};
    if (step.key && !last) {
      cur[step.field] = [next];
    } else {
      cur[step.field] = next;
    }
    cur = next;
  });
  return root;
}
const patchWith = (path, leaf) => {
  const p = podWith(path, leaf);
  delete p.apiVersion; delete p.kind; delete p.metadata.name;
  if (Object.keys(p.metadata).length === 0) delete p.metadata;
  return p;
};
const at = (doc, path) => path.reduce((v, s, i) => {
  const x = v?.[s.field];
  return s.key && i < path.length - 1 ? x?.[0] : x;
}, doc);

const queue = [{ type: 'Pod', path: [] }];
const reached = new Set(['Pod']);
while (queue.length) {
  const { type, path } = queue.shift();
  for (const f of table.get(type)) {
    const here = [...path, { field: f.name }];
    if (f.kind === K.object) {
      if (!reached.has(f.ref)) { reached.add(f.ref); queue.push({ type: f.ref, path: here }); }
      continue;
    }
    if (f.kind !== K.list) continue;
    f.probed = true;
    const r = f.item === K.object
      ? smp(podWith(here, [element(f.ref, 1)]), patchWith(here, [element(f.ref, 2)]))
      : smp(podWith(here, [sample(f.item, 1)]), patchWith(here, [sample(f.item, 2)]));
    if (r.error && /unable to find api field/.test(r.error)) {
      f.unknown = true;
      console.error(`${type}.${f.name}: unknown to kubectl ${kubectlVersion}, written as replaced`);
      continue;
    }
    const list = r.error ? null : at(r, here);
    if (f.item !== K.object) {
      f.merge = Array.isArray(list) && list.length === 2;
      continue;
    }
    if (r.error && /merge key/.test(r.error)) {
      f.merge = true;
    } else if (Array.isArray(list) && list.length === 2) {
      f.merge = true;
    }
    if (!f.merge) continue;
    for (const g of table.get(f.ref)) {
      if ([K.object, K.list, K.map].includes(g.kind)) continue;
      const r2 = at(smp(podWith(here, [element(f.ref, 1)]), patchWith(here, [element(f.ref, 2, g.name)])), here);
      if (Array.isArray(r2) && r2.length === 1) { f.key = g.name; f.keyKind = g.kind; break; }
    }
    if (!f.key) throw new Error(`${type}.${f.name}: merging list without a probed merge key`);
    if (!reached.has(f.ref)) {
      reached.add(f.ref);
      queue.push({ type: f.ref, path: [...path, { field: f.name, key: f.key, keyKind: f.keyKind }] });
    }
  }
}
rmSync(work, { recursive: true, force: true });

// ---- C output -----------------------------------------------------------------

const names = [...table.keys()].sort();
const id = (n) => `T_${n}`;
const out = [];
const clientNodeVersion = require(join(modulesDir, '@kubernetes/client-node/package.json')).version;
const modelsVersion = require(join(modulesDir, 'kubernetes-models/package.json')).version;
out.push(`/* GENERATED by scripts/gen-patch-podtypes.mjs; do not edit.
 *
 * The Kubernetes core/v1 Pod and every type it contains: for each field its
 * JSON kind and, for lists, the strategic-merge-patch strategy and merge key.
 * Sources: @kubernetes/client-node ${clientNodeVersion} (fields and types),
 * kubernetes-models ${modelsVersion} (Quantity and IntOrString fields), kubectl
 * ${kubectlVersion} (patch strategies and merge keys, probed; ${calls} probes).
 *
 * Regenerate:
 *   d=$(mktemp -d) && (cd "$d" && npm install @kubernetes/client-node kubernetes-models)
 *   node scripts/gen-patch-podtypes.mjs "$d/node_modules" kubectl > core/patch/podtypes_data.inc
 *
 * Included by core/patch/podtypes.c only. */
`);
out.push('enum {');
names.forEach((n) => out.push(`  ${id(n)},`));
out.push('  T_COUNT_\n};\n');
const kindC = (k) => (k ? `LUNAR_PODTYPES_${k}` : 'LUNAR_PODTYPES_NONE');
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0); // byte order, as strcmp
for (const n of names) {
  const fields = [...table.get(n)].sort((a, b) => cmp(a.name, b.name));
  out.push(`static const lunar_podtype_field fields_${n}[] = {`);
  for (const f of fields) {
    const strategy = [];
    if (f.merge) strategy.push('LUNAR_PODTYPES_MERGE');
    if (RETAIN_KEYS.has(`${n}.${f.name}`)) strategy.push('LUNAR_PODTYPES_RETAIN_KEYS');
    let note = f.kind === K.list && !f.probed ? ' /* only inside a replaced list */' : '';
    if (f.unknown) note = ` /* newer than kubectl ${kubectlVersion}: replaced */`;
    out.push(`    {"${f.name}", ${kindC(f.kind)}, ${kindC(f.item)}, ${strategy.join(' | ') || '0'}, ` +
      `${f.key ? `"${f.key}"` : 'NULL'}, ${f.ref ? id(f.ref) : '-1'}},${note}`);
  }
  out.push('};\n');
}
out.push('static const lunar_podtype schema_types[T_COUNT_] = {');
for (const n of names) {
  out.push(`    [${id(n)}] = {"${n}", fields_${n}, sizeof fields_${n} / sizeof fields_${n}[0]},`);
}
out.push('};');
process.stdout.write(out.join('\n') + '\n');
