#include "util/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

static pcre2_code *compile(const char *pattern, lunar_error *err) {
  int code;
  PCRE2_SIZE offset;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &offset, NULL);
  if (!re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    lunar_error_set(err, LUNAR_EINVAL, "regular expression \"%s\" is not valid at offset %zu: %s", pattern,
                    (size_t)offset, (const char *)msg);
  }
  return re;
}

int lunar_regex_check(const char *pattern, lunar_error *err) {
  pcre2_code *re = compile(pattern, err);
  if (!re) return LUNAR_EINVAL;
  pcre2_code_free(re);
  return LUNAR_OK;
}

int lunar_regex_match(const char *pattern, const char *subject, lunar_error *err) {
  pcre2_code *re = compile(pattern, err);
  if (!re) return LUNAR_EINVAL;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  int rc = md ? pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL) : -1;
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  return rc >= 0;
}
