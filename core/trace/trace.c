#include "trace/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/crc32.h"

/* What a pattern hides:
 *   P_VALUE   the pattern itself (a masked variable's value);
 *   P_PARAM   what follows it, up to the end of a URL parameter's value
 *             (the name matches in any case: X-Amz-Signature=);
 *   P_PREFIX  the token characters [A-Za-z0-9_.=-] that follow it. */
enum { P_VALUE, P_PARAM, P_PREFIX };

typedef struct pat {
  char *s;
  size_t len;
  int kind;
} pat;

#define MASK "[MASKED]"
#define MASK_LEN (sizeof MASK - 1)
#define PREFIX_MAX 15

static const char *const sensitive_params[] = {
    "private_token=",   "authenticity_token=", "rss_token=",
    "x-amz-signature=", "x-amz-credential=",   "x-amz-security-token=",
};

/* Masked by default (GitLab Runner's FF_MASK_ALL_DEFAULT_TOKENS); glpat- is
 * always on and kept out of the 15-prefix cap. */
static const char *const default_prefixes[] = {
    "gloas-", "gldt-",   "glrt-",   "glcbt-",  "glrtr-",           "glptt-", "glft-",
    "glimt-", "glagent-", "glsoat-", "glffct-", "_gitlab_session=", "gltok-",
};

struct lunar_trace {
  size_t limit;
  pat *pats;
  size_t npats;
  unsigned char first[256];  /* some pattern may start with this byte */
  unsigned short *cand[256]; /* indexes of the patterns that start with it */
  unsigned short ncand[256];
  unsigned char vfirst[256]; /* some masked value may start with this byte */
  int oom;

  /* masking: bytes not decided yet, and the hiding state */
  char *pend;
  size_t plen, pcap;
  size_t cover;  /* bytes of a matched value still to swallow */
  int token;     /* 0, or P_PARAM/P_PREFIX: swallowing that kind's characters */
  int emitted;   /* "[MASKED]" written for the current hidden run */
  size_t masked; /* bytes hidden so far */

  /* UTF-8: an incomplete sequence carried to the next write */
  unsigned char seq[4];
  int seqn, need;
  unsigned char lo, hi; /* range of the next continuation byte */

  /* storage: buf[start, end) holds offsets [kept, size) */
  char *buf;
  size_t start, end, cap;
  size_t kept, size;
  uint32_t crc;
  int crc_known, truncated;
  char last;
};

/* ---- storage and the output limit ------------------------------------- */

static int append(lunar_trace *t, const char *p, size_t n) {
  if (n == 0) return 0;
  if (t->end + n > t->cap) {
    if (t->start > 0) { /* reuse released room first */
      memmove(t->buf, t->buf + t->start, t->end - t->start);
      t->end -= t->start;
      t->start = 0;
    }
    if (t->end + n > t->cap) {
      size_t cap = t->cap ? t->cap : 4096;
      while (t->end + n > cap) cap *= 2;
      char *nb = realloc(t->buf, cap);
      if (!nb) {
        t->oom = 1;
        return -1;
      }
      t->buf = nb;
      t->cap = cap;
    }
  }
  memcpy(t->buf + t->end, p, n);
  t->end += n;
  t->size += n;
  t->crc = lunar_crc32_update(t->crc, p, n);
  t->last = p[n - 1];
  return 0;
}

/* Valid UTF-8 in; stops at the limit with the notice. */
static void store(lunar_trace *t, const char *p, size_t n) {
  if (t->truncated || n == 0) return;
  if (t->size + n <= t->limit) {
    append(t, p, n);
    return;
  }
  size_t cut = t->size < t->limit ? t->limit - t->size : 0;
  while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80) cut--; /* whole characters only */
  append(t, p, cut);
  char notice[256];
  int k = snprintf(notice, sizeof notice,
                   "%s\033[33;1mJob's log exceeded the limit of %zu bytes: the job continues, "
                   "but no more of its output is collected.\033[0;m\n",
                   t->size > 0 && t->last != '\n' ? "\n" : "", t->limit);
  append(t, notice, (size_t)k);
  t->truncated = 1;
}

/* ---- UTF-8 repair -------------------------------------------------------- */

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

/* How many continuation bytes follow `b` and the range of the first one;
 * -1 for a byte that cannot start a character. */
static int lead(unsigned char b, unsigned char *lo, unsigned char *hi) {
  *lo = 0x80, *hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b == 0xE0) return *lo = 0xA0, 2;
  if (b == 0xED) return *hi = 0x9F, 2;
  if (b >= 0xE1 && b <= 0xEF) return 2;
  if (b == 0xF0) return *lo = 0x90, 3;
  if (b == 0xF4) return *hi = 0x8F, 3;
  if (b >= 0xF1 && b <= 0xF3) return 3;
  return -1;
}

/* Each maximal ill-formed subpart becomes one U+FFFD (Unicode's recommended
 * practice), so the result does not depend on how the bytes were split. */
static void utf8_feed(lunar_trace *t, const char *data, size_t n) {
  const unsigned char *p = (const unsigned char *)data;
  size_t i = 0;
  while (t->need && i < n) { /* finish the sequence begun by the last write */
    if (p[i] >= t->lo && p[i] <= t->hi) {
      t->seq[t->seqn++] = p[i++];
      t->lo = 0x80, t->hi = 0xBF;
      if (--t->need == 0) store(t, (const char *)t->seq, (size_t)t->seqn), t->seqn = 0;
    } else {
      store(t, REPLACEMENT, 3);
      t->need = t->seqn = 0;
    }
  }
  size_t run = i;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    unsigned char lo, hi;
    int need = lead(p[i], &lo, &hi);
    if (need < 0) {
      store(t, (const char *)p + run, i - run);
      store(t, REPLACEMENT, 3);
      run = ++i;
      continue;
    }
    size_t k = 1;
    int bad = 0;
    for (; k <= (size_t)need && i + k < n; k++) {
      unsigned char c = p[i + k];
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
        bad = 1;
        break;
      }
    }
    if (bad) {
      store(t, (const char *)p + run, i - run);
      store(t, REPLACEMENT, 3);
      i += k;
      run = i;
      continue;
    }
    if (k <= (size_t)need) { /* cut by the end of this write: carry it */
      store(t, (const char *)p + run, i - run);
      t->seqn = (int)(n - i);
      memcpy(t->seq, p + i, n - i);
      t->need = need - (t->seqn - 1);
      t->lo = t->seqn == 1 ? lo : 0x80;
      t->hi = t->seqn == 1 ? hi : 0xBF;
      run = i = n;
      break;
    }
    i += (size_t)need + 1;
  }
  store(t, (const char *)p + run, i - run);
}

static void utf8_flush(lunar_trace *t) {
  if (t->need) store(t, REPLACEMENT, 3);
  t->need = t->seqn = 0;
}

/* ---- masking --------------------------------------------------------------- */

static int token_char(int kind, unsigned char c) {
  if (kind == P_PREFIX)
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '=' || c == '-';
  /* a URL parameter's value runs to the next separator */
  return c > ' ' && c != 0x7f && !strchr("&#\"'<>", c);
}

static int same(const pat *q, const char *s, size_t n) {
  return q->kind == P_PARAM ? strncasecmp(s, q->s, n) == 0 : memcmp(s, q->s, n) == 0;
}

/* The longest pattern that matches whole at pend[i] (or NULL), and whether
 * one longer than both it and `min_len` might still match once more bytes
 * arrive (then the caller waits). */
static const pat *match(const lunar_trace *t, size_t i, int values_only, size_t min_len,
                        int *partial) {
  const pat *best = NULL;
  size_t avail = t->plen - i;
  unsigned char c = (unsigned char)t->pend[i];
  const unsigned short *cand = t->cand[c];
  for (size_t k = 0; k < t->ncand[c]; k++) {
    const pat *q = &t->pats[cand[k]];
    if ((values_only && q->kind != P_VALUE) || q->len > avail) continue;
    if ((!best || q->len > best->len) && same(q, t->pend + i, q->len)) best = q;
  }
  if (best && best->len > min_len) min_len = best->len;
  *partial = 0;
  for (size_t k = 0; k < t->ncand[c] && !*partial; k++) {
    const pat *q = &t->pats[cand[k]];
    if (values_only && q->kind != P_VALUE) continue;
    *partial = q->len > avail && q->len > min_len && same(q, t->pend + i, avail);
  }
  return best;
}

static void hide_one(lunar_trace *t) {
  if (!t->emitted) utf8_feed(t, MASK, MASK_LEN);
  t->emitted = 1;
  t->masked++;
}

/* Decides as many pending bytes as it can; `final` decides them all. */
static void mask_run(lunar_trace *t, int final) {
  size_t i = 0;
  int partial;
  while (i < t->plen) {
    unsigned char c = (unsigned char)t->pend[i];
    if (t->cover || t->token) {
      /* inside a hidden run: a masked value starting here may make it longer */
      if (t->vfirst[c]) {
        const pat *q = match(t, i, 1, t->cover, &partial);
        if (partial && !final) break;
        if (q && q->len > t->cover) t->cover = q->len;
      }
      if (t->cover) {
        hide_one(t);
        t->cover--;
        i++;
        if (!t->cover && !t->token) t->emitted = 0;
        continue;
      }
      if (token_char(t->token, c)) {
        hide_one(t);
        i++;
        continue;
      }
      t->token = 0;
      t->emitted = 0;
    }
    size_t j = i;
    while (j < t->plen && !t->first[(unsigned char)t->pend[j]]) j++;
    if (j > i) {
      utf8_feed(t, t->pend + i, j - i);
      i = j;
      continue;
    }
    const pat *q = match(t, i, 0, 0, &partial);
    if (partial && !final) break;
    if (!q) {
      utf8_feed(t, t->pend + i, 1);
      i++;
    } else if (q->kind == P_VALUE) {
      t->cover = q->len; /* the loop above writes [MASKED] and swallows it */
    } else {
      utf8_feed(t, t->pend + i, q->len); /* the prefix itself stays visible */
      i += q->len;
      t->token = q->kind;
      t->emitted = 0;
    }
  }
  if (i > 0 && i < t->plen) memmove(t->pend, t->pend + i, t->plen - i);
  t->plen -= i;
  if (final) {
    t->cover = 0;
    t->token = 0;
    t->emitted = 0;
  }
}

/* ---- patterns ---------------------------------------------------------------- */

static int add_pat(lunar_trace *t, const char *s, int kind, size_t *cap) {
  size_t len = s ? strlen(s) : 0;
  if (t->npats >= 65535) return 0; /* indexes are 16-bit; no job has that many */
  if (len == 0) return 0;
  for (size_t k = 0; k < t->npats; k++)
    if (t->pats[k].kind == kind && t->pats[k].len == len && memcmp(t->pats[k].s, s, len) == 0)
      return 0; /* distinct only */
  if (t->npats == *cap) {
    size_t ncap = *cap ? *cap * 2 : 32;
    pat *np = realloc(t->pats, ncap * sizeof *np);
    if (!np) return -1;
    t->pats = np;
    *cap = ncap;
  }
  char *copy = strdup(s);
  if (!copy) return -1;
  t->pats[t->npats++] = (pat){copy, len, kind};
  unsigned char b = (unsigned char)s[0];
  t->first[b] = 1;
  if (kind == P_VALUE) t->vfirst[b] = 1;
  if (kind == P_PARAM) {
    t->first[(unsigned char)(b >= 'a' && b <= 'z' ? b - 32 : b)] = 1;
    t->first[(unsigned char)(b >= 'A' && b <= 'Z' ? b + 32 : b)] = 1;
  }
  return 1;
}

static int add_patterns(lunar_trace *t, const lunar_trace_options *o) {
  size_t cap = 0;
  for (size_t k = 0; k < o->n_masked; k++)
    if (add_pat(t, o->masked[k], P_VALUE, &cap) < 0) return -1;
  for (size_t k = 0; k < sizeof sensitive_params / sizeof *sensitive_params; k++)
    if (add_pat(t, sensitive_params[k], P_PARAM, &cap) < 0) return -1;
  if (add_pat(t, "glpat-", P_PREFIX, &cap) < 0) return -1;
  int n = 0; /* the job's prefixes first, then the defaults: 15 distinct at most */
  for (size_t k = 0; k < o->n_token_prefixes && n < PREFIX_MAX; k++) {
    int r = add_pat(t, o->token_prefixes[k], P_PREFIX, &cap);
    if (r < 0) return -1;
    n += r;
  }
  for (size_t k = 0; k < sizeof default_prefixes / sizeof *default_prefixes && n < PREFIX_MAX; k++) {
    int r = add_pat(t, default_prefixes[k], P_PREFIX, &cap);
    if (r < 0) return -1;
    n += r;
  }
  return 0;
}

/* For each byte, the patterns that may start with it. */
static int index_patterns(lunar_trace *t) {
  for (size_t k = 0; k < t->npats; k++) {
    unsigned char b = (unsigned char)t->pats[k].s[0];
    for (int c = 0; c < 256; c++) {
      int starts = c == b || (t->pats[k].kind == P_PARAM && (c | 32) == (b | 32) &&
                              (b | 32) >= 'a' && (b | 32) <= 'z');
      if (!starts) continue;
      unsigned short *n = realloc(t->cand[c], (t->ncand[c] + 1u) * sizeof *n);
      if (!n) return -1;
      n[t->ncand[c]++] = (unsigned short)k;
      t->cand[c] = n;
    }
  }
  return 0;
}

/* ---- public --------------------------------------------------------------------- */

int lunar_trace_new(const lunar_trace_options *opt, lunar_trace **out, lunar_error *err) {
  static const lunar_trace_options none = {0};
  if (!opt) opt = &none;
  *out = NULL;
  lunar_trace *t = calloc(1, sizeof *t);
  if (!t) return lunar_error_set(err, LUNAR_ENOMEM, "job trace: out of memory");
  t->limit = opt->limit ? opt->limit : (size_t)LUNAR_TRACE_LIMIT_DEFAULT;
  t->kept = t->size = opt->base;
  t->crc_known = opt->base == 0 || opt->base_crc_known;
  t->crc = opt->base ? opt->base_crc : 0;
  t->truncated = opt->base > t->limit; /* the process before us wrote the notice */
  t->last = '\n';
  if (add_patterns(t, opt) != 0 || index_patterns(t) != 0) {
    lunar_trace_free(t);
    return lunar_error_set(err, LUNAR_ENOMEM, "job trace: out of memory for the masking patterns");
  }
  *out = t;
  return LUNAR_OK;
}

void lunar_trace_free(lunar_trace *t) {
  if (!t) return;
  for (size_t k = 0; k < t->npats; k++) free(t->pats[k].s);
  for (int c = 0; c < 256; c++) free(t->cand[c]);
  free(t->pats);
  free(t->pend);
  free(t->buf);
  free(t);
}

int lunar_trace_write(lunar_trace *t, const char *data, size_t len) {
  if (t->oom) return LUNAR_ENOMEM;
  if (t->truncated || len == 0) return LUNAR_OK;
  if (t->plen + len > t->pcap) {
    size_t cap = t->pcap ? t->pcap : 256;
    while (t->plen + len > cap) cap *= 2;
    char *np = realloc(t->pend, cap);
    if (!np) return LUNAR_ENOMEM;
    t->pend = np;
    t->pcap = cap;
  }
  memcpy(t->pend + t->plen, data, len);
  t->plen += len;
  mask_run(t, 0);
  return t->oom ? LUNAR_ENOMEM : LUNAR_OK;
}

int lunar_trace_printf(lunar_trace *t, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return LUNAR_EINVAL;
  if ((size_t)n < sizeof small) return lunar_trace_write(t, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big) return LUNAR_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int rc = lunar_trace_write(t, big, (size_t)n);
  free(big);
  return rc;
}

int lunar_trace_flush(lunar_trace *t) {
  if (t->oom) return LUNAR_ENOMEM;
  mask_run(t, 1);
  utf8_flush(t);
  return t->oom ? LUNAR_ENOMEM : LUNAR_OK;
}

size_t lunar_trace_size(const lunar_trace *t) { return t->size; }

const char *lunar_trace_data(const lunar_trace *t, size_t offset, size_t *len) {
  *len = 0;
  if (offset < t->kept || offset > t->size) return NULL;
  *len = t->size - offset;
  return t->buf ? t->buf + t->start + (offset - t->kept) : "";
}

void lunar_trace_release(lunar_trace *t, size_t offset) {
  if (offset > t->size) offset = t->size;
  if (offset <= t->kept) return;
  t->start += offset - t->kept;
  t->kept = offset;
  if (t->start == t->end) {
    t->start = t->end = 0;
  } else if (t->start > t->cap / 2) {
    memmove(t->buf, t->buf + t->start, t->end - t->start);
    t->end -= t->start;
    t->start = 0;
  }
  if (t->end == 0 && t->cap > 65536) { /* a burst is over: give the memory back */
    free(t->buf);
    t->buf = NULL;
    t->cap = 0;
  }
}

int lunar_trace_crc32(const lunar_trace *t, uint32_t *crc) {
  if (!t->crc_known) return -1;
  *crc = t->crc;
  return 0;
}

int lunar_trace_truncated(const lunar_trace *t) { return t->truncated; }

size_t lunar_trace_masked_count(const lunar_trace *t) { return t->masked; }
