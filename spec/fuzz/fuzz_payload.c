/* The GitLab job payload: JSON decoded as lunar does, checked and rendered to
 * a Secret and a Pod by lunar.render with a runner that has policies and
 * pod_spec patches of every type. A refused payload is fine (render returns
 * a message); a crash, a leak, a hang, or a Lua error that is not a message
 * (a field the payload check let through) is a finding. */
#include "fuzz.h"
#include "lua_common.h"

static lua_State *L;

static const char setup[] =
    "local LUNAR_SOURCE_DIR = '" LUNAR_SOURCE_DIR "'\n"
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
    "    allowed_services = { '**' },\n"
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
    /* Input that is not a JSON object drives type mutations of an example
     * payload instead: each pair of bytes walks down to a field and puts a
     * value of another kind there (what byte mutations of JSON text rarely
     * reach: a null, a table or a huge integer where a string belongs). */
    "local null = lunar.json.null\n"
    "local verbose = os.getenv('FUZZ_VERBOSE')\n"
    "local bases = {}\n"
    "for _, ex in ipairs { 'basic', 'postgres-service', 'pipeline', 'docker-in-docker' } do\n"
    "  local f = io.open(LUNAR_SOURCE_DIR .. '/examples/' .. ex .. '/job.json', 'rb')\n"
    "  if f then bases[#bases + 1] = f:read('a'); f:close() end\n"
    "end\n"
    "local values = { null, false, true, 0, -1, 1.5, 0/0, 1/0, math.maxinteger, math.mininteger,\n"
    "  '', 'x', '\\0', '$CI_JOB_TOKEN', '${A}$$', '../..', 'a\\nb', string.rep('a', 300), {}, { {} },\n"
    "  { 'x' }, { key = 'K', value = 'V' }, { name = '' }, { [1] = 1, k = 2 } }\n"
    "local function mutate(t, text)\n"
    "  local n = 1 + (text:byte(1) or 0) % 3\n"
    "  for i = 2, math.min(#text - 1, 2 * n), 2 do\n"
    "    local a, b = text:byte(i, i + 1)\n"
    "    local node, key = t, nil\n"
    "    for depth = 0, 5 do\n"
    "      local keys = {}\n"
    "      for k in pairs(node) do keys[#keys + 1] = k end\n"
    "      table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)\n"
    "      if #keys == 0 then break end\n"
    "      key = keys[1 + (a * 31 + b + depth * 7) % #keys]\n"
    "      if type(node[key]) ~= 'table' or (b >> depth) & 1 == 1 then break end\n"
    "      node = node[key]\n"
    "    end\n"
    "    if key ~= nil then\n"
    "      if b % 16 == 15 then node[key] = nil else node[key] = values[1 + b % #values] end\n"
    "    end\n"
    "  end\n"
    "  return t\n"
    "end\n"
    "return function(text)\n"
    "  local payload = lunar.json.decode(text)\n"
    "  if type(payload) ~= 'table' then\n"
    "    if #bases == 0 or #text < 1 then return end\n"
    "    payload = mutate(lunar.json.decode(bases[1 + text:byte(1) % #bases]), text:sub(2))\n"
    "  end\n"
    "  local ok, e = pcall(render.render_objects, runner, payload)\n"
    "  if verbose then io.stderr:write(ok and 'rendered\\n' or tostring(type(e) == 'table' and e.message or e) .. '\\n') end\n"
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
