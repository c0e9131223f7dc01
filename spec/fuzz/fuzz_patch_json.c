/* RFC 6902 JSON patches (`patch_type = "json"`): pointers, copy/move growth. */
#include "patch/json.h"
#include "patch_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_patch(data, size, lunar_patch_json, "json");
}
