#!/usr/bin/env bash
# `make demo`: renders the Pod lunar would create for a sample job (the
# postgres-service example: a runner with services and pull-policy policies),
# with the real lunar binary, then checks it against the Kubernetes schema.
# usage: demo.sh path/to/lunar
set -euo pipefail
lunar=${1:?usage: demo.sh path/to/lunar}
root=$(cd "$(dirname "$0")/.." && pwd)
example=$root/examples/postgres-service
echo "== lunar check $example/runner.lua"
"$lunar" check "$example/runner.lua"
echo
echo "== lunar render --format yaml $example/runner.lua $example/job.json"
"$lunar" render --format yaml "$example/runner.lua" "$example/job.json"
