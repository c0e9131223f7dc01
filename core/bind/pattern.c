/* Budgeted string patterns for per-job code.
 *
 * A Lua pattern match is one C call: the count hook never fires inside it,
 * and a pattern such as ".-.-.-b" on a long subject backtracks for hours.
 * Inside a sandboxed call, string.find/match/gmatch/gsub first walk the match
 * with a matcher of the same semantics that only counts its steps, and charge
 * them to the call's instruction budget; when the walk would exceed what is
 * left, the call is stopped like any other budget overrun. The real function
 * then runs (its cost is at most the counted one). Outside a sandboxed call
 * they are the originals. */
#include "bind/pattern.h"

#include <lauxlib.h>
#include <string.h>

#include "bind/call.h"

#define MAX_CAPTURES 32
#define MAX_DEPTH 200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

typedef struct walk {
  const char *src_init, *src_end, *p_end;
  int level, depth;
  struct { const char *init; ptrdiff_t len; } capture[MAX_CAPTURES];
  long long steps, limit;
  int stop; /* over the limit, or a malformed pattern (the original reports it) */
} walk;

static int charge(walk *w) {
  if (++w->steps > w->limit) w->stop = 1;
  return !w->stop;
}

/* The end of the single-character class starting at p, or NULL (malformed). */
static const char *class_end(walk *w, const char *p) {
  if (p >= w->p_end) return NULL;
  char c = *p++;
  if (c == '%') return p < w->p_end ? p + 1 : NULL;
  if (c == '[') {
    if (p < w->p_end && *p == '^') p++;
    do {
      if (p >= w->p_end) return NULL;
      c = *p++;
      if (c == '%') {
        if (p >= w->p_end) return NULL;
        p++;
      }
    } while (p >= w->p_end || *p != ']');
    return p + 1;
  }
  return p;
}

static int class_match(int c, int cl) {
  int r;
  switch (cl | 0x20) {
  case 'a': r = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); break;
  case 'c': r = c < 32 || c == 127; break;
  case 'd': r = c >= '0' && c <= '9'; break;
  case 'g': r = c > 32 && c < 127; break;
  case 'l': r = c >= 'a' && c <= 'z'; break;
  case 'p': r = (c > 32 && c < 48) || (c > 57 && c < 65) || (c > 90 && c < 97) || (c > 122 && c < 127); break;
  case 's': r = c == ' ' || (c >= '\t' && c <= '\r'); break;
  case 'u': r = c >= 'A' && c <= 'Z'; break;
  case 'w': r = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); break;
  case 'x': r = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); break;
  default: return cl == c;
  }
  if (cl >= 'A' && cl <= 'Z') r = !r;
  return r;
}

/* [set]: p at '[', ec at its ']' */
static int set_match(int c, const char *p, const char *ec) {
  int yes = 1;
  if (*++p == '^') {
    yes = 0;
    p++;
  }
  while (p < ec) {
    if (*p == '%') {
      p++;
      if (class_match(c, (unsigned char)*p)) return yes;
      p++;
    } else if (p + 2 < ec && p[1] == '-') {
      if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return yes;
      p += 3;
    } else {
      if ((unsigned char)*p == c) return yes;
      p++;
    }
  }
  return !yes;
}

static int single(walk *w, const char *s, const char *p, const char *ep) {
  if (s >= w->src_end) return 0;
  int c = (unsigned char)*s;
  switch (*p) {
  case '.': return 1;
  case '%': return class_match(c, (unsigned char)p[1]);
  case '[': return set_match(c, p, ep - 1);
  default: return (unsigned char)*p == c;
  }
}

static const char *match(walk *w, const char *s, const char *p);

static const char *max_expand(walk *w, const char *s, const char *p, const char *ep) {
  ptrdiff_t i = 0;
  while (single(w, s + i, p, ep)) {
    if (!charge(w)) return NULL;
    i++;
  }
  for (; i >= 0 && !w->stop; i--) {
    const char *r = match(w, s + i, ep + 1);
    if (r) return r;
  }
  return NULL;
}

static const char *min_expand(walk *w, const char *s, const char *p, const char *ep) {
  for (;;) {
    const char *r = match(w, s, ep + 1);
    if (r || w->stop) return r;
    if (!single(w, s, p, ep)) return NULL;
    s++;
  }
}

static const char *capture_group(walk *w, const char *s, const char *p, ptrdiff_t what) {
  if (w->level >= MAX_CAPTURES) {
    w->stop = 1;
    return NULL;
  }
  w->capture[w->level].init = s;
  w->capture[w->level].len = what;
  w->level++;
  const char *r = match(w, s, p);
  if (!r) w->level--;
  return r;
}

static const char *close_group(walk *w, const char *s, const char *p) {
  int l = w->level - 1;
  while (l >= 0 && w->capture[l].len != CAP_UNFINISHED) l--;
  if (l < 0) {
    w->stop = 1;
    return NULL;
  }
  w->capture[l].len = s - w->capture[l].init;
  const char *r = match(w, s, p);
  if (!r) w->capture[l].len = CAP_UNFINISHED;
  return r;
}

static const char *balance(walk *w, const char *s, const char *p) {
  if (p + 1 >= w->p_end) {
    w->stop = 1;
    return NULL;
  }
  if (s >= w->src_end || *s != *p) return NULL;
  int open = *p, close = p[1], n = 1;
  while (++s < w->src_end) {
    if (!charge(w)) return NULL;
    if (*s == close) {
      if (--n == 0) return s + 1;
    } else if (*s == open) {
      n++;
    }
  }
  return NULL;
}

static const char *match(walk *w, const char *s, const char *p) {
  if (!charge(w)) return NULL;
  if (++w->depth > MAX_DEPTH) {
    w->stop = 1;
    return NULL;
  }
  const char *r = NULL;
  while (!w->stop) {
    if (p == w->p_end) {
      r = s;
      break;
    }
    if (*p == '(') {
      r = p + 1 < w->p_end && p[1] == ')' ? capture_group(w, s, p + 2, CAP_POSITION)
                                           : capture_group(w, s, p + 1, CAP_UNFINISHED);
      break;
    }
    if (*p == ')') {
      r = close_group(w, s, p + 1);
      break;
    }
    if (*p == '$' && p + 1 == w->p_end) {
      r = s == w->src_end ? s : NULL;
      break;
    }
    if (*p == '%' && p + 1 < w->p_end) {
      char n = p[1];
      if (n == 'b') {
        s = balance(w, s, p + 2);
        if (!s) break;
        p += 4;
        continue;
      }
      if (n == 'f') {
        p += 2;
        if (p >= w->p_end || *p != '[') {
          w->stop = 1;
          break;
        }
        const char *ep = class_end(w, p);
        if (!ep) {
          w->stop = 1;
          break;
        }
        int prev = s == w->src_init ? 0 : (unsigned char)s[-1];
        int cur = s < w->src_end ? (unsigned char)*s : 0;
        if (set_match(prev, p, ep - 1) || !set_match(cur, p, ep - 1)) break;
        p = ep;
        continue;
      }
      if (n >= '0' && n <= '9') {
        int l = n - '1';
        if (l < 0 || l >= w->level || w->capture[l].len == CAP_UNFINISHED) {
          w->stop = 1;
          break;
        }
        size_t len = w->capture[l].len == CAP_POSITION ? 0 : (size_t)w->capture[l].len;
        if ((size_t)(w->src_end - s) < len || memcmp(w->capture[l].init, s, len) != 0) break;
        s += len;
        p += 2;
        continue;
      }
    }
    const char *ep = class_end(w, p);
    if (!ep) {
      w->stop = 1;
      break;
    }
    char q = ep < w->p_end ? *ep : '\0';
    if (q == '?') {
      if (single(w, s, p, ep)) {
        r = match(w, s + 1, ep + 1);
        if (r || w->stop) break;
      }
      p = ep + 1;
      continue;
    }
    if (q == '+') {
      r = single(w, s, p, ep) ? max_expand(w, s + 1, p, ep) : NULL;
      break;
    }
    if (q == '*') {
      r = max_expand(w, s, p, ep);
      break;
    }
    if (q == '-') {
      r = min_expand(w, s, p, ep);
      break;
    }
    if (!single(w, s, p, ep)) break;
    s++;
    p = ep;
  }
  w->depth--;
  return r;
}

/* Walks the matches of pattern p in subject s from `init` (0-based) the way
 * find/match (all = 0) or gmatch/gsub (all = 1, at most max_n matches) do.
 * Returns the steps taken, or -1 when over `limit`. */
static long long walk_matches(const char *s, size_t ls, const char *p, size_t lp, size_t init, int all,
                              lua_Integer max_n, long long limit) {
  walk w;
  memset(&w, 0, sizeof w);
  w.src_init = s;
  w.src_end = s + ls;
  w.limit = limit;
  int anchor = lp > 0 && *p == '^';
  if (anchor) p++, lp--;
  w.p_end = p + lp;
  const char *src = s + init;
  lua_Integer n = 0;
  while (n < max_n && !w.stop) {
    w.level = 0;
    w.depth = 0;
    const char *e = match(&w, src, p);
    if (e) {
      n++;
      if (!all) break;
    }
    if (e && e > src) src = e;
    else if (src < w.src_end) src++;
    else break;
    if (anchor) break;
  }
  if (w.steps > limit) return -1;
  return w.steps;
}

static int has_specials(const char *p, size_t lp) {
  for (size_t i = 0; i < lp; i++)
    if (strchr("^$*+?.([%-", p[i])) return 1;
  return 0;
}

/* upvalues: 1 the original function, 2 its kind (0 find, 1 match, 2 gmatch, 3 gsub) */
static int metered(lua_State *L) {
  if (lunar_call_sandboxed(L) && lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    size_t ls, lp;
    const char *s = lua_tolstring(L, 1, &ls);
    const char *p = lua_tolstring(L, 2, &lp);
    int plain = kind == 0 && lua_toboolean(L, 4);
    if (!plain && has_specials(p, lp)) {
      lua_Integer init = kind == 3 ? 1 : luaL_optinteger(L, 3, 1);
      if (init < 0) init = (lua_Integer)ls + init + 1;
      if (init < 1) init = 1;
      if ((size_t)init > ls + 1) init = (lua_Integer)ls + 1;
      lua_Integer max_n = kind == 3 ? luaL_optinteger(L, 4, (lua_Integer)ls + 1) : (lua_Integer)ls + 1;
      long long left = lunar_call_left(L);
      long long used = walk_matches(s, ls, p, lp, (size_t)init - 1, kind >= 2, max_n, left);
      lunar_call_charge(L, used < 0 ? left + 1 : used);
    }
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

void lunar_pattern_install(lua_State *L) {
  static const char *const names[] = {"find", "match", "gmatch", "gsub", NULL};
  if (lua_getglobal(L, "string") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (int i = 0; names[i]; i++) {
    lua_getfield(L, -1, names[i]);
    if (lua_tocfunction(L, -1) == metered || !lua_isfunction(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushinteger(L, i);
    lua_pushcclosure(L, metered, 2);
    lua_setfield(L, -2, names[i]);
  }
  lua_pop(L, 1);
}
