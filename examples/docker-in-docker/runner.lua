-- Docker-in-docker: the docker:dind service needs a privileged container, and
-- the build reaches it over localhost through the `docker` alias
-- (DOCKER_HOST=tcp://docker:2375 in the job). The dind data dir lives in a
-- memory-backed emptyDir so that image layers do not fill the node's disk.
local lunar = require "lunar"

return lunar.runner {
  name = "k8s-dind",
  url = "https://gitlab.example.com",
  token_file = "/var/run/secrets/lunar/token",
  kubernetes = {
    namespace = "ci-docker",
    privileged = true,
    image = "docker:27",
    allowed_images = { "docker:*", "registry.example.com/**" },
    allowed_services = { "docker:*-dind" },
    service_cpu_request = "500m",
    service_memory_limit = "4Gi",
    volumes = {
      empty_dir = {
        { name = "dind-storage", mount_path = "/var/lib/docker", size_limit = "20Gi" },
      },
    },
  },
}
