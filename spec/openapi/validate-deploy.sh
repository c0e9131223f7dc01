#!/usr/bin/env bash
# Builds deploy/ the way `kubectl apply -k deploy/` would (spec/openapi/kustomize.lua)
# and validates every object against the Kubernetes OpenAPI schema.
# usage: validate-deploy.sh path/to/lunar
set -euo pipefail
lunar=${1:?usage: validate-deploy.sh path/to/lunar}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -d "$here/node_modules/kubernetes-models" ]; then
  echo "the OpenAPI validator is not installed: run scripts/deps.sh (npm ci in spec/openapi)" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$lunar" lua "$here/kustomize.lua" "$root/deploy" > "$out"
node "$here/validate.mjs" "$out=deploy"
