/* Kubernetes resource quantities ("500m", "1.5Gi", "2e3"). */
#include "fuzz.h"
#include "util/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *parts[2];
  size_t lens[2];
  if (fuzz_split(data, size, parts, lens, 2)) return 0;
  lunar_quantity a, b;
  lunar_error err;
  int ra = lunar_quantity_parse(parts[0], &a, &err);
  int rb = lunar_quantity_parse(parts[1], &b, &err);
  if (ra == LUNAR_OK && rb == LUNAR_OK) {
    if (lunar_quantity_cmp(&a, &b) != -lunar_quantity_cmp(&b, &a) || lunar_quantity_cmp(&a, &a) != 0) {
      fprintf(stderr, "quantity order is not antisymmetric: %s vs %s\n", parts[0], parts[1]);
      abort();
    }
  }
  fuzz_free_parts(parts, 2);
  return 0;
}
