/* The job trace (trace/trace.h): masking across write boundaries, UTF-8
 * repair, the output limit, CRC-32, base offsets and release. */
#include <stdlib.h>

#include "check.h"
#include "trace/trace.h"
#include "util/crc32.h"

typedef struct setup {
  const char *const *masked;
  size_t n_masked;
  const char *const *prefixes;
  size_t n_prefixes;
  size_t limit;
} setup;

static lunar_trace *make(const setup *s) {
  lunar_trace_options o = {0};
  if (s) {
    o.masked = s->masked, o.n_masked = s->n_masked;
    o.token_prefixes = s->prefixes, o.n_token_prefixes = s->n_prefixes;
    o.limit = s->limit;
  }
  lunar_trace *t = NULL;
  lunar_error err;
  CHECK_INT(lunar_trace_new(&o, &t, &err), LUNAR_OK);
  return t;
}

/* The stored bytes as a NUL-terminated copy (caller frees). */
static char *stored(lunar_trace *t) {
  size_t n;
  const char *d = lunar_trace_data(t, 0, &n);
  char *s = malloc(n + 1);
  if (n) memcpy(s, d, n);
  s[n] = '\0';
  return s;
}

/* `in` written in pieces cut at `cuts` (ascending), then flushed. */
static char *through(const setup *s, const char *in, const size_t *cuts, size_t ncuts) {
  lunar_trace *t = make(s);
  size_t from = 0, n = strlen(in);
  for (size_t k = 0; k <= ncuts; k++) {
    size_t to = k < ncuts ? cuts[k] : n;
    CHECK_INT(lunar_trace_write(t, in + from, to - from), LUNAR_OK);
    from = to;
  }
  CHECK_INT(lunar_trace_flush(t), LUNAR_OK);
  char *out = stored(t);
  uint32_t crc = 0;
  CHECK_INT(lunar_trace_crc32(t, &crc), 0);
  CHECK_INT(crc, lunar_crc32_update(0, out, strlen(out)));
  CHECK_INT(lunar_trace_size(t), strlen(out));
  lunar_trace_free(t);
  return out;
}

/* Every single cut, every pair of cuts and one byte at a time give `want`. */
static void expect_any_split(const setup *s, const char *in, const char *want) {
  size_t n = strlen(in);
  char *got = through(s, in, NULL, 0);
  CHECK_STR(got, want);
  free(got);
  int bad = 0;
  for (size_t a = 0; a <= n && !bad; a++) {
    for (size_t b = a; b <= n && !bad; b++) {
      size_t cuts[2] = {a, b};
      got = through(s, in, cuts, 2);
      if (strcmp(got, want) != 0) {
        fprintf(stderr, "  cut at %zu and %zu: got %s\n", a, b, got);
        bad = 1;
      }
      free(got);
    }
  }
  CHECK(!bad);
  size_t *all = malloc(n * sizeof *all);
  for (size_t k = 0; k < n; k++) all[k] = k;
  got = through(s, in, all, n);
  CHECK_STR(got, want);
  free(got);
  free(all);
}

static void test_crc32_known_vectors(void) {
  CHECK_INT(lunar_crc32_update(0, "", 0), 0);
  CHECK_INT(lunar_crc32_update(0, "123456789", 9), 0xCBF43926u);
  CHECK_INT(lunar_crc32_update(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
  CHECK_INT(lunar_crc32_update(0, "a", 1), 0xE8B7BE43u);
  /* chained in pieces of every size gives the same */
  const char *s = "The quick brown fox jumps over the lazy dog";
  for (size_t k = 0; k <= 43; k++)
    CHECK_INT(lunar_crc32_update(lunar_crc32_update(0, s, k), s + k, 43 - k), 0x414FA339u);
}

static void test_masked_value_split_at_every_boundary(void) {
  const char *m[] = {"S3cr3t-Value!"};
  setup s = {m, 1, NULL, 0, 0};
  expect_any_split(&s, "user S3cr3t-Value! and S3cr3t-Value!S3cr3t-Value!\n",
                   "user [MASKED] and [MASKED][MASKED]\n");
  /* a near miss is shown as it was, also when the miss comes after a cut */
  expect_any_split(&s, "S3cr3t-ValuX S3cr3t", "S3cr3t-ValuX S3cr3t");
}

static void test_overlapping_and_nested_secrets(void) {
  const char *m[] = {"abcdef", "defghi", "abc", "zzzz"};
  setup s = {m, 4, NULL, 0, 0};
  /* overlapping occurrences hide their union: no tail of the second leaks */
  expect_any_split(&s, "x abcdefghi y", "x [MASKED] y");
  /* the longer of two values starting at the same byte wins */
  expect_any_split(&s, "abcdeX abc abcdef", "[MASKED]deX [MASKED] [MASKED]");
  /* a run of a repeating secret */
  expect_any_split(&s, "zzzzzzz!", "[MASKED]!");
  /* empty values are ignored */
  const char *e[] = {"", "pw"};
  setup s2 = {e, 2, NULL, 0, 0};
  expect_any_split(&s2, "a pw b", "a [MASKED] b");
}

static void test_token_prefixes(void) {
  expect_any_split(NULL, "t=glpat-abc_DEF.1=2-x end glcbt-9x_Qm2 gldt- .",
                   "t=glpat-[MASKED] end glcbt-[MASKED] gldt- .");
  expect_any_split(NULL, "cookie _gitlab_session=0123abcd;", "cookie _gitlab_session=[MASKED];");
  const char *p[] = {"myco_", "glpat-"};
  setup s = {NULL, 0, p, 2, 0};
  expect_any_split(&s, "key myco_ABC-1 glrt-zz", "key myco_[MASKED] glrt-[MASKED]");
}

static void test_at_most_15_distinct_prefixes(void) {
  const char *p[17] = {"p00-", "p01-", "p02-", "p03-", "p04-", "p05-", "p06-", "p07-", "p08-",
                       "p09-", "p10-", "p10-", "p11-", "p12-", "p13-", "p14-", "p15-"};
  setup s = {NULL, 0, p, 17, 0};
  /* the duplicate counts once: p00..p14 are the 15; p15- and the defaults are out */
  expect_any_split(&s, "p00-a p14-b p15-c glrt-d glpat-e",
                   "p00-[MASKED] p14-[MASKED] p15-c glrt-d glpat-[MASKED]");
}

static void test_sensitive_url_parameters(void) {
  expect_any_split(NULL, "GET /x?private_token=abc123&y=1 HTTP",
                   "GET /x?private_token=[MASKED]&y=1 HTTP");
  expect_any_split(NULL, "s3?X-Amz-Signature=de%2Fad&X-Amz-Credential=AK/1\n",
                   "s3?X-Amz-Signature=[MASKED]&X-Amz-Credential=[MASKED]\n");
  expect_any_split(NULL, "\"rss_token=q\" authenticity_token=#",
                   "\"rss_token=[MASKED]\" authenticity_token=#");
}

static void test_masked_count(void) {
  const char *m[] = {"hunter2"};
  setup s = {m, 1, NULL, 0, 0};
  lunar_trace *t = make(&s);
  lunar_trace_write(t, "pw hunter2 glpat-xyz\n", 21);
  lunar_trace_flush(t);
  CHECK_INT(lunar_trace_masked_count(t), 7 + 3);
  lunar_trace_free(t);
}

static void test_invalid_utf8_replaced_at_every_split(void) {
  const char *in = "a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80" "d\xff" "e\xc3(f\xe2\x82" "Ag"
                   "\xed\xa0\x80" "h\xf4\x90\x80\x80" "i\xe0\x80j\xc0\xafk\xf0\x9f\x98";
  /* what Python's decode("utf-8", "replace") gives: one U+FFFD per maximal
   * ill-formed subpart */
#define R "\xef\xbf\xbd"
  const char *want = "a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80" "d" R "e" R "(f" R "Ag" R R R
                     "h" R R R R "i" R R "j" R R "k" R;
#undef R
  expect_any_split(NULL, in, want);
}

static void test_held_back_bytes_wait_for_the_next_write_or_flush(void) {
  const char *m[] = {"secret"};
  setup s = {m, 1, NULL, 0, 0};
  lunar_trace *t = make(&s);
  lunar_trace_write(t, "ok sec", 6);
  CHECK_INT(lunar_trace_size(t), 3); /* "sec" may start the secret */
  lunar_trace_write(t, "\xe2\x82", 2);
  CHECK_INT(lunar_trace_size(t), 6); /* "sec" decided; the cut euro sign waits */
  lunar_trace_flush(t);
  char *out = stored(t);
  CHECK_STR(out, "ok sec\xef\xbf\xbd");
  free(out);
  lunar_trace_free(t);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_output_limit(void) {
  setup s = {NULL, 0, NULL, 0, 10};
  lunar_trace *t = make(&s);
  CHECK_INT(lunar_trace_write(t, "0123456789", 10), LUNAR_OK);
  CHECK_INT(lunar_trace_size(t), 10); /* exactly the limit: nothing cut */
  CHECK(!lunar_trace_truncated(t));
  CHECK_INT(lunar_trace_write(t, "abc", 3), LUNAR_OK);
  CHECK(lunar_trace_truncated(t));
  char *out = stored(t);
  CHECK(strncmp(out, "0123456789\n\033[33;1m", 17) == 0);
  CHECK(strstr(out, "limit of 10 bytes") != NULL);
  CHECK(strstr(out, "no more of its output is collected") != NULL);
  CHECK(strstr(out, "abc") == NULL);
  size_t size = lunar_trace_size(t);
  CHECK_INT(size, strlen(out));
  CHECK(out[size - 1] == '\n');
  lunar_trace_write(t, "more\n", 5);
  lunar_trace_printf(t, "runner line %d\n", 1);
  lunar_trace_flush(t);
  CHECK_INT(lunar_trace_size(t), size);
  free(out);
  out = stored(t);
  CHECK_INT(count(out, "exceeded"), 1);
  uint32_t crc;
  CHECK_INT(lunar_trace_crc32(t, &crc), 0);
  CHECK_INT(crc, lunar_crc32_update(0, out, size));
  free(out);
  lunar_trace_free(t);
}

static void test_output_limit_cuts_at_a_character_boundary(void) {
  setup s = {NULL, 0, NULL, 0, 10};
  lunar_trace *t = make(&s);
  lunar_trace_write(t, "012345678\xc3\xa9\n", 12); /* é would end at byte 11 */
  char *out = stored(t);
  CHECK(strncmp(out, "012345678\n\033[33;1m", 16) == 0);
  CHECK(lunar_trace_truncated(t));
  free(out);
  lunar_trace_free(t);
  /* a cut at a line end adds no blank line */
  t = make(&s);
  lunar_trace_write(t, "012345678\nZ", 11);
  out = stored(t);
  CHECK(strncmp(out, "012345678\n\033[33;1m", 16) == 0);
  free(out);
  lunar_trace_free(t);
}

static void test_default_limit(void) {
  lunar_trace *t = make(NULL);
  char *mb = malloc(1 << 20);
  memset(mb, '.', 1 << 20);
  for (int k = 0; k < 4; k++) lunar_trace_write(t, mb, 1 << 20);
  CHECK(!lunar_trace_truncated(t));
  CHECK_INT(lunar_trace_size(t), 4L << 20);
  lunar_trace_write(t, "y", 1);
  CHECK(lunar_trace_truncated(t));
  CHECK(lunar_trace_size(t) > (4L << 20) + 40);
  free(mb);
  lunar_trace_free(t);
}

static void test_base_offset_and_release(void) {
  lunar_trace_options o = {0};
  o.base = 100;
  lunar_trace *t = NULL;
  CHECK_INT(lunar_trace_new(&o, &t, NULL), LUNAR_OK);
  uint32_t crc;
  CHECK_INT(lunar_trace_crc32(t, &crc), -1); /* bytes before 100 never seen */
  lunar_trace_write(t, "hello world\n", 12);
  CHECK_INT(lunar_trace_size(t), 112);
  size_t n;
  CHECK(lunar_trace_data(t, 0, &n) == NULL);
  CHECK_INT(n, 0);
  const char *d = lunar_trace_data(t, 106, &n);
  CHECK_INT(n, 6);
  CHECK(d && memcmp(d, "world\n", 6) == 0);
  CHECK(lunar_trace_data(t, 113, &n) == NULL);
  lunar_trace_release(t, 106);
  CHECK(lunar_trace_data(t, 105, &n) == NULL);
  d = lunar_trace_data(t, 106, &n);
  CHECK(d && n == 6 && memcmp(d, "world\n", 6) == 0);
  lunar_trace_release(t, 112);
  d = lunar_trace_data(t, 112, &n);
  CHECK(d != NULL && n == 0);
  lunar_trace_write(t, "again", 5);
  d = lunar_trace_data(t, 112, &n);
  CHECK(d && n == 5 && memcmp(d, "again", 5) == 0);
  lunar_trace_free(t);

  /* with the CRC of the first bytes given, the CRC covers the whole log */
  const char *before = "0123456789";
  o.base = 10;
  o.base_crc_known = 1;
  o.base_crc = lunar_crc32_update(0, before, 10);
  CHECK_INT(lunar_trace_new(&o, &t, NULL), LUNAR_OK);
  lunar_trace_write(t, "abc", 3);
  CHECK_INT(lunar_trace_crc32(t, &crc), 0);
  CHECK_INT(crc, lunar_crc32_update(0, "0123456789abc", 13));
  lunar_trace_free(t);
}

static void test_release_keeps_later_bytes_across_growth(void) {
  lunar_trace *t = make(NULL);
  char line[100];
  size_t total = 0, released = 0;
  int ok = 1;
  for (int k = 0; k < 5000; k++) {
    int n = snprintf(line, sizeof line, "line %05d\n", k);
    lunar_trace_write(t, line, (size_t)n);
    total += (size_t)n;
    if (k % 7 == 0) {
      released = total - 11; /* keep the last line */
      lunar_trace_release(t, released);
    }
    size_t len;
    const char *d = lunar_trace_data(t, total - (size_t)n, &len);
    ok = ok && d && len == (size_t)n && memcmp(d, line, (size_t)n) == 0;
  }
  CHECK(ok);
  CHECK_INT(lunar_trace_size(t), total);
  lunar_trace_free(t);
}

int main(void) {
  RUN(test_crc32_known_vectors);
  RUN(test_masked_value_split_at_every_boundary);
  RUN(test_overlapping_and_nested_secrets);
  RUN(test_token_prefixes);
  RUN(test_at_most_15_distinct_prefixes);
  RUN(test_sensitive_url_parameters);
  RUN(test_masked_count);
  RUN(test_invalid_utf8_replaced_at_every_split);
  RUN(test_held_back_bytes_wait_for_the_next_write_or_flush);
  RUN(test_output_limit);
  RUN(test_output_limit_cuts_at_a_character_boundary);
  RUN(test_default_limit);
  RUN(test_base_offset_and_release);
  RUN(test_release_keeps_later_bytes_across_growth);
  return check_summary();
}
