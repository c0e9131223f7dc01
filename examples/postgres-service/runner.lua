-- Integration tests with services: the job asks for postgres (alias db); the
-- runner adds a redis cache to every job, pins service resources, and only
-- lets images from Docker Hub's official library or the internal registry run.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-services",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "ci",
    allowed_pull_policies = { "if-not-present", "always" },
    pull_policy = function(job, image)
      -- internal images are immutable tags: never pull them twice
      return image.name:match("^registry%.example%.com/") and "if-not-present" or "always"
    end,
    services = function(job, requested)
      local list = {}
      for _, svc in ipairs(requested) do list[#list + 1] = svc end
      list[#list + 1] = { name = "redis:7-alpine", alias = "cache" }
      return list
    end,
    service_cpu_request = "100m",
    service_memory_limit = "512Mi",
    allowed_services = { "postgres:*", "redis:*", "registry.example.com/**" },
  },
}
