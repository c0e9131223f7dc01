/* The GitLab job payload: JSON decoded as lunar does, checked and rendered to
 * a Secret and a Pod by lunar.render with a runner that has policies and
 * pod_spec patches of every type. A refused payload is fine (render returns
 * a message); a crash, a leak, a hang, or a Lua error that is not a message
 * (a field the payload check let through) is a finding. */
#include "fuzz.h"
#include "lua_common.h"

static lua_State *L;

static const char setup[] =
    "local lunar = require 'lunar'\n"
    "local render = require 'lunar.render'\n"
    "local runner = lunar.runner {\n"
    "  name = 'fuzz', token_file = '/nonexistent/token',\n"
    "  kubernetes = {\n"
    "    namespace = 'ci', image = 'alpine:3.20',\n"
    "    cpu_limit = '1', cpu_limit_overwrite_max_allowed = '4', memory_limit = '1Gi',\n"
    "    memory_limit_overwrite_max_allowed = '8Gi', service_cpu_limit = '500m',\n"
    "    namespace_overwrite_allowed = 'ci-.*', service_account_overwrite_allowed = '.*',\n"
    "    pod_labels_overwrite_allowed = '.*', pod_annotations_overwrite_allowed = '.*',\n"
    "    node_selector_overwrite_allowed = '.*', allowed_images = { '**' },\n"
    "    allowed_services = { '**' }, allowed_pull_policies = { 'always', 'if-not-present' },\n"
    "    pod_labels = { team = '$CI_PROJECT_NAMESPACE', job = '${CI_JOB_ID}' },\n"
    "    node_selector = function(job) return { arch = job.variables.ARCH or 'amd64' } end,\n"
    "    pull_policy = function(job, image)\n"
    "      return tostring(image.name):match('^registry%.') and 'if-not-present' or 'always'\n"
    "    end,\n"
    "    services = function(job, requested) return requested end,\n"
    "    pod_spec = {\n"
    "      { name = 'hostname', patch_type = 'merge', patch = 'hostname: ci' },\n"
    "      { name = 'env', patch_type = 'strategic',\n"
    "        patch = 'containers:\\n- name: build\\n  env:\\n  - name: FUZZ\\n    value: \"1\"\\n' },\n"
    "      { name = 'label', patch_type = 'json', patch = '[{\"op\":\"add\",\"path\":\"/dnsPolicy\",\"value\":\"ClusterFirst\"}]' },\n"
    "      function(job, pod) pod.metadata.labels.stage = tostring(job.job_info and job.job_info.stage); return pod end,\n"
    "    },\n"
    "  },\n"
    "}\n"
    "return function(text)\n"
    "  local payload = lunar.json.decode(text)\n"
    "  if type(payload) ~= 'table' then return end\n"
    "  local ok, e = pcall(render.render_objects, runner, payload)\n"
    "  if not ok and type(e) ~= 'table' then\n"
    "    error('the render raised a Lua error instead of a message: ' .. tostring(e), 0)\n"
    "  end\n"
    "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  L = fuzz_lua_state(setup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_call(L, data, size);
  return 0;
}
