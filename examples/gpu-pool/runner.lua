-- A GPU pool chosen per job by a Lua policy: jobs that set GPU_COUNT get
-- scheduled on the GPU node pool of the requested GPU_CLASS, tolerate its
-- taint, and get the GPUs as an extended resource.
local lunar = require "lunar"

local POOLS = { a100 = "gpu-a100", l4 = "gpu-l4" }

local function gpus(job)
  return tonumber(job.variables.GPU_COUNT or "0") or 0
end

return lunar.runner {
  name = "k8s-gpu",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "ml",
    node_selector = function(job)
      if gpus(job) == 0 then return { ["node-pool"] = "cpu" } end
      local pool = POOLS[job.variables.GPU_CLASS or "l4"]
      assert(pool, "unknown GPU_CLASS " .. tostring(job.variables.GPU_CLASS))
      return { ["node-pool"] = pool }
    end,
    node_tolerations = function(job)
      if gpus(job) == 0 then return {} end
      return { ["nvidia.com/gpu"] = "NoSchedule" }
    end,
    pod_spec = {
      function(job, pod)
        local n = gpus(job)
        if n > 0 then
          local build = pod.spec.containers[1]
          build.resources = build.resources or {}
          build.resources.limits = build.resources.limits or {}
          build.resources.limits["nvidia.com/gpu"] = tostring(n)
        end
        return pod
      end,
    },
  },
}
