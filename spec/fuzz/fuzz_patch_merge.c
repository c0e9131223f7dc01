/* RFC 7386 merge patches (`patch_type = "merge"`). */
#include "patch/merge.h"
#include "patch_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_patch(data, size, lunar_patch_merge, "merge");
}
