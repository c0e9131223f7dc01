#include "util/names.h"

#include <ctype.h>
#include <string.h>

static int label_char(char c) {
  return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static void trim(char *s, const char *chars) {
  size_t n = strlen(s), start = 0;
  while (start < n && strchr(chars, s[start])) start++;
  while (n > start && strchr(chars, s[n - 1])) n--;
  memmove(s, s + start, n - start);
  s[n - start] = '\0';
}

void lunar_names_label_value(const char *in, char out[LUNAR_NAMES_LABEL_MAX + 1]) {
  char buf[1024];
  size_t n = 0;
  for (; in[n] && n < sizeof buf - 1; n++) buf[n] = label_char(in[n]) ? in[n] : '_';
  buf[n] = '\0';
  trim(buf, "-_.");
  buf[LUNAR_NAMES_LABEL_MAX < strlen(buf) ? LUNAR_NAMES_LABEL_MAX : strlen(buf)] = '\0';
  trim(buf, "-_.");
  strcpy(out, buf);
}

void lunar_names_rfc1123(const char *in, char *out, size_t max) {
  size_t n = 0;
  for (; in[n] && n < max; n++) {
    char c = (char)tolower((unsigned char)in[n]);
    out[n] = (isalnum((unsigned char)c) || c == '-') ? c : '-';
  }
  out[n] = '\0';
  trim(out, "-");
}

static int lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static const char *label_problem(const char *s, size_t n) {
  if (n == 0) return "must not be empty";
  if (n > 63) return "must be no more than 63 characters";
  for (size_t i = 0; i < n; i++)
    if (!lower_alnum(s[i]) && s[i] != '-')
      return "must consist of lower case alphanumeric characters or '-'";
  if (!lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
    return "must start and end with an alphanumeric character";
  return NULL;
}

const char *lunar_names_dns_label_problem(const char *s) { return label_problem(s, strlen(s)); }

const char *lunar_names_dns_subdomain_problem(const char *s) {
  size_t n = strlen(s);
  if (n > 253) return "must be no more than 253 characters";
  const char *p = s;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    const char *why = label_problem(p, len);
    if (why) return why;
    if (!dot) return NULL;
    p = dot + 1;
  }
}
