/* kubeconfig files: two YAML documents merged as $KUBECONFIG merges them, and
 * a context name: doc FUZZ_SEP doc FUZZ_SEP context. Relative paths resolve
 * under a directory that does not exist, so nothing is read from disk. */
#include "fuzz.h"
#include "kube/kubeconfig.h"
#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *parts[3];
  size_t lens[3];
  if (fuzz_split(data, size, parts, lens, 3)) return 0;
  lunar_error err;
  json_t *docs[2] = {NULL, NULL};
  const char *files[2] = {"/nonexistent/fuzz/a/config", "/nonexistent/fuzz/b/config"};
  size_t n = 0;
  for (size_t i = 0; i < 2; i++) {
    json_t *d = NULL;
    if (lunar_yaml_parse(parts[i], lens[i], files[i], &d, &err) == LUNAR_OK && d) docs[n++] = d;
    else json_decref(d);
  }
  if (n) {
    lunar_kube_config *cfg = calloc(1, sizeof *cfg);
    if (cfg) {
      (void)lunar_kubeconfig_resolve(docs, files, n, parts[2], cfg, &err);
      lunar_kube_config_free(cfg);
    }
  }
  for (size_t i = 0; i < n; i++) json_decref(docs[i]);
  fuzz_free_parts(parts, 3);
  return 0;
}
