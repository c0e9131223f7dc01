/* A small stand-in for libFuzzer's main, built with gcc: what `make test` and
 * `make fuzz` run for every target of spec/fuzz/.
 *
 *   fuzz_<target> [options] CORPUS_DIR_OR_FILE...
 *     -seconds=N     mutate for N seconds after the replay (default 0)
 *     -runs=N        stop the mutation loop after N inputs (default: no limit,
 *                    or 0 when -seconds is not given either)
 *     -seed=N        seed of the mutation loop (default 1: runs are repeatable)
 *     -timeout=N     seconds one input may take (default 5)
 *     -max_len=N     longest input the mutations make (default 16384)
 *     -dict=FILE     dictionary in libFuzzer/AFL syntax (`"token"` or name="token")
 *     -artifact_prefix=P   where a failing input is written (P + "crash-<hash>")
 *     -save=DIR      write inputs that reached new code to DIR (for growing a corpus)
 *
 * It first replays every file of the corpus directories, then runs a seeded
 * mutation loop: bit flips, byte sets, inserts, deletions, copies within the
 * input, dictionary tokens, interesting numbers and splices between inputs.
 * When the core was built with -fsanitize-coverage=trace-pc (LUNAR_FUZZ_COVERAGE,
 * what `make fuzz` does) inputs that reach new edges join the pool, so the loop
 * is coverage-guided; without it the loop mutates the seeds blindly.
 *
 * A crash, a sanitizer report (ASan, UBSan with halt_on_error, a leak found by
 * LeakSanitizer after an input that allocated more than it freed) or an input
 * that runs longer than -timeout writes the input to a file, names the file on
 * stderr and exits non-zero.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Sanitizer runtime hooks, present only in sanitized builds. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *)) __attribute__((weak));
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* ---- coverage (gcc -fsanitize-coverage=trace-pc) ---------------------------- */

#define MAP_SIZE (1u << 16)
static uint8_t cov_map[MAP_SIZE];
static uintptr_t cov_prev;
static int cov_seen;

void __sanitizer_cov_trace_pc(void) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  uintptr_t h = (pc ^ (pc >> 16)) * 0x9E3779B1u;
  cov_map[(h ^ cov_prev) & (MAP_SIZE - 1)]++;
  cov_prev = h >> 1;
  cov_seen = 1;
}

/* Edges with hit-count buckets, as AFL does: a run is new when it reaches an
 * edge, or a count bucket of an edge, that no run before it reached. */
static uint8_t cov_virgin[MAP_SIZE];

static uint8_t bucket(uint8_t n) {
  if (n <= 3) return n;
  if (n <= 7) return 4;
  if (n <= 15) return 8;
  if (n <= 31) return 16;
  if (n <= 127) return 32;
  return 128;
}

static int cov_new(void) {
  int fresh = 0;
  for (size_t i = 0; i < MAP_SIZE; i++) {
    if (!cov_map[i]) continue;
    uint8_t b = bucket(cov_map[i]);
    if (!(cov_virgin[i] & b)) {
      cov_virgin[i] |= b;
      fresh = 1;
    }
  }
  return fresh;
}

static size_t cov_edges(void) {
  size_t n = 0;
  for (size_t i = 0; i < MAP_SIZE; i++) n += cov_virgin[i] != 0;
  return n;
}

/* ---- the input being run, for the failure handlers ------------------------- */

static const char *target = "fuzz";
static char artifact_prefix[512] = "./";
static const uint8_t *cur_data;
static size_t cur_len;
static int running;

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* Async-signal-safe: open/write only. */
static void put(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

static void save_failure(const char *kind) {
  static int saved;
  if (!running || saved) return;
  saved = 1;
  char path[700], hex[17];
  uint64_t h = fnv(cur_data, cur_len);
  for (int i = 15; i >= 0; i--, h >>= 4) hex[i] = "0123456789abcdef"[h & 15];
  hex[16] = '\0';
  size_t n = strlen(artifact_prefix);
  if (n > sizeof path - 64) n = sizeof path - 64;
  memcpy(path, artifact_prefix, n);
  path[n] = '\0';
  strcat(path, kind);
  strcat(path, "-");
  strcat(path, hex);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t off = 0;
    while (off < cur_len) {
      ssize_t w = write(fd, cur_data + off, cur_len - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    close(fd);
  }
  put("\n");
  put(target);
  put(": ");
  put(kind);
  put(" on an input; the input is saved as ");
  put(fd >= 0 ? path : "(could not write it)");
  put("\n  replay: ");
  put(target);
  put(" ");
  put(path);
  put("\n");
}

static void on_death(void) { save_failure("crash"); }

static void on_signal(int sig) {
  save_failure(sig == SIGALRM ? "timeout" : "crash");
  if (sig == SIGALRM) {
    put("the input ran longer than -timeout\n");
    _exit(70);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- leaks: count allocations during one input ---------------------------- */

static volatile long mallocs, frees;
static long leak_checks;
static void on_malloc(const volatile void *p, size_t n) {
  (void)p;
  (void)n;
  mallocs++;
}
static void on_free(const volatile void *p) {
  (void)p;
  frees++;
}

/* ---- inputs ----------------------------------------------------------------- */

typedef struct buf {
  uint8_t *p;
  size_t n;
} buf;

typedef struct pool {
  buf *items;
  size_t n, cap;
} pool;

static void pool_add(pool *pl, const uint8_t *p, size_t n) {
  if (pl->n == pl->cap) {
    pl->cap = pl->cap ? pl->cap * 2 : 64;
    pl->items = realloc(pl->items, pl->cap * sizeof *pl->items);
    if (!pl->items) abort();
  }
  buf *b = &pl->items[pl->n++];
  b->p = malloc(n ? n : 1);
  if (!b->p) abort();
  if (n) memcpy(b->p, p, n);
  b->n = n;
}

static int read_file(const char *path, buf *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 4096, n = 0;
  uint8_t *p = malloc(cap);
  size_t r;
  while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *q = realloc(p, cap *= 2);
      if (!q) free(p);
      p = q;
    }
  }
  fclose(f);
  if (!p) return -1;
  out->p = p;
  out->n = n;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order (so runs are repeatable); a file
 * given instead of a directory is that one input (replaying a failure). */
static void load_dir(const char *dir, pool *pl) {
  struct stat ds;
  buf one;
  if (stat(dir, &ds) == 0 && S_ISREG(ds.st_mode) && read_file(dir, &one) == 0) {
    pool_add(pl, one.p, one.n);
    free(one.p);
    return;
  }
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "%s: cannot open corpus %s: %s\n", target, dir, strerror(errno));
    exit(2);
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    buf b;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && read_file(path, &b) == 0) {
      pool_add(pl, b.p, b.n);
      free(b.p);
    }
    free(names[i]);
  }
  free(names);
}

/* ---- dictionary --------------------------------------------------------------- */

static const char *builtin_dict[] = {
    "$patch", "$patch: delete", "$patch: replace", "$retainKeys", "$setElementOrder/",
    "$deleteFromPrimitiveList/", "*a", "&a ", "<<: *a", "{{", "}}", "${", "$$", "$", "\\u0000",
    "\\ud800", "\\", "\"", "'", "\n", "\r\n", "\t", ": ", "- ", "---", "...", "!!str ", "!!binary ",
    "%YAML 1.1\n", "[", "]", "{", "}", ",", ":", "null", "true", "false", ".nan", ".inf", "-.inf",
    "0x", "0o", "1e", "e-", "Gi", "Mi", "Ki", "m", "**", "*", "?", "[^", "[!", "{a,b}", "(?i)",
    "%", "%b()", "%f[%w]", "%1", "()", ".-", ".*", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98",
    "glpat-", "private_token=", "[MASKED]", "\x1b[", "name", "op", "path", "value", "from", "add",
    "remove", "replace", "move", "copy", "test", "/-", "/0", "~1", "~0", "containers", "spec",
    "metadata", "image", "env", "volumes", "ports", "FUZZ_SEP", "\n--8<--\n",
};

static pool dict;

static int unhex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void load_dict(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: cannot open dictionary %s\n", target, path);
    exit(2);
  }
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char *q = strchr(line, '"');
    if (!q || line[0] == '#') continue;
    uint8_t tok[4096];
    size_t n = 0;
    for (char *p = q + 1; *p && *p != '"'; p++) {
      if (*p == '\\' && p[1] == 'x' && unhex(p[2]) >= 0 && unhex(p[3]) >= 0) {
        tok[n++] = (uint8_t)(unhex(p[2]) * 16 + unhex(p[3]));
        p += 3;
      } else if (*p == '\\' && p[1]) {
        p++;
        tok[n++] = (uint8_t)(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
      } else {
        tok[n++] = (uint8_t)*p;
      }
    }
    if (n) pool_add(&dict, tok, n);
  }
  fclose(f);
}

/* ---- mutations ------------------------------------------------------------------ */

static uint64_t rng_state = 1;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *numbers[] = {
    "0", "-1", "1", "-0", "255", "256", "65536", "2147483647", "2147483648", "-2147483649",
    "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "18446744073709551616", "1e308", "1e309", "-1e309", "1e-400", "0.1", "1.5", "999999999999999999999999999999",
    "1e18", "1e29", "1e30", "0.000000001", "1e-10",
};

static void insert(uint8_t *p, size_t *n, size_t max, size_t at, const uint8_t *src, size_t k) {
  if (*n + k > max) k = max - *n;
  memmove(p + at + k, p + at, *n - at);
  memcpy(p + at, src, k);
  *n += k;
}

static void mutate(uint8_t *p, size_t *n, size_t max, const pool *pl) {
  size_t rounds = 1 + below(6);
  for (size_t r = 0; r < rounds; r++) {
    size_t len = *n;
    switch (below(12)) {
    case 0: /* flip a bit */
      if (len) p[below(len)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: { /* set a byte to an interesting value */
      static const uint8_t vals[] = {0, 0xff, 0x7f, 0x80, '\n', '"', '\'', '{', '}', '[', ']',
                                     ':', ',', '\\', ' ', '-', '0', '9', '$', '%', '*', '&'};
      if (len) p[below(len)] = vals[below(sizeof vals)];
      break;
    }
    case 2: { /* insert random bytes */
      uint8_t tmp[8];
      size_t k = 1 + below(sizeof tmp);
      for (size_t i = 0; i < k; i++) tmp[i] = (uint8_t)rnd();
      insert(p, n, max, below(len + 1), tmp, k);
      break;
    }
    case 3: { /* delete a range */
      if (!len) break;
      size_t at = below(len), k = 1 + below(len - at < 16 ? len - at : 16);
      memmove(p + at, p + at + k, len - at - k);
      *n -= k;
      break;
    }
    case 4: { /* copy a range of the input elsewhere (grows repetitions) */
      if (!len) break;
      size_t from = below(len), k = 1 + below(len - from < 64 ? len - from : 64);
      uint8_t tmp[64];
      memcpy(tmp, p + from, k);
      insert(p, n, max, below(len + 1), tmp, k);
      break;
    }
    case 5:
    case 6: { /* a dictionary token */
      const buf *t;
      if (dict.n && below(2)) t = &dict.items[below(dict.n)];
      else {
        static buf b;
        b.p = (uint8_t *)builtin_dict[below(sizeof builtin_dict / sizeof *builtin_dict)];
        b.n = strlen((const char *)b.p);
        t = &b;
      }
      if (below(4) == 0 && len >= t->n) memcpy(p + below(len - t->n + 1), t->p, t->n);
      else insert(p, n, max, below(len + 1), t->p, t->n);
      break;
    }
    case 7: { /* an interesting number, over a digit run or inserted */
      const char *num = numbers[below(sizeof numbers / sizeof *numbers)];
      size_t k = strlen(num), at = below(len + 1);
      size_t end = at;
      while (end < len && p[end] >= '0' && p[end] <= '9') end++;
      if (end > at) {
        memmove(p + at, p + end, len - end);
        *n -= end - at;
      }
      insert(p, n, max, at, (const uint8_t *)num, k);
      break;
    }
    case 8: { /* splice: keep a prefix, take another input's suffix */
      if (!pl->n) break;
      const buf *o = &pl->items[below(pl->n)];
      size_t cut = below(len + 1), from = below(o->n + 1), k = o->n - from;
      if (cut + k > max) k = max - cut;
      memcpy(p + cut, o->p + from, k);
      *n = cut + k;
      break;
    }
    case 9: { /* insert a piece of another input */
      if (!pl->n) break;
      const buf *o = &pl->items[below(pl->n)];
      if (!o->n) break;
      size_t from = below(o->n), k = 1 + below(o->n - from);
      insert(p, n, max, below(len + 1), o->p + from, k);
      break;
    }
    case 10: { /* swap two bytes */
      if (len < 2) break;
      size_t a = below(len), b = below(len);
      uint8_t t = p[a];
      p[a] = p[b];
      p[b] = t;
      break;
    }
    default: /* add or subtract a small amount from a byte */
      if (len) p[below(len)] += (uint8_t)(below(35) - 17);
      break;
    }
  }
}

/* ---- running one input -------------------------------------------------------- */

static unsigned timeout_s = 5;

static void run_one(const uint8_t *p, size_t n) {
  /* a copy of exactly n bytes, so reading past the end is caught */
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) abort();
  memcpy(copy, p, n);
  cur_data = copy;
  cur_len = n;
  running = 1;
  memset(cov_map, 0, sizeof cov_map);
  cov_prev = 0;
  long m0 = mallocs, f0 = frees;
  alarm(timeout_s);
  LLVMFuzzerTestOneInput(copy, n);
  alarm(0);
  /* Allocated more than freed: see whether anything is unreachable now.
   * (Caches that stay reachable are not leaks and are not reported.) */
  if (__lsan_do_recoverable_leak_check && mallocs - m0 > frees - f0 &&
      (leak_checks++, __lsan_do_recoverable_leak_check())) {
    save_failure("leak");
    _exit(71);
  }
  running = 0;
  free(copy);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  target = base ? base + 1 : argv[0];
  double seconds = 0;
  long long runs = -1;
  size_t max_len = 16384;
  const char *save = NULL;
  unsigned long long seed = 1;
  pool corpus = {0};
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "-seconds=", 9) == 0) seconds = atof(a + 9);
    else if (strncmp(a, "-max_total_time=", 16) == 0) seconds = atof(a + 16);
    else if (strncmp(a, "-runs=", 6) == 0) runs = atoll(a + 6);
    else if (strncmp(a, "-seed=", 6) == 0) seed = strtoull(a + 6, NULL, 10);
    else if (strncmp(a, "-timeout=", 9) == 0) timeout_s = (unsigned)atoi(a + 9);
    else if (strncmp(a, "-max_len=", 9) == 0) max_len = (size_t)atol(a + 9);
    else if (strncmp(a, "-dict=", 6) == 0) load_dict(a + 6);
    else if (strncmp(a, "-artifact_prefix=", 17) == 0)
      snprintf(artifact_prefix, sizeof artifact_prefix, "%s", a + 17);
    else if (strncmp(a, "-save=", 6) == 0) save = a + 6;
    else if (a[0] == '-') {
      fprintf(stderr, "%s: unknown option %s\n", target, a);
      return 2;
    } else load_dir(a, &corpus);
  }
  if (timeout_s == 0) timeout_s = 5;
  rng_state = seed * 2 + 1;
  if (max_len < 16) max_len = 16;

  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(on_death);
  /* gcc links UBSan as a library of its own with its own copy of the hook */
  void *ubsan = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (ubsan) {
    void (*set)(void (*)(void)) = (void (*)(void (*)(void)))dlsym(ubsan, "__sanitizer_set_death_callback");
    if (set) set(on_death);
  }
  if (__sanitizer_install_malloc_and_free_hooks) __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
  signal(SIGALRM, on_signal);
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGABRT, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGPIPE, SIG_IGN);

  double t0 = now();
  size_t seeds = corpus.n;
  for (size_t i = 0; i < seeds; i++) {
    run_one(corpus.items[i].p, corpus.items[i].n);
    cov_new();
  }
  if (!seeds) run_one((const uint8_t *)"", 0);
  double t1 = now();
  fprintf(stderr, "%s: replayed %zu corpus inputs in %.2f s\n", target, seeds, t1 - t0);

  if (runs < 0) runs = seconds > 0 ? -1 : 0;
  uint8_t *work = malloc(max_len);
  if (!work) return 1;
  long long done = 0;
  size_t added = 0;
  double end = t1 + seconds;
  while (runs < 0 || done < runs) {
    if (seconds > 0 && (done & 15) == 0 && now() >= end) break;
    size_t n = 0;
    if (corpus.n) {
      const buf *b = &corpus.items[below(corpus.n)];
      n = b->n < max_len ? b->n : max_len;
      memcpy(work, b->p, n);
    }
    mutate(work, &n, max_len, &corpus);
    run_one(work, n);
    done++;
    if (cov_seen && cov_new() && corpus.n < 50000) {
      pool_add(&corpus, work, n);
      added++;
      if (save) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%016llx", save, (unsigned long long)fnv(work, n));
        FILE *f = fopen(path, "wb");
        if (f) {
          fwrite(work, 1, n, f);
          fclose(f);
        }
      }
    }
  }
  double t2 = now();
  fprintf(stderr, "%s: %lld mutated inputs in %.1f s (%.0f/s), seed %llu", target, done, t2 - t1,
          t2 > t1 ? (double)done / (t2 - t1) : 0.0, seed);
  if (cov_seen) fprintf(stderr, ", %zu edges, %zu inputs added", cov_edges(), added);
  if (leak_checks) fprintf(stderr, ", %ld leak checks", leak_checks);
  fprintf(stderr, "\n");
  free(work);
  for (size_t i = 0; i < corpus.n; i++) free(corpus.items[i].p);
  free(corpus.items);
  for (size_t i = 0; i < dict.n; i++) free(dict.items[i].p);
  free(dict.items);
  return 0;
}
