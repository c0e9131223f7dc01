// Validates Kubernetes objects against the Kubernetes OpenAPI schema (through
// the kubernetes-models package). Reads one JSON document per file argument
// (a Pod, a Secret, or a v1 List of them) and prints one line per object:
//   ok   examples/basic: Pod runner-x-project-1-concurrent-0-abcd1234
//   FAIL examples/basic: Pod ...: data/spec/containers/0/env must be array
// Exits 1 when any object is invalid or of an unknown kind.
import fs from "fs";
import { Pod, Secret, ConfigMap, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";

const kinds = { Pod, Secret, ConfigMap, ServiceAccount, Deployment, Role, RoleBinding };
let failed = 0;

function check(label, obj) {
  const Model = kinds[obj && obj.kind];
  const name = obj && obj.metadata && obj.metadata.name;
  if (!Model) {
    console.log(`FAIL ${label}: unknown kind ${obj && obj.kind}`);
    failed++;
    return;
  }
  try {
    new Model(obj).validate();
    console.log(`ok   ${label}: ${obj.kind} ${name}`);
  } catch (e) {
    console.log(`FAIL ${label}: ${obj.kind} ${name}: ${e.message}`);
    failed++;
  }
}

for (const file of process.argv.slice(2)) {
  const [path, label] = file.split("=");
  const doc = JSON.parse(fs.readFileSync(path, "utf8"));
  if (doc.kind === "List") {
    if (doc.apiVersion !== "v1" || !Array.isArray(doc.items)) {
      console.log(`FAIL ${label || path}: a List needs apiVersion v1 and items`);
      failed++;
      continue;
    }
    for (const item of doc.items) check(label || path, item);
  } else {
    check(label || path, doc);
  }
}
process.exit(failed ? 1 : 0);
