/*
 * t_lua.c - Lua: a step written as a Lua 5.4 function.
 *
 * The script (a file, or inline source) is loaded once per instance - one
 * Lua state per step per worker - and its entry function (default
 * `transform`) is called for every record with the record as a table:
 *
 *   { topic = "orders", partition = 3, offset = 42, timestamp = 1700000000000,
 *     key = <decoded key>, value = <decoded value>,
 *     headers = { {name = "trace", value = "abc"}, ... } }
 *
 * It returns the record (changed or not), nil to drop it, or a list of
 * record tables (1->N: each may set its own topic, key, value, headers and
 * timestamp; transform.h, "Splitting"). A field that is absent (nil) in a
 * returned record keeps the input's value; smt.null is JSON null. Objects
 * become tables with string keys, arrays sequences marked with smt.array's
 * metatable; unchanged parts of the value leave with their exact bytes, and
 * a value the script did not change is not re-encoded at all. The full
 * rules are in docs/lua.md.
 *
 *   transforms:
 *     - type: lua
 *       script: scripts/enrich.lua      # or source: "function transform(r) ..."
 *       function: transform
 *       instruction.limit: 1000000
 *       memory.limit: 16MiB
 *
 * Sandbox: only the base (without dofile, loadfile, print, warn; load
 * reads text only; collectgarbage answers "count" only; setmetatable
 * refuses __gc), string (without string.dump), table, math and utf8
 * libraries; no io, os, package, debug or coroutine. Every record runs
 * under an instruction budget (a count hook that keeps raising until the
 * call has unwound, so pcall cannot swallow it) and the state under a
 * memory cap (a capped lua_Alloc: hitting it is Lua's "not enough memory",
 * which fails that record only). A runtime error, the budget or the cap
 * fails the record at stage TRANSFORMATION with script:line in the
 * message; the state is then garbage-collected, and re-created from the
 * script when it stays above half its memory limit or the error handler
 * itself failed. Things that run outside the budget are closed: no
 * finalizers (__gc), string.rep and table.move check their size first.
 *
 * Differences from Kafka Connect: not a Connect transform (Connect has no
 * scripting SMT); the closest is a custom Java SMT.
 */
#include "transform.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LUAT_MAX_DEPTH 100  /* nesting of values, both ways */
#define LUAT_MAX_SCRIPT (16u << 20)

struct luat_conf {
    char   *script;
    char   *source;
    char   *function;
    int64_t instruction_limit;
    int64_t memory_limit;
};

struct luat_call;

/* One instance's Lua state and what the C side needs to run it. Reached
 * from Lua callbacks through the state's extra space. */
struct luat_st {
    lua_State             *L;
    const struct luat_conf *conf;
    char                  *code; /* the script's text, kept to re-create L */
    size_t                 code_len;
    char                   chunkname[128];
    size_t                 mem, limit;   /* allocator accounting */
    int                    in_record;    /* a record is running */
    int                    over_budget;  /* the hook fired for this call */
    int                    have_emsg;    /* the message handler ran */
    struct luat_call       *call;         /* the record being run, or NULL */
    int                    fn_ref, run_ref, mt_ref, arr_ref, obj_ref, cur_ref;
    int                    lazy_ref;     /* metatable of lazy objects */
    struct luat_lazy       *lazy;         /* this record's lazy objects */
    uint32_t               nlazy, lazycap, gen;
    char                   where[96];    /* position of a refused allocation */
    char                   budget_msg[160];
    char                   emsg[256];    /* formatted by the message handler */
};

/* A lazy object: a table standing for an OBJECT node whose members are
 * pushed on first read. The table holds (gen << 32 | index) under the key
 * LUAT_LAZY; the entry is valid only during the record of that generation,
 * so a table kept from an earlier record is a plain table. bits: members
 * read or assigned (a member with its bit set and no raw value was
 * deleted). Objects of more than 64 members are pushed whole instead. */
struct luat_lazy {
    uint32_t        gen;
    uint64_t        bits;
    int             extra; /* may hold members the input did not have */
    struct smt_val *v;
};

/* One record's run. */
struct luat_call {
    struct luat_st     *st;
    lua_State         *L;
    struct smt_record *rec;      /* the chain's record; changed on success */
    struct smt_record  base;     /* rec as the script saw it */
    unsigned           touched;  /* LUA_F_*: lazy fields filled or assigned */
    int                verdict;  /* result: SMT_PASS or SMT_DROP */
    int                decode_failed;
    struct smt_err     derr;     /* a key/value that did not decode */
    /* where a conversion is, for messages: formatted only on error */
    struct luat_frame {
        const char *k; /* member name (a live Lua string), or NULL */
        size_t      kl;
        lua_Integer i; /* array index when k is NULL */
    } frames[LUAT_MAX_DEPTH + 2];
    int                nframes;
};

#define LUAT_F_KEY 0x01
#define LUAT_F_VALUE 0x02
#define LUAT_F_HEADERS 0x04

/* Upvalues of the runner and of the record's __index: interned key
 * strings, so the hot path never hashes a field name. */
enum {
    K_TOPIC = 1,
    K_PARTITION,
    K_OFFSET,
    K_TIMESTAMP,
    K_KEY,
    K_VALUE,
    K_HEADERS,
    K_NAME,
    K_COUNT = K_NAME
};
static const char *const luat_keys[] = {"topic", "partition", "offset",
                                       "timestamp", "key", "value",
                                       "headers", "name"};

/* smt.null: a light userdata with this address. */
static const char luat_null_tag = 0;
#define LUAT_NULL ((void *)&luat_null_tag)
/* The hidden key of lazy objects (cannot be made from Lua). */
static const char luat_lazy_tag = 0;
#define LUAT_LAZY ((void *)&luat_lazy_tag)
#define LUAT_LAZY_MAX 64

static struct luat_st *luat_st_of(lua_State *L)
{
    return *(struct luat_st **)lua_getextraspace(L);
}

/* ---------------------------------------------------------------------- */
/* Allocator, budget hook, message handler                                 */

/* Position of the innermost running Lua function, for a refused
 * allocation: Lua does not call the message handler for memory errors, and
 * after the unwind the position is gone. Only reads the call stack. */
static void luat_note_where(struct luat_st *st)
{
    lua_Debug ar;
    int       level;

    for (level = 0; lua_getstack(st->L, level, &ar); level++) {
        if (lua_getinfo(st->L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(st->where, sizeof(st->where), "%s:%d", ar.short_src,
                     ar.currentline);
            return;
        }
    }
}

/* lua_Alloc with a cap: growing past memory.limit returns NULL, which Lua
 * turns into an emergency collection and then a memory error. Freeing and
 * shrinking always succeed. */
static void *luat_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct luat_st *st = ud;
    void          *np;

    if (ptr == NULL) {
        osize = 0; /* osize encodes the object type then */
    }
    if (nsize == 0) {
        free(ptr);
        st->mem -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > st->limit - st->mem) {
        if (st->in_record && st->L != NULL) {
            luat_note_where(st);
        }
        return NULL;
    }
    np = realloc(ptr, nsize);
    if (np == NULL) {
        return NULL;
    }
    st->mem = st->mem - osize + nsize;
    return np;
}

/* The count hook: the budget is spent. It re-arms itself to fire on every
 * instruction, so a script that catches the error with pcall gets it
 * again at its next instruction until the call has unwound. */
static void luat_budget_hook(lua_State *L, lua_Debug *ar)
{
    struct luat_st *st = luat_st_of(L);

    if (!st->over_budget) {
        st->over_budget = 1;
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
            snprintf(st->budget_msg, sizeof(st->budget_msg),
                     "%s:%d: instruction limit of %lld exceeded",
                     ar->short_src, ar->currentline,
                     (long long)st->conf->instruction_limit);
        } else {
            snprintf(st->budget_msg, sizeof(st->budget_msg),
                     "instruction limit of %lld exceeded",
                     (long long)st->conf->instruction_limit);
        }
    }
    lua_sethook(L, luat_budget_hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, st->budget_msg);
    lua_error(L);
}

static void luat_arm(struct luat_st *st)
{
    st->over_budget = 0;
    lua_sethook(st->L, luat_budget_hook, LUA_MASKCOUNT,
                (int)st->conf->instruction_limit);
}

/* "chunk:12: ..." or "[string "..."]:3: ..." */
static int luat_has_position(const char *m)
{
    const char *p = m;

    if (*p == '[') {
        p = strchr(p, ']');
        if (p == NULL) {
            return 0;
        }
        p++;
    } else {
        while (*p != '\0' && *p != ':' && *p != ' ') {
            p++;
        }
    }
    if (*p++ != ':' || !isdigit((unsigned char)*p)) {
        return 0;
    }
    while (isdigit((unsigned char)*p)) {
        p++;
    }
    return *p == ':';
}

/* Message handler of every protected call: formats the error (message,
 * position of the innermost Lua function when the message has none, and a
 * short traceback of the Lua frames) into st->emsg, in C, without calling
 * metamethods or allocating, so that a hostile error object (a table with
 * __tostring, a megabyte string) cannot fail it. Returns the object as is. */
static int luat_msgh(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    char           msg[200], where[96] = "", tb[160] = "";
    size_t         len = 0, i, tl = 0;
    lua_Debug      ar;
    int            level, t = lua_type(L, 1), frames = 0;

    if (t == LUA_TSTRING) {
        const char *p = lua_tolstring(L, 1, &len);

        if (len > sizeof(msg) - 1) {
            len = sizeof(msg) - 1;
        }
        for (i = 0; i < len; i++) {
            msg[i] = (unsigned char)p[i] < 0x20 ? ' ' : p[i];
        }
        msg[len] = '\0';
    } else if (t == LUA_TNUMBER && lua_isinteger(L, 1)) {
        snprintf(msg, sizeof(msg), "%lld", (long long)lua_tointeger(L, 1));
    } else if (t == LUA_TNUMBER) {
        snprintf(msg, sizeof(msg), "%.14g", (double)lua_tonumber(L, 1));
    } else {
        snprintf(msg, sizeof(msg), "(error object is a %s value)",
                 lua_typename(L, t));
    }
    for (level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sln", &ar) || ar.currentline <= 0) {
            continue;
        }
        if (frames++ == 0) {
            snprintf(where, sizeof(where), "%s:%d: ", ar.short_src,
                     ar.currentline);
        }
        if (frames > 4) {
            if (frames == 5) {
                snprintf(tb + tl, sizeof(tb) - tl, " < ...");
            }
            continue;
        }
        if (tl < sizeof(tb) - 1) {
            int n = snprintf(tb + tl, sizeof(tb) - tl, "%s%s:%d%s%s%s",
                             tl ? " < " : "", ar.short_src, ar.currentline,
                             ar.name ? " in '" : "", ar.name ? ar.name : "",
                             ar.name ? "'" : "");
            tl = n > 0 ? tl + (size_t)n : tl;
        }
    }
    snprintf(st->emsg, sizeof(st->emsg), "%s%s%s%s%s",
             luat_has_position(msg) ? "" : where, msg,
             frames > 1 ? " (traceback: " : "", frames > 1 ? tb : "",
             frames > 1 ? ")" : "");
    st->have_emsg = 1;
    return 1;
}

static int luat_panic(lua_State *L)
{
    const char *m = lua_tostring(L, -1);

    fprintf(stderr, "smtproxy: lua: unprotected error: %s\n",
            m ? m : "(not a string)");
    abort();
}

/* ---------------------------------------------------------------------- */
/* The sandbox                                                              */

/* load(chunk, name, mode, env) with mode always "t". The number of
 * arguments is kept: an explicit nil env differs from an absent one. */
static int luat_sb_load(lua_State *L)
{
    int n = lua_gettop(L);

    if (n < 3) {
        lua_settop(L, 3);
        n = 3;
    }
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int luat_sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");

    if (strcmp(opt, "count") != 0) {
        return luaL_error(L, "collectgarbage: only \"count\" is available, "
                             "not \"%s\"",
                          opt);
    }
    lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                          (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024);
    return 1;
}

/* string.rep: Lua's loops n times even when the result is empty, and would
 * ask for the whole result before the cap can refuse it. */
static int luat_sb_rep(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    size_t         l, lsep;
    lua_Integer    n;

    luaL_checklstring(L, 1, &l);
    n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    if ((lua_Unsigned)n > st->limit / (l + lsep)) {
        return luaL_error(L, "string.rep: result larger than memory.limit "
                             "(%I bytes)",
                          (lua_Integer)st->limit);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* table.move: moving nils allocates nothing, so a huge range would loop
 * in C, outside the budget. */
static int luat_sb_move(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    lua_Integer    f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

    if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= st->limit / 16) {
        return luaL_error(L, "table.move: too many elements");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* setmetatable without __gc: finalizers run with hooks off, outside any
 * budget. */
static int luat_sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) {
            return luaL_error(L, "setmetatable: __gc metamethods are not "
                                 "available");
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* smt.array(t) / smt.object(t): mark t, return it. */
static int luat_smt_mark(lua_State *L, int ref)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_setmetatable(L, 1);
    return 1;
}

static int luat_smt_array(lua_State *L)
{
    return luat_smt_mark(L, luat_st_of(L)->arr_ref);
}

static int luat_smt_object(lua_State *L)
{
    return luat_smt_mark(L, luat_st_of(L)->obj_ref);
}

/* Replaces t[name] (t at -1) with a closure of the old value. */
static void luat_wrap(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

static void luat_push_keys(lua_State *L)
{
    int i;

    for (i = 0; i < K_COUNT; i++) {
        lua_pushstring(L, luat_keys[i]);
    }
}

static int luat_rec_index(lua_State *L);
static int luat_rec_newindex(lua_State *L);
static int luat_run(lua_State *L);
static int luat_lazy_index(lua_State *L);
static int luat_lazy_newindex(lua_State *L);
static int luat_lazy_pairs(lua_State *L);
static int luat_sb_next(lua_State *L);
static int luat_sb_raw(lua_State *L);
static void luat_push_lazy(lua_State *L, struct luat_st *st,
                          const struct smt_val *v);

/* Builds the sandbox, loads and runs the script, finds the entry function.
 * Runs protected (memory errors, script errors). */
static int luat_setup(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
    static const char *const gone[] = {"dofile", "loadfile", "print", "warn",
                                       NULL};
    struct luat_st *st = luat_st_of(L);
    const luaL_Reg *lib;
    int             i;

    for (lib = libs; lib->func != NULL; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    for (i = 0; gone[i] != NULL; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, gone[i]);
    }
    luat_wrap(L, "load", luat_sb_load);
    luat_wrap(L, "rawget", luat_sb_raw);
    luat_wrap(L, "rawset", luat_sb_raw);
    luat_wrap(L, "rawlen", luat_sb_raw);
    lua_pushcfunction(L, luat_sb_next);
    lua_setfield(L, -2, "next");
    luat_wrap(L, "setmetatable", luat_sb_setmetatable);
    lua_pushcfunction(L, luat_sb_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
    lua_getfield(L, -1, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    luat_wrap(L, "rep", luat_sb_rep);
    lua_pop(L, 1);
    lua_getfield(L, -1, "table");
    luat_wrap(L, "move", luat_sb_move);
    lua_pop(L, 1);

    /* markers, the record's metatable, smt.* */
    lua_newtable(L);
    st->arr_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    st->obj_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 3);
    luat_push_keys(L);
    lua_pushcclosure(L, luat_rec_index, K_COUNT);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luat_rec_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    st->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    st->cur_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, luat_lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luat_lazy_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, luat_lazy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    st->lazy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luat_push_keys(L);
    lua_pushcclosure(L, luat_run, K_COUNT);
    st->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 3);
    lua_pushlightuserdata(L, LUAT_NULL);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, luat_smt_array);
    lua_setfield(L, -2, "array");
    lua_pushcfunction(L, luat_smt_object);
    lua_setfield(L, -2, "object");
    lua_setfield(L, -2, "smt");
    lua_pop(L, 1); /* globals */

    /* the script: text only, run once */
    if (luaL_loadbufferx(L, st->code, st->code_len, st->chunkname, "t") !=
        LUA_OK) {
        return lua_error(L);
    }
    lua_call(L, 0, 0);
    if (lua_getglobal(L, st->conf->function) != LUA_TFUNCTION) {
        return luaL_error(L, "the script defines no function '%s'",
                          st->conf->function);
    }
    st->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Makes st->L: a new state, the sandbox, the script run once. Returns 0,
 * or -1 with err (the state is gone). */
static int luat_create(struct luat_st *st, struct smt_err *err)
{
    lua_State *L;
    int        status;

    st->mem = 0;
    L = lua_newstate(luat_alloc, st);
    if (L == NULL) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "cannot create a Lua state within memory.limit");
    }
    *(struct luat_st **)lua_getextraspace(L) = st;
    st->L = L;
    lua_atpanic(L, luat_panic);
    lua_gc(L, LUA_GCGEN, 0, 0);
    luat_arm(st);
    st->have_emsg = 0;
    lua_pushcfunction(L, luat_msgh);
    lua_pushcfunction(L, luat_setup);
    status = lua_pcall(L, 0, 0, 1);
    if (status != LUA_OK) {
        if (status == LUA_ERRMEM) {
            smt_err_set(err, SMT_E_CONFIG,
                        "not enough memory to load the script (memory.limit "
                        "is %zu bytes)",
                        st->limit);
        } else {
            smt_err_set(err, SMT_E_CONFIG, "%s",
                        st->have_emsg ? st->emsg : "error in error handling");
        }
        lua_close(L);
        st->L = NULL;
        return -1;
    }
    lua_settop(L, 0);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Values: tree -> Lua                                                      */

/* A lazy object for v: an empty table whose members are pushed on first
 * read (luat_lazy_index), so a script pays only for what it reads. */
static void luat_push_lazy(lua_State *L, struct luat_st *st,
                          const struct smt_val *v)
{
    struct luat_lazy *e;

    if (st->nlazy == st->lazycap) {
        st->lazycap = st->lazycap ? st->lazycap * 2 : 16;
        st->lazy = smt_xrealloc(st->lazy, st->lazycap * sizeof(*st->lazy));
    }
    e = &st->lazy[st->nlazy];
    e->gen = st->gen;
    e->bits = 0;
    e->extra = 0;
    e->v = (struct smt_val *)v;
    /* room for the hidden key and a few members: scripts read a few */
    lua_createtable(L, 0, v->n < 3 ? (int)v->n + 1 : 4);
    lua_pushinteger(L, (lua_Integer)(((lua_Unsigned)st->gen << 32) |
                                     st->nlazy));
    lua_rawsetp(L, -2, LUAT_LAZY);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->lazy_ref);
    lua_setmetatable(L, -2);
    st->nlazy++;
}

static void luat_push_val(lua_State *L, struct luat_st *st,
                         const struct smt_val *v, int depth)
{
    uint32_t i;

    if (v == NULL) {
        lua_pushlightuserdata(L, LUAT_NULL);
        return;
    }
    switch (v->type) {
    case SMT_BOOL:
        lua_pushboolean(L, v->u.b);
        break;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        lua_pushinteger(L, (lua_Integer)v->u.i);
        break;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        lua_pushnumber(L, (lua_Number)v->u.d);
        break;
    case SMT_STRING:
    case SMT_BYTES:
    case SMT_DECIMAL:
        lua_pushlstring(L, v->u.s.ptr, v->u.s.len);
        break;
    case SMT_ARRAY:
        if (depth >= LUAT_MAX_DEPTH) {
            luaL_error(L, "value nested deeper than %d levels", LUAT_MAX_DEPTH);
        }
        luaL_checkstack(L, 4, NULL);
        lua_createtable(L, (int)v->n, 0);
        for (i = 0; i < v->n; i++) {
            luat_push_val(L, st, v->u.items[i], depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, st->arr_ref);
        lua_setmetatable(L, -2);
        break;
    case SMT_OBJECT:
        if (depth >= LUAT_MAX_DEPTH) {
            luaL_error(L, "value nested deeper than %d levels", LUAT_MAX_DEPTH);
        }
        luaL_checkstack(L, 4, NULL);
        if (v->n <= LUAT_LAZY_MAX && st->call != NULL) {
            luat_push_lazy(L, st, v);
            break;
        }
        lua_createtable(L, 0, (int)v->n);
        for (i = 0; i < v->n; i++) {
            lua_pushlstring(L, v->u.members[i].key.ptr,
                            v->u.members[i].key.len);
            luat_push_val(L, st, v->u.members[i].val, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    case SMT_NULL:
    default:
        lua_pushlightuserdata(L, LUAT_NULL);
        break;
    }
}

/* headers = { {name = n, value = v}, ... }; v absent for a null value.
 * Expects the key strings as upvalues of the running C function. */
static void luat_push_headers(lua_State *L, const struct smt_record *rec)
{
    uint32_t i;

    lua_createtable(L, (int)rec->nhdrs, 0);
    for (i = 0; i < rec->nhdrs; i++) {
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, lua_upvalueindex(K_NAME));
        lua_pushlstring(L, rec->hdrs[i].name.ptr, rec->hdrs[i].name.len);
        lua_rawset(L, -3);
        if (rec->hdrs[i].value.ptr != NULL) {
            lua_pushvalue(L, lua_upvalueindex(K_VALUE));
            lua_pushlstring(L, rec->hdrs[i].value.ptr, rec->hdrs[i].value.len);
            lua_rawset(L, -3);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* The index of the valid lazy entry of the table at idx, or -1 (not a lazy
 * object, or one from an earlier record). */
static long luat_lazy_of(lua_State *L, struct luat_st *st, int idx)
{
    lua_Unsigned tag;
    uint32_t     i;

    if (lua_rawgetp(L, idx, LUAT_LAZY) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return -1;
    }
    tag = (lua_Unsigned)lua_tointeger(L, -1);
    lua_pop(L, 1);
    i = (uint32_t)(tag & 0xffffffffu);
    if (st->call == NULL || (uint32_t)(tag >> 32) != st->gen ||
        i >= st->nlazy) {
        return -1;
    }
    return (long)i;
}

static long luat_member_find(const struct smt_val *o, const char *k, size_t kl)
{
    uint32_t j;

    for (j = 0; j < o->n; j++) {
        if (o->u.members[j].key.len == kl &&
            memcmp(o->u.members[j].key.ptr, k, kl) == 0) {
            return (long)j;
        }
    }
    return -1;
}

/* Pushes member j of lazy entry li and stores it in the table at t. */
static void luat_lazy_member(lua_State *L, struct luat_st *st, int t, long li,
                            long j)
{
    const struct smt_member *m = &st->lazy[li].v->u.members[j];

    lua_pushlstring(L, m->key.ptr, m->key.len);
    luat_push_val(L, st, m->val, 1); /* may move st->lazy */
    lua_pushvalue(L, -1);
    lua_insert(L, -3);
    lua_rawset(L, t);
    st->lazy[li].bits |= (uint64_t)1 << j;
}

/* Every member not yet read (nor deleted) pushed into the table at t. */
static void luat_lazy_all(lua_State *L, struct luat_st *st, int t, long li)
{
    uint32_t j, n = st->lazy[li].v->n;

    for (j = 0; j < n; j++) {
        if (!(st->lazy[li].bits & ((uint64_t)1 << j))) {
            luat_lazy_member(L, st, t, li, (long)j);
            lua_pop(L, 1);
        }
    }
    st->lazy[li].extra = 1;
}

static int luat_lazy_index(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    long           li, j;
    const char    *k;
    size_t         kl;

    if (lua_type(L, 2) != LUA_TSTRING || (li = luat_lazy_of(L, st, 1)) < 0) {
        return 0;
    }
    k = lua_tolstring(L, 2, &kl);
    j = luat_member_find(st->lazy[li].v, k, kl);
    if (j < 0 || (st->lazy[li].bits & ((uint64_t)1 << j))) {
        return 0; /* absent, or read before and deleted since */
    }
    luat_lazy_member(L, st, 1, li, j);
    return 1;
}

static int luat_lazy_newindex(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    long           li, j = -1;

    lua_settop(L, 3);
    if ((li = luat_lazy_of(L, st, 1)) >= 0) {
        if (lua_type(L, 2) == LUA_TSTRING) {
            size_t      kl;
            const char *k = lua_tolstring(L, 2, &kl);

            j = luat_member_find(st->lazy[li].v, k, kl);
        }
        if (j >= 0) {
            st->lazy[li].bits |= (uint64_t)1 << j;
        } else {
            st->lazy[li].extra = 1;
        }
    }
    lua_rawset(L, 1);
    return 0;
}

/* next(t, k) that sees every member of a lazy object and never its hidden
 * key; the sandbox's `next`, and what pairs() uses on lazy objects. */
static int luat_sb_next(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    long           li;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if ((li = luat_lazy_of(L, st, 1)) >= 0) {
        luat_lazy_all(L, st, 1, li);
    }
    for (;;) {
        if (lua_next(L, 1) == 0) {
            lua_pushnil(L);
            return 1;
        }
        if (lua_type(L, -2) == LUA_TLIGHTUSERDATA &&
            lua_touserdata(L, -2) == LUAT_LAZY) {
            lua_pop(L, 1);
            continue;
        }
        return 2;
    }
}

static int luat_lazy_pairs(lua_State *L)
{
    lua_pushcfunction(L, luat_sb_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* rawget/rawset/rawlen: a lazy object is filled in first, so raw access
 * sees (and changes) what the script would see through t[k]. */
static int luat_sb_raw(lua_State *L)
{
    struct luat_st *st = luat_st_of(L);
    long           li;

    if (lua_type(L, 1) == LUA_TTABLE && (li = luat_lazy_of(L, st, 1)) >= 0) {
        luat_lazy_all(L, st, 1, li);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* The record's __index(t, k): key, value and headers are built on first
 * read, so a script that reads only the topic never decodes the value.
 * A record table kept from an earlier call reads them as nil. */
static int luat_rec_index(lua_State *L)
{
    struct luat_st   *st = luat_st_of(L);
    struct luat_call *c = st->call;
    unsigned         bit;
    int              side;

    if (c == NULL || lua_type(L, 2) != LUA_TSTRING) {
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->cur_ref);
    if (!lua_rawequal(L, 1, -1)) {
        return 0;
    }
    lua_pop(L, 1);
    if (lua_rawequal(L, 2, lua_upvalueindex(K_VALUE))) {
        bit = LUAT_F_VALUE;
        side = SMT_VALUE;
    } else if (lua_rawequal(L, 2, lua_upvalueindex(K_KEY))) {
        bit = LUAT_F_KEY;
        side = SMT_KEY;
    } else if (lua_rawequal(L, 2, lua_upvalueindex(K_HEADERS))) {
        bit = LUAT_F_HEADERS;
        side = -1;
    } else {
        return 0;
    }
    if (c->touched & bit) {
        return 0; /* filled before and then set to nil by the script */
    }
    if (side >= 0) {
        const struct smt_val *doc;

        smt_err_clear(&c->derr);
        doc = smt_record_doc(c->rec, side, &c->derr);
        if (doc == NULL) {
            c->decode_failed = 1;
            return luaL_error(L, "the record's %s does not decode",
                              side == SMT_KEY ? "key" : "value");
        }
        luat_push_val(L, st, doc, 0);
    } else {
        luat_push_headers(L, c->rec);
    }
    c->touched |= bit;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

static int luat_rec_newindex(lua_State *L)
{
    struct luat_st   *st = luat_st_of(L);
    struct luat_call *c = st->call;

    lua_settop(L, 3);
    if (c != NULL && lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);

        lua_rawgeti(L, LUA_REGISTRYINDEX, st->cur_ref);
        if (lua_rawequal(L, 1, -1)) {
            c->touched |= strcmp(k, "value") == 0     ? LUAT_F_VALUE
                          : strcmp(k, "key") == 0     ? LUAT_F_KEY
                          : strcmp(k, "headers") == 0 ? LUAT_F_HEADERS
                                                      : 0;
        }
        lua_pop(L, 1);
    }
    lua_rawset(L, 1);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Values: Lua -> tree                                                      */

/* Raises a conversion error naming where in the returned record it is. */
static int luat_conv_error(struct luat_call *c, const char *what)
{
    char   path[128];
    size_t n = 0;
    int    i, w;

    path[0] = '\0';
    for (i = 0; i < c->nframes && n < sizeof(path) - 1; i++) {
        const struct luat_frame *f = &c->frames[i];

        w = f->k != NULL ? snprintf(path + n, sizeof(path) - n, "%s%.*s",
                                    i ? "." : "", (int)(f->kl > 40 ? 40 : f->kl),
                                    f->k)
                         : snprintf(path + n, sizeof(path) - n, "[%lld]",
                                    (long long)f->i);
        n = w > 0 ? n + (size_t)w : n;
    }
    return luaL_error(c->L, "returned record: %s%s%s", path,
                      path[0] ? ": " : "", what);
}

static void luat_frame_key(struct luat_call *c, const char *k, size_t kl)
{
    struct luat_frame *f = &c->frames[c->nframes++];

    f->k = k;
    f->kl = kl;
}

static void luat_frame_index(struct luat_call *c, lua_Integer i)
{
    struct luat_frame *f = &c->frames[c->nframes++];

    f->k = NULL;
    f->i = i;
}

static int luat_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
           lua_touserdata(L, idx) == LUAT_NULL;
}

static int luat_is_container(const struct smt_val *v)
{
    return v != NULL && (v->type == SMT_OBJECT || v->type == SMT_ARRAY);
}

/* A node kept from the input inside a changed container: containers are
 * copied (a changed tree owns every container, val.h), scalars shared. */
static struct smt_val *luat_keep(struct smt_arena *a, struct smt_val *v)
{
    return luat_is_container(v) ? smt_val_fork(a, v) : v;
}

static struct smt_val *luat_to_val(struct luat_call *c, int idx,
                                  struct smt_val *orig, int depth);

/* Is the table at idx an array? Marked tables say so; otherwise a
 * non-empty sequence 1..n is one, an empty table is one where the input
 * had an array, and anything else is an object. */
static int luat_table_is_array(struct luat_call *c, int idx,
                              const struct smt_val *orig)
{
    lua_State  *L = c->L;
    struct luat_st *st = c->st;
    lua_Integer n, count = 0;
    int         marked = 0;

    if (lua_getmetatable(L, idx)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, st->arr_ref);
        marked = lua_rawequal(L, -1, -2) ? 1 : 0;
        if (!marked) {
            lua_pop(L, 1);
            lua_rawgeti(L, LUA_REGISTRYINDEX, st->obj_ref);
            marked = lua_rawequal(L, -1, -2) ? -1 : 0;
        }
        lua_pop(L, 2);
        if (marked != 0) {
            return marked > 0;
        }
    }
    n = (lua_Integer)lua_rawlen(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    if (count == 0) {
        return orig != NULL && orig->type == SMT_ARRAY;
    }
    return count == n;
}

static struct smt_val *luat_array_to_val(struct luat_call *c, int idx,
                                        struct smt_val *orig, int depth)
{
    lua_State       *L = c->L;
    struct smt_arena *a = c->rec->arena;
    lua_Integer      n = (lua_Integer)lua_rawlen(L, idx), i;
    struct smt_val  *arr, *o = orig != NULL && orig->type == SMT_ARRAY
                                   ? orig
                                   : NULL;
    int              changed = o == NULL || (lua_Integer)o->n != n;

    if (n > (lua_Integer)UINT32_MAX / 2) {
        luat_conv_error(c, "array too long");
    }
    arr = smt_val_array(a, (uint32_t)n);
    for (i = 0; i < n; i++) {
        struct smt_val *ov = o != NULL && i < (lua_Integer)o->n
                                 ? o->u.items[i]
                                 : NULL;
        struct smt_val *v;

        luat_frame_index(c, i + 1);
        lua_rawgeti(L, idx, i + 1);
        v = luat_to_val(c, lua_absindex(L, -1), ov, depth + 1);
        lua_pop(L, 1);
        c->nframes--;
        changed |= v != ov;
        arr->u.items[i] = v;
    }
    arr->n = (uint32_t)n;
    if (!changed) {
        return o;
    }
    for (i = 0; i < n; i++) {
        if (o != NULL && i < (lua_Integer)o->n && arr->u.items[i] == o->u.items[i]) {
            arr->u.items[i] = luat_keep(a, arr->u.items[i]);
        }
    }
    return arr;
}

static int luat_member_cmp(const void *x, const void *y)
{
    const struct smt_member *a = x, *b = y;
    size_t                   n = a->key.len < b->key.len ? a->key.len
                                                         : b->key.len;
    int                      r = memcmp(a->key.ptr, b->key.ptr, n);

    if (r != 0) {
        return r;
    }
    return a->key.len < b->key.len ? -1 : a->key.len > b->key.len;
}

/* Appends a member the input did not have (key copied into the arena) to
 * the growable array extra; returns the array, which may have moved. */
static struct smt_member *luat_extra_push(struct smt_arena *a,
                                          struct smt_member *extra,
                                          uint32_t *n, uint32_t *cap,
                                          const char *k, size_t kl,
                                          struct smt_val *v)
{
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 4;

        extra = smt_arena_grow(a, extra, *n, ncap, sizeof(*extra));
        *cap = ncap;
    }
    extra[*n].key.ptr = smt_arena_memdup(a, k, kl);
    extra[*n].key.len = kl;
    extra[*n].val = v;
    (*n)++;
    return extra;
}

/* An object: the input's members keep their order (each converted against
 * the input's value), members the script added follow in byte order of
 * their names (Lua tables have no order). */
static struct smt_val *luat_object_to_val(struct luat_call *c, int idx,
                                         struct smt_val *orig, int depth)
{
    lua_State         *L = c->L;
    struct smt_arena   *a = c->rec->arena;
    struct smt_val     *o = orig != NULL && orig->type == SMT_OBJECT ? orig
                                                                     : NULL;
    uint32_t            on = o != NULL ? o->n : 0, j, nseen = 0, nextra = 0,
             xcap = 0, hint = 0;
    struct smt_val    **slot = NULL, *obj;
    struct smt_member  *extra = NULL;
    int                 changed = o == NULL;

    if (on > 0) {
        slot = smt_arena_calloc(a, on * sizeof(*slot));
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char     *k;
        size_t          kl;
        long            found = -1;
        struct smt_val *v;

        if (lua_type(L, -2) == LUA_TLIGHTUSERDATA &&
            lua_touserdata(L, -2) == LUAT_LAZY) {
            lua_pop(L, 1); /* a lazy object of an earlier record */
            continue;
        }
        if (lua_type(L, -2) != LUA_TSTRING) {
            char why[96];

            snprintf(why, sizeof(why),
                     "object keys must be strings, found a %s key%s",
                     luaL_typename(L, -2),
                     lua_type(L, -2) == LUA_TNUMBER
                         ? " (a table mixing array items and named fields?)"
                         : "");
            luat_conv_error(c, why);
        }
        k = lua_tolstring(L, -2, &kl);
        for (j = 0; j < on; j++) {
            uint32_t m = (hint + j) % on;

            if (o->u.members[m].key.len == kl &&
                memcmp(o->u.members[m].key.ptr, k, kl) == 0) {
                found = (long)m;
                hint = m + 1;
                break;
            }
        }
        luat_frame_key(c, k, kl);
        v = luat_to_val(c, lua_absindex(L, -1),
                       found >= 0 ? o->u.members[found].val : NULL, depth + 1);
        c->nframes--;
        if (found >= 0 && slot[found] == NULL) {
            slot[found] = v;
            nseen++;
            changed |= v != o->u.members[found].val;
        } else {
            extra = luat_extra_push(a, extra, &nextra, &xcap, k, kl, v);
            changed = 1;
        }
        lua_pop(L, 1);
    }
    if (!changed && nseen == on) {
        return o;
    }
    obj = smt_val_object(a, nseen + nextra);
    for (j = 0; j < on; j++) {
        if (slot[j] != NULL) {
            obj->u.members[obj->n].key = o->u.members[j].key;
            obj->u.members[obj->n].val =
                slot[j] == o->u.members[j].val ? luat_keep(a, slot[j])
                                               : slot[j];
            obj->n++;
        }
    }
    if (nextra > 1) {
        qsort(extra, nextra, sizeof(*extra), luat_member_cmp);
    }
    for (j = 0; j < nextra; j++) {
        obj->u.members[obj->n++] = extra[j];
    }
    if (nextra == 0 && o != NULL) {
        obj->flags = (uint8_t)(o->flags & SMT_VF_PLAINKEYS);
    }
    return obj;
}

/* A lazy object: only members read or assigned can differ from its node;
 * the others are kept as they are without looking at them. */
static struct smt_val *luat_lazy_to_val(struct luat_call *c, int idx, long li,
                                       int depth)
{
    lua_State        *L = c->L;
    struct smt_arena *a = c->rec->arena;
    struct luat_lazy   e = c->st->lazy[li];
    struct smt_val   *o = e.v, **slot, *obj;
    struct smt_member *extra = NULL;
    uint32_t          j, n = 0, nextra = 0, xcap = 0;
    int               changed = 0;

    if (e.bits == 0 && !e.extra) {
        return o;
    }
    slot = smt_arena_calloc(a, (o->n ? o->n : 1) * sizeof(*slot));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *k;
        size_t      kl;
        long        found;

        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TLIGHTUSERDATA &&
                lua_touserdata(L, -1) == LUAT_LAZY) {
                continue;
            }
            /* not a plain object any more: convert it whole */
            lua_pop(L, 1);
            return luat_object_to_val(c, idx, o, depth);
        }
        k = lua_tolstring(L, -2, &kl);
        found = luat_member_find(o, k, kl);
        luat_frame_key(c, k, kl);
        if (found >= 0) {
            slot[found] = luat_to_val(c, lua_absindex(L, -1),
                                     o->u.members[found].val, depth + 1);
            changed |= slot[found] != o->u.members[found].val;
        } else {
            extra = luat_extra_push(a, extra, &nextra, &xcap, k, kl,
                                    luat_to_val(c, lua_absindex(L, -1), NULL,
                                                depth + 1));
            changed = 1;
        }
        c->nframes--;
        lua_pop(L, 1);
    }
    for (j = 0; j < o->n; j++) {
        if (slot[j] == NULL && (e.bits & ((uint64_t)1 << j))) {
            changed = 1; /* deleted */
        }
    }
    if (!changed) {
        return o;
    }
    obj = smt_val_object(a, o->n + nextra);
    for (j = 0; j < o->n; j++) {
        struct smt_val *v = slot[j];

        if (v == NULL) {
            if (e.bits & ((uint64_t)1 << j)) {
                continue;
            }
            v = o->u.members[j].val;
        }
        obj->u.members[n].key = o->u.members[j].key;
        obj->u.members[n].val = v == o->u.members[j].val ? luat_keep(a, v) : v;
        n++;
    }
    if (nextra > 1) {
        qsort(extra, nextra, sizeof(*extra), luat_member_cmp);
    }
    for (j = 0; j < nextra; j++) {
        obj->u.members[n++] = extra[j];
    }
    obj->n = n;
    obj->flags = nextra == 0 ? (uint8_t)(o->flags & SMT_VF_PLAINKEYS) : 0;
    return obj;
}

/* The Lua value at idx as a tree node. Returns orig itself when the value
 * equals it (unchanged parts keep their bytes), else a new node. */
static struct smt_val *luat_to_val(struct luat_call *c, int idx,
                                  struct smt_val *orig, int depth)
{
    lua_State        *L = c->L;
    struct smt_arena *a = c->rec->arena;
    int               ot = orig != NULL ? orig->type : -1;

    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: {
        int b = lua_toboolean(L, idx);

        if (ot == SMT_BOOL && orig->u.b == b) {
            return orig;
        }
        return smt_val_bool(a, b);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            int64_t i = (int64_t)lua_tointeger(L, idx);

            if ((smt_type_is_int(ot) || ot == SMT_DATE) && orig->u.i == i) {
                return orig;
            }
            return smt_val_int(a, SMT_INT64, i);
        } else {
            double d = (double)lua_tonumber(L, idx);

            if ((ot == SMT_FLOAT64 || ot == SMT_FLOAT32) && orig->u.d == d) {
                return orig;
            }
            return smt_val_float(a, SMT_FLOAT64, d);
        }
    case LUA_TSTRING: {
        size_t      len;
        const char *p = lua_tolstring(L, idx, &len);

        if ((ot == SMT_STRING || ot == SMT_BYTES || ot == SMT_DECIMAL) &&
            orig->u.s.len == len && memcmp(orig->u.s.ptr, p, len) == 0) {
            return orig;
        }
        return smt_val_str(a, ot == SMT_BYTES ? SMT_BYTES : SMT_STRING,
                           smt_arena_memdup(a, p, len), len);
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == LUAT_NULL) {
            return ot == SMT_NULL ? orig : smt_val_null(a);
        }
        break;
    case LUA_TTABLE:
        if (depth >= LUAT_MAX_DEPTH) {
            char why[96];

            snprintf(why, sizeof(why),
                     "nested deeper than %d levels (a table that contains "
                     "itself?)",
                     LUAT_MAX_DEPTH);
            luat_conv_error(c, why);
        }
        luaL_checkstack(L, 6, NULL);
        {
            long li = luat_lazy_of(L, c->st, idx);

            if (li >= 0) {
                struct smt_val *v = luat_lazy_to_val(c, idx, li, depth);

                /* the node of another place (a moved object): a copy */
                return v == c->st->lazy[li].v && v != orig
                           ? smt_val_fork(a, v)
                           : v;
            }
        }
        if (luat_table_is_array(c, idx, orig)) {
            return luat_array_to_val(c, idx, orig, depth);
        }
        return luat_object_to_val(c, idx, orig, depth);
    default:
        break;
    }
    {
        char why[64];

        snprintf(why, sizeof(why), "cannot convert a %s value",
                 luaL_typename(L, idx));
        luat_conv_error(c, why);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Returned records                                                         */

/* rawget(t, upvalue k) onto the stack; returns its type. */
static int luat_field(lua_State *L, int t, int k)
{
    lua_pushvalue(L, lua_upvalueindex(k));
    return lua_rawget(L, t);
}

static void luat_side_from(struct luat_call *c, int t, int k, int side,
                          struct smt_record *out)
{
    lua_State       *L = c->L;
    struct smt_data *d = side == SMT_KEY ? &c->base.key : &c->base.value;
    struct smt_val  *orig = d->state != SMT_DS_RAW ? d->doc : NULL, *v;

    if (luat_field(L, t, k) != LUA_TNIL) {
        c->nframes = 0;
        luat_frame_key(c, luat_keys[k - 1], strlen(luat_keys[k - 1]));
        v = luat_to_val(c, lua_absindex(L, -1), orig, 0);
        c->nframes = 0;
        if (v != orig) {
            smt_record_set_doc(out, side, v, NULL);
        }
    }
    lua_pop(L, 1);
}

/* headers: a list of {name = n, value = v} (or {n, v}) tables; a header
 * equal to the input's at the same place keeps its bytes. */
static void luat_headers_from(struct luat_call *c, int t,
                             struct smt_record *out)
{
    lua_State         *L = c->L;
    struct smt_arena  *a = c->rec->arena;
    const struct smt_record *b = &c->base;
    lua_Integer        n, i;
    struct smt_header *h;

    n = (lua_Integer)lua_rawlen(L, t);
    h = smt_arena_alloc(a, (size_t)(n ? n : 1) * sizeof(*h));
    for (i = 0; i < n; i++) {
        struct smt_bytes nm, v = SMT_BYTES_NULL;
        int              e;

        c->nframes = 0;
        luat_frame_key(c, "headers", 7);
        luat_frame_index(c, i + 1);
        if (lua_rawgeti(L, t, i + 1) != LUA_TTABLE) {
            luat_conv_error(c, "a header must be a table {name = ..., "
                              "value = ...}");
        }
        e = lua_absindex(L, -1);
        if (luat_field(L, e, K_NAME) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_rawgeti(L, e, 1);
        }
        if (lua_type(L, -1) != LUA_TSTRING) {
            luat_conv_error(c, "the header name must be a string");
        }
        nm.ptr = lua_tolstring(L, -1, &nm.len);
        if (luat_field(L, e, K_VALUE) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_rawgeti(L, e, 2);
        }
        if (lua_type(L, -1) == LUA_TSTRING) {
            v.ptr = lua_tolstring(L, -1, &v.len);
        } else if (!lua_isnil(L, -1) && !luat_is_null(L, -1)) {
            luat_conv_error(c, "the header value must be a string, smt.null "
                              "or nil");
        }
        if ((uint32_t)i < b->nhdrs && smt_bytes_eq(b->hdrs[i].name, nm)) {
            nm = b->hdrs[i].name;
        } else {
            nm.ptr = smt_arena_memdup(a, nm.ptr, nm.len);
        }
        if ((uint32_t)i < b->nhdrs && smt_bytes_eq(b->hdrs[i].value, v)) {
            v = b->hdrs[i].value;
        } else if (v.ptr != NULL) {
            v.ptr = smt_arena_memdup(a, v.ptr, v.len);
        }
        h[i].name = nm;
        h[i].value = v;
        lua_pop(L, 3);
    }
    c->nframes = 0;
    out->hdrs = h;
    out->nhdrs = (uint32_t)n;
    out->hcap = (uint32_t)n;
}

/* One returned record table (at t) into out, starting from the input.
 * piece > 0: out must not share anything changeable with other records. */
static void luat_record_from(struct luat_call *c, int t, struct smt_record *out,
                            uint32_t piece)
{
    lua_State *L = c->L;
    int        ty;

    *out = c->base;
    out->split = NULL;
    out->nsplit = 0;
    c->nframes = 0;
    ty = luat_field(L, t, K_TOPIC);
    if (ty == LUA_TSTRING) {
        struct smt_bytes tp;

        tp.ptr = lua_tolstring(L, -1, &tp.len);
        if (tp.len == 0) {
            luat_conv_error(c, "topic must not be empty");
        }
        if (!smt_bytes_eq(tp, c->base.topic)) {
            out->topic.ptr = smt_arena_memdup(c->rec->arena, tp.ptr, tp.len);
            out->topic.len = tp.len;
        }
    } else if (ty != LUA_TNIL) {
        luat_conv_error(c, "topic must be a string");
    }
    lua_pop(L, 1);
    ty = luat_field(L, t, K_TIMESTAMP);
    if (ty == LUA_TNUMBER) {
        int         ok;
        lua_Integer ts = lua_tointegerx(L, -1, &ok);

        if (!ok || ts == (lua_Integer)SMT_TS_NONE) {
            luat_conv_error(c, "timestamp must be an integer (milliseconds)");
        }
        out->ts_ms = (int64_t)ts;
    } else if (luat_is_null(L, -1)) {
        out->ts_ms = SMT_TS_NONE;
    } else if (ty != LUA_TNIL) {
        luat_conv_error(c, "timestamp must be an integer (milliseconds)");
    }
    lua_pop(L, 1);
    luat_side_from(c, t, K_KEY, SMT_KEY, out);
    luat_side_from(c, t, K_VALUE, SMT_VALUE, out);
    ty = luat_field(L, t, K_HEADERS);
    if (ty == LUA_TTABLE) {
        luat_headers_from(c, lua_absindex(L, -1), out);
    } else if (ty != LUA_TNIL) {
        luat_conv_error(c, "headers must be a list of {name = ..., value = ...}");
    } else if (piece > 0 && out->nhdrs > 0) {
        struct smt_header *h =
            smt_arena_alloc(c->rec->arena, out->nhdrs * sizeof(*h));

        memcpy(h, out->hdrs, out->nhdrs * sizeof(*h));
        out->hdrs = h;
        out->hcap = out->nhdrs;
    }
    lua_pop(L, 1);
    if (piece > 0) {
        /* A DIRTY tree is its record's own: another record gets a copy. */
        if (out->key.state == SMT_DS_DIRTY && out->key.doc == c->base.key.doc) {
            out->key.doc = smt_val_fork(c->rec->arena, out->key.doc);
        }
        if (out->value.state == SMT_DS_DIRTY &&
            out->value.doc == c->base.value.doc) {
            out->value.doc = smt_val_fork(c->rec->arena, out->value.doc);
        }
    }
}

/* The runner, called protected: builds the record table, calls the entry
 * function, converts what it returned into c->rec (and rec->split). The
 * record is changed only at the very end, when nothing can fail. */
static int luat_run(lua_State *L)
{
    struct luat_st     *st = luat_st_of(L);
    struct luat_call   *c = st->call;
    struct smt_record *rec = c->rec, *outs;
    lua_Integer        n, i;
    int                r, res;

    lua_createtable(L, 0, 8);
    r = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(K_TOPIC));
    lua_pushlstring(L, rec->topic.ptr ? rec->topic.ptr : "", rec->topic.len);
    lua_rawset(L, r);
    lua_pushvalue(L, lua_upvalueindex(K_PARTITION));
    lua_pushinteger(L, rec->partition);
    lua_rawset(L, r);
    lua_pushvalue(L, lua_upvalueindex(K_OFFSET));
    lua_pushinteger(L, rec->offset);
    lua_rawset(L, r);
    if (rec->ts_ms != SMT_TS_NONE) {
        lua_pushvalue(L, lua_upvalueindex(K_TIMESTAMP));
        lua_pushinteger(L, rec->ts_ms);
        lua_rawset(L, r);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->mt_ref);
    lua_setmetatable(L, r);
    lua_pushvalue(L, r);
    lua_rawseti(L, LUA_REGISTRYINDEX, st->cur_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->fn_ref);
    lua_pushvalue(L, r);
    lua_call(L, 1, 1);
    res = lua_gettop(L);
    c->base = *rec; /* with whatever the script's reads decoded */

    if (lua_isnil(L, res)) {
        c->verdict = SMT_DROP;
        return 0;
    }
    if (lua_type(L, res) != LUA_TTABLE) {
        return luaL_error(L, "'%s' must return a record table, a list of "
                             "records or nil, not a %s",
                          st->conf->function, luaL_typename(L, res));
    }
    if (lua_rawequal(L, res, r)) {
        n = -1;
    } else if (lua_rawgeti(L, res, 1) != LUA_TNIL) {
        n = (lua_Integer)lua_rawlen(L, res);
    } else {
        lua_pushnil(L);
        n = lua_next(L, res) == 0 ? 0 : -1;
        lua_settop(L, res + 1);
    }
    lua_settop(L, res);
    if (n < 0) {
        struct smt_record out;

        luat_record_from(c, res, &out, 0);
        *rec = out;
        c->verdict = SMT_PASS;
        return 0;
    }
    if (n == 0) {
        c->verdict = SMT_DROP;
        return 0;
    }
    if (n > 1000000) {
        return luaL_error(L, "returned %I records, more than 1000000", n);
    }
    outs = smt_arena_alloc(rec->arena, (size_t)n * sizeof(*outs));
    for (i = 0; i < n; i++) {
        if (lua_rawgeti(L, res, i + 1) != LUA_TTABLE) {
            return luaL_error(L, "returned list: item %I is a %s, not a record "
                                 "table",
                              i + 1, luaL_typename(L, -1));
        }
        luat_record_from(c, lua_absindex(L, -1), &outs[i], (uint32_t)i);
        lua_pop(L, 1);
    }
    *rec = outs[0];
    rec->split = n > 1 ? outs + 1 : NULL;
    rec->nsplit = (uint32_t)(n - 1);
    c->verdict = SMT_PASS;
    return 0;
}

/* ---------------------------------------------------------------------- */

/* After a failed record: collect, and re-create the state when it is
 * beyond use (the error handler failed) or keeps most of its memory (the
 * script holds data in globals), so the next record starts clean. */
static void luat_recover(struct luat_st *st, int status)
{
    struct smt_err err;

    lua_settop(st->L, 0);
    lua_pushboolean(st->L, 0);
    lua_rawseti(st->L, LUA_REGISTRYINDEX, st->cur_ref);
    luat_arm(st);
    lua_gc(st->L, LUA_GCCOLLECT, 0);
    if (status == LUA_ERRERR || st->mem > st->limit / 2) {
        lua_close(st->L);
        st->L = NULL;
        smt_err_clear(&err);
        (void)luat_create(st, &err); /* on failure: retried next record */
    }
}

static enum smt_verdict luat_apply(struct smt_inst *inst,
                                  struct smt_record *rec, struct smt_err *err)
{
    struct luat_st  *st = inst->state;
    struct luat_call c;
    lua_State      *L;
    int             status;

    if (st->L == NULL && luat_create(st, err) < 0) {
        smt_err_prefix(err, "the Lua state could not be re-created: ");
        err->code = SMT_E_DATA;
        return SMT_FAIL;
    }
    L = st->L;
    c.st = st;
    c.L = L;
    c.rec = rec;
    c.touched = 0;
    c.verdict = SMT_PASS;
    c.decode_failed = 0;
    c.nframes = 0;
    st->call = &c;
    st->gen++;
    st->nlazy = 0;
    st->have_emsg = 0;
    st->where[0] = '\0';
    st->in_record = 1;
    luat_arm(st);
    lua_pushcfunction(L, luat_msgh);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->run_ref);
    status = lua_pcall(L, 0, 0, 1);
    st->in_record = 0;
    st->call = NULL;
    if (SMT_LIKELY(status == LUA_OK)) {
        lua_settop(L, 0);
        lua_pushboolean(L, 0);
        lua_rawseti(L, LUA_REGISTRYINDEX, st->cur_ref);
        return (enum smt_verdict)c.verdict;
    }
    if (c.decode_failed) {
        *err = c.derr;
    } else if (status == LUA_ERRMEM) {
        smt_err_set(err, SMT_E_LIMIT,
                    "%s%snot enough memory (memory.limit is %zu bytes)",
                    st->where, st->where[0] ? ": " : "", st->limit);
    } else if (st->over_budget) {
        smt_err_set(err, SMT_E_LIMIT, "%s",
                    st->have_emsg ? st->emsg : st->budget_msg);
    } else if (st->have_emsg) {
        smt_err_set(err, SMT_E_DATA, "%s", st->emsg);
    } else {
        smt_err_set(err, SMT_E_DATA, "error in error handling");
    }
    luat_recover(st, status);
    return SMT_FAIL;
}

/* Reads the whole script file. */
static int luat_read_script(struct luat_st *st, const char *path,
                           struct smt_err *err)
{
    FILE  *f = fopen(path, "rb");
    size_t n = 0, cap = 4096, r;
    char  *p;

    if (f == NULL) {
        return smt_err_set(err, SMT_E_CONFIG, "cannot read script '%s': %s",
                           path, strerror(errno));
    }
    p = smt_xmalloc(cap);
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n > LUAT_MAX_SCRIPT) {
            fclose(f);
            free(p);
            return smt_err_set(err, SMT_E_CONFIG,
                               "script '%s' is larger than 16 MiB", path);
        }
        if (n == cap) {
            cap *= 2;
            p = smt_xrealloc(p, cap);
        }
    }
    if (ferror(f)) {
        fclose(f);
        free(p);
        return smt_err_set(err, SMT_E_CONFIG, "cannot read script '%s'",
                           path);
    }
    fclose(f);
    st->code = p;
    st->code_len = n;
    return 0;
}

static void luat_destroy(struct smt_inst *inst);

static int luat_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct luat_conf *conf = inst->conf;
    struct luat_st         *st;

    if ((conf->script == NULL) == (conf->source == NULL)) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "exactly one of 'script' and 'source' must be set");
    }
    if (conf->function == NULL || conf->function[0] == '\0') {
        return smt_err_set(err, SMT_E_CONFIG, "'function' must not be empty");
    }
    st = smt_xcalloc(1, sizeof(*st));
    st->conf = conf;
    st->limit = (size_t)conf->memory_limit;
    inst->state = st;
    if (conf->script != NULL) {
        const char *base = strrchr(conf->script, '/');

        if (luat_read_script(st, conf->script, err) < 0) {
            luat_destroy(inst);
            return -1;
        }
        snprintf(st->chunkname, sizeof(st->chunkname), "=%s",
                 base ? base + 1 : conf->script);
    } else {
        st->code_len = strlen(conf->source);
        st->code = smt_xstrndup(conf->source, st->code_len);
        snprintf(st->chunkname, sizeof(st->chunkname), "=source");
    }
    if (luat_create(st, err) < 0) {
        luat_destroy(inst);
        return -1;
    }
    return 0;
}

static void luat_destroy(struct smt_inst *inst)
{
    struct luat_st *st = inst->state;

    if (st == NULL) {
        return;
    }
    if (st->L != NULL) {
        luat_arm(st);
        lua_close(st->L);
    }
    free(st->code);
    free(st->lazy);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt luat_opts[] = {
    {"script", SMT_OPT_PATH, NULL, offsetof(struct luat_conf, script), 0, 0,
     NULL, SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "Lua script file (relative to the config file); exactly one of script "
     "and source"},
    {"source", SMT_OPT_STR, NULL, offsetof(struct luat_conf, source), 0, 0, NULL,
     SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY | SMT_OPT_NOTRIM,
     "Lua source inline; exactly one of script and source"},
    {"function", SMT_OPT_STR, "transform", offsetof(struct luat_conf, function),
     0, 0, NULL, SMT_OPT_NONEMPTY,
     "Global function called with each record table"},
    {"instruction.limit", SMT_OPT_INT, "1000000",
     offsetof(struct luat_conf, instruction_limit), 1000, 2000000000, NULL, 0,
     "Lua VM instructions one record may take before it fails"},
    {"memory.limit", SMT_OPT_SIZE, "16MiB",
     offsetof(struct luat_conf, memory_limit), 256 * 1024,
     (int64_t)1 << 40, NULL, 0,
     "Memory cap of the Lua state (per step and worker); reaching it fails "
     "the record"},
    {0},
};

const struct smt_transform smt_lua = {
    .name = "lua",
    .connect = NULL,
    .pkg = NULL,
    .doc = "Run each record through a Lua function (change, drop, or split "
           "into several records)",
    .opts = luat_opts,
    .conf_size = sizeof(struct luat_conf),
    .flags = SMT_F_OURS,
    .init = luat_init,
    .apply = luat_apply,
    .destroy = luat_destroy,
};
