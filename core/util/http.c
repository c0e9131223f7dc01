#include "util/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct buffer {
  char *data;
  size_t len, cap;
  int oom;
} buffer;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  buffer *b = ud;
  size_t add = size * n;
  if (b->len + add + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + add + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->oom = 1;
      return 0;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

int lunar_http_send(const lunar_http_request *req, long *status, char **body, size_t *body_len,
                    lunar_error *err) {
  *status = 0;
  *body = NULL;
  *body_len = 0;
  int rc = LUNAR_OK;
  buffer b = {0};
  struct curl_slist *headers = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL *h = curl_easy_init();
  if (!h) return lunar_error_set(err, LUNAR_ENOMEM, "out of memory (curl_easy_init)");

  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "GET");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "lunar/" LUNAR_VERSION);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (req->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
  if (req->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  if (req->content_type) {
    char line[256];
    snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
    struct curl_slist *l = curl_slist_append(headers, line);
    if (!l) {
      rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
      goto done;
    }
    headers = l;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  }

  CURLcode cc = curl_easy_perform(h);
  if (b.oom) {
    rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory reading the answer of %s", req->url);
    goto done;
  }
  if (cc != CURLE_OK) {
    const char *why = *errbuf ? errbuf : curl_easy_strerror(cc);
    const char *hint = "";
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
        cc == CURLE_SSL_CERTPROBLEM)
      hint = "the server's certificate is not trusted: ";
    else if (cc == CURLE_OPERATION_TIMEDOUT)
      hint = "no answer in time: ";
    else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
      hint = "cannot connect: ";
    rc = lunar_error_set(err, LUNAR_EIO, "%s %s: %s%s", req->method ? req->method : "GET",
                         req->url, hint, why);
    goto done;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  if (!b.data) {
    b.data = strdup("");
    if (!b.data) {
      rc = lunar_error_set(err, LUNAR_ENOMEM, "out of memory");
      goto done;
    }
  }
  *body = b.data;
  *body_len = b.len;
  b.data = NULL;

done:
  free(b.data);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return rc;
}
