#include "bind/call.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

/* Instructions are counted in steps of HOOK_STEP: the count hook fires every
 * HOOK_STEP VM instructions. Once a limit is hit it fires on every one. */
#define HOOK_STEP 10000

enum { ALIVE = 0, KILLED_STEPS, KILLED_TIME, KILLED_MEMORY };

/* The budget of the sandboxed call running on a state. One per lua_State
 * (main thread and coroutines share it), allocated with the state's original
 * allocator so that it outlives every Lua object, and reachable from the
 * registry (a light userdata) and from the allocator (its ud). */
typedef struct budget {
  lua_Alloc f; /* the allocator lunar's wraps */
  void *ud;
  size_t total;     /* live bytes of the state */
  size_t cap;       /* while limited: total may not grow beyond cap (0: no cap) */
  int refused;      /* an allocation was refused and not retried with success */
  size_t refused_size; /* its size (Lua retries it once, after a full collection) */
  int depth;        /* nesting of sandboxed calls */
  long long left;   /* instructions left */
  double deadline;  /* monotonic seconds */
  int killed;       /* ALIVE or why the running call must end */
  long long limit_steps; /* the limits of the outermost call, for messages */
  double limit_seconds;
  size_t limit_memory;
  char where[160];  /* where the running code was when it was stopped */
} budget;

static const char budget_key = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  budget *b = ud;
  size_t old = ptr ? osize : 0;
  if (nsize > old && b->cap && b->total + (nsize - old) > b->cap) {
    /* Lua answers most refusals with a full collection and one retry of the
     * same allocation: a second refusal of it means the live heap really is
     * over the limit. A refusal that is never retried with success (a string
     * buffer's, or one a pcall caught) stops the call at the next hook. */
    if (b->refused && b->refused_size == nsize && b->killed == ALIVE) b->killed = KILLED_MEMORY;
    b->refused = 1;
    b->refused_size = nsize;
    return NULL;
  }
  void *p = b->f(b->ud, ptr, osize, nsize);
  if (nsize == 0) {
    b->total -= old;
  } else if (p) {
    b->total = b->total - old + nsize;
    /* only Lua's own retry of the refused allocation clears the refusal: a
     * pcall that catches "not enough memory" does not */
    if (b->refused && nsize == b->refused_size) b->refused = 0;
  }
  return p;
}

static budget *get_budget(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key);
  budget *b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return b;
}

/* __gc of the sentinel: the state is closing; hand the original allocator
 * back and free the budget with it. */
static int budget_gc(lua_State *L) {
  budget **box = lua_touserdata(L, 1);
  budget *b = *box;
  if (!b) return 0;
  *box = NULL;
  lua_pushnil(L); /* nothing may find the budget from now on */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  lua_setallocf(L, b->f, b->ud);
  b->f(b->ud, b, sizeof *b, 0);
  return 0;
}

void lunar_call_install(lua_State *L) {
  if (get_budget(L)) return;
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  budget *b = f(ud, NULL, 0, sizeof *b);
  if (!b) luaL_error(L, "not enough memory");
  memset(b, 0, sizeof *b);
  b->f = f;
  b->ud = ud;
  b->total = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
  /* A sentinel whose finalizer runs when the state closes (stack: box) */
  budget **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  lua_newtable(L);
  lua_pushcfunction(L, budget_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  *box = b;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &box); /* any unique key keeps it alive */
  lua_pushlightuserdata(L, b);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  lua_setallocf(L, limited_alloc, b);
}

int lunar_call_sandboxed(lua_State *L) {
  budget *b = get_budget(L);
  return b && b->depth > 0;
}

static void note_where(lua_State *L, budget *b, lua_Debug *ar) {
  if (b->where[0]) return;
  if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
    snprintf(b->where, sizeof b->where, "%s:%d", ar->short_src, ar->currentline);
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  budget *b = get_budget(L);
  if (!b || b->depth == 0) { /* a coroutine armed by a call that has ended */
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  if (b->killed == ALIVE && b->refused) b->killed = KILLED_MEMORY;
  if (b->killed == ALIVE) {
    b->left -= lua_gethookcount(L);
    if (b->left <= 0) b->killed = KILLED_STEPS;
    else if (now() >= b->deadline) b->killed = KILLED_TIME;
  }
  if (b->killed == ALIVE) return;
  note_where(L, b, ar);
  /* From now on, every instruction raises: a pcall in the callee catches the
   * error only to be stopped again at its next instruction. */
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  lua_pushliteral(L, "stopped by lunar's sandbox limits");
  lua_error(L);
}

void lunar_call_arm(lua_State *L, lua_State *co) {
  budget *b = get_budget(L);
  if (!b || b->depth == 0) return;
  if (lua_gethook(co) != count_hook)
    lua_sethook(co, count_hook, LUA_MASKCOUNT, b->killed ? 1 : HOOK_STEP);
}

long long lunar_call_left(lua_State *L) {
  budget *b = get_budget(L);
  return b && b->depth > 0 ? (b->left > 0 ? b->left : 0) : (1LL << 62);
}

void lunar_call_charge(lua_State *L, long long steps) {
  budget *b = get_budget(L);
  if (!b || b->depth == 0) return;
  b->left -= steps;
  if (b->left > 0 || b->killed != ALIVE) return;
  b->killed = KILLED_STEPS;
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar)) note_where(L, b, &ar);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  luaL_error(L, "stopped by lunar's sandbox limits");
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Replaces the error on top of the stack with the limit that stopped the call. */
static void limit_message(lua_State *L, budget *b, int why) {
  lua_pop(L, 1);
  lua_pushstring(L, b->where);
  if (b->where[0]) lua_pushliteral(L, ": ");
  switch (why) {
  case KILLED_STEPS:
    lua_pushfstring(L, "instruction budget exhausted (%I instructions; an endless loop?)", (lua_Integer)b->limit_steps);
    break;
  case KILLED_TIME:
    lua_pushfstring(L, "wall-clock deadline exceeded (%f s)", b->limit_seconds);
    break;
  default:
    lua_pushfstring(L, "memory limit exceeded (the call may grow the heap by %d MiB)", (int)(b->limit_memory >> 20));
  }
  lua_concat(L, b->where[0] ? 3 : 2);
}

static int plain_call(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return rc == LUA_OK ? LUNAR_OK : LUNAR_EINVAL;
}

int lunar_call_with(lua_State *L, int nargs, int nresults, const lunar_call_limits *lim) {
  lunar_call_limits d = {0, 0, 0};
  if (!lim) lim = &d;
  budget *b = get_budget(L);
  if (!b) {
    lunar_call_install(L);
    b = get_budget(L);
  }
  if (lim->instructions < 0 && b->depth == 0) return plain_call(L, nargs, nresults);

  long long steps = lim->instructions > 0 ? lim->instructions : LUNAR_CALL_DEFAULT_BUDGET;
  double seconds = lim->seconds > 0 ? lim->seconds : LUNAR_CALL_DEFAULT_SECONDS;
  size_t memory = lim->memory > 0 ? lim->memory : LUNAR_CALL_DEFAULT_MEMORY;

  /* The outer call's limits, restored afterwards (nested calls shrink them). */
  long long outer_left = b->left;
  double outer_deadline = b->deadline;
  size_t outer_cap = b->cap;
  long long outer_steps = b->limit_steps;
  double outer_seconds = b->limit_seconds;
  size_t outer_memory = b->limit_memory;
  double t = now();
  long long left = steps;
  double deadline = t + seconds;
  size_t cap = b->total + memory;
  if (b->depth > 0) {
    if (outer_left < left) left = outer_left;
    if (outer_deadline < deadline) deadline = outer_deadline;
    if (outer_cap && outer_cap < cap) cap = outer_cap;
  } else {
    b->killed = ALIVE;
    b->where[0] = '\0';
  }
  /* for messages: what this call may use */
  b->limit_steps = left;
  b->limit_seconds = deadline - t;
  b->limit_memory = cap - b->total;
  b->left = left;
  b->deadline = deadline;
  b->cap = cap;
  b->refused = 0;
  b->depth++;

  int base = lua_gettop(L) - nargs; /* index of the function */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  lua_Hook old_hook = lua_gethook(L);
  int old_mask = lua_gethookmask(L), old_count = lua_gethookcount(L);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, b->killed ? 1 : HOOK_STEP);

  int rc = lua_pcall(L, nargs, nresults, base);

  b->depth--;
  long long used = left - b->left;
  if (rc != LUA_OK && b->killed == ALIVE && b->refused) b->killed = KILLED_MEMORY;
  int why = b->killed, stopped = b->killed; /* stopped: this call's message */
  if (b->depth > 0) {
    /* The outer call goes on unless the limit that was hit is its own too. */
    b->left = outer_left - used;
    b->deadline = outer_deadline;
    b->cap = outer_cap;
    if (why == KILLED_STEPS && b->left > 0) why = ALIVE, b->killed = ALIVE;
    if (why == KILLED_TIME && now() < outer_deadline) why = ALIVE, b->killed = ALIVE;
    if (why == KILLED_MEMORY && cap < outer_cap) why = ALIVE, b->killed = ALIVE;
    if (b->killed == ALIVE) b->where[0] = '\0', b->refused = 0;
    lua_sethook(L, old_hook, old_mask, b->killed ? 1 : old_count);
  } else {
    b->cap = 0;
    b->refused = 0;
    b->killed = ALIVE;
    lua_sethook(L, old_hook, old_mask, old_count);
  }
  if (rc == LUA_OK && stopped != ALIVE) {
    /* it returned (a tail call of a nested call) after its limit was hit:
     * still a failure, the limit is never swallowed */
    lua_settop(L, base);
    lua_pushnil(L);
    rc = LUA_ERRRUN;
  }
  if (rc != LUA_OK && stopped != ALIVE) limit_message(L, b, stopped);
  b->limit_steps = outer_steps;
  b->limit_seconds = outer_seconds;
  b->limit_memory = outer_memory;
  if (b->depth == 0) b->where[0] = '\0';
  lua_remove(L, base); /* the traceback handler */
  return rc == LUA_OK ? LUNAR_OK : LUNAR_EINVAL;
}

int lunar_call(lua_State *L, int nargs, int nresults, long budget) {
  lunar_call_limits lim = {budget, 0, 0};
  return lunar_call_with(L, nargs, nresults, &lim);
}

static double opt_number_field(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  int isnum;
  double v = lua_tonumberx(L, -1, &isnum);
  if (!isnum && !lua_isnil(L, -1)) luaL_error(L, "lunar.call: limits.%s must be a number", name);
  lua_pop(L, 1);
  return isnum && v > 0 ? v : 0;
}

int lunar_bind_call(lua_State *L) {
  lunar_call_limits lim = {0, 0, 0};
  if (lua_istable(L, 1)) {
    double n = opt_number_field(L, 1, "instructions");
    lim.instructions = n >= 9e18 ? 0 : (long)n;
    lim.seconds = opt_number_field(L, 1, "seconds");
    double m = opt_number_field(L, 1, "memory");
    lim.memory = m >= 9e18 ? 0 : (size_t)m;
  } else {
    lim.instructions = (long)luaL_optinteger(L, 1, 0);
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  lua_remove(L, 1); /* stack: fn args... */
  if (lunar_call_with(L, nargs, LUA_MULTRET, &lim) != LUNAR_OK) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
}

int lunar_bind_sandboxed(lua_State *L) {
  lua_pushboolean(L, lunar_call_sandboxed(L));
  return 1;
}
