#include "kube/connection.h"

#include <stdlib.h>

void lunar_kube_config_free(lunar_kube_config *cfg) {
  if (!cfg) return;
  char *owned[] = {cfg->server,   cfg->ca_file, cfg->ca_data,    cfg->cert_file,
                   cfg->cert_data, cfg->key_file, cfg->key_data, cfg->token,
                   cfg->token_file, cfg->namespace, cfg->source};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
  free(cfg);
}
