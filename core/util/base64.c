#include "util/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

size_t lunar_base64_encode(const void *in, size_t n, char *out) {
  return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int lunar_base64_decode(const char *in, char **out, size_t *len, lunar_error *err) {
  size_t n = strlen(in);
  char *buf = malloc(n / 4 * 3 + 4);
  if (!buf) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
  unsigned acc = 0;
  int bits = 0;
  size_t o = 0;
  int pad = 0;
  for (const char *p = in; *p; p++) {
    int c = (unsigned char)*p, v;
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') { pad = 1; continue; }
    if (pad) goto bad;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else goto bad;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) goto bad; /* a lone trailing character */
  buf[o] = '\0';
  *out = buf;
  *len = o;
  return LUNAR_OK;
bad:
  free(buf);
  return lunar_error_set(err, LUNAR_EINVAL, "not valid base64");
}
