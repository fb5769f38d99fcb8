-- Hostile entry functions for tests/unit/test_lua.c. Each misbehaves when
-- the record's value has evil = true and behaves otherwise, so a test can
-- check that only the evil record fails and the next record still works.
-- Line numbers matter: the test expects some of them in messages.

local function ok(r)
  r.value.ok = true
  return r
end

function loop(r)
  if r.value.evil then while true do end end
  return ok(r)
end

-- tries to swallow the budget error with pcall and carry on
function loop_pcall(r)
  if r.value.evil then
    for i = 1, 100 do
      pcall(function() while true do end end)
    end
    r.value.survived = true
    return r
  end
  return ok(r)
end

-- a memory bomb that keeps what it made in a global
keep = {}
function membomb(r)
  if r.value.evil then
    local i = 0
    while true do
      i = i + 1
      keep[i] = string.rep("x", 4096) .. i
    end
  end
  r.value.kept = #keep
  return ok(r)
end

-- a memory bomb in a local (the collector gets it back)
function membomb_local(r)
  if r.value.evil then
    local t = {}
    for i = 1, 1e9 do t[i] = {i, i, i} end
  end
  return ok(r)
end

function rep(r)
  if r.value.evil then
    local s = string.rep("x", 2^31)
    r.value.len = #s
  end
  return ok(r)
end

function rep_sep(r)
  if r.value.evil then
    local s = ("ab"):rep(2^40, ",")
    r.value.len = #s
  end
  return ok(r)
end

-- below the string.rep check, refused by the allocator
function rep_alloc(r)
  if r.value.evil then
    local s = string.rep("x", 12 * 1024 * 1024)
    r.value.len = #s
  end
  return ok(r)
end

-- Lua's own string.rep would loop 2^62 times here
function rep_empty(r)
  r.value.len = #string.rep("", 2^62) + #string.rep("", 2^62, "")
  return ok(r)
end

function move(r)
  if r.value.evil then table.move({}, 1, 2^62, 1) end
  return ok(r)
end

function recurse(r)
  local function f(n) return f(n + 1) + 1 end
  if r.value.evil then f(1) end
  return ok(r)
end

-- C-level recursion through a metamethod
function recurse_c(r)
  if r.value.evil then
    local t = setmetatable({}, {__index = function(t, k) return t[k] end})
    return t.x
  end
  return ok(r)
end

-- what the sandbox leaves visible
function visible(r)
  local v = r.value
  v.os, v.io, v.require, v.package = type(os), type(io), type(require), type(package)
  v.debug, v.dofile, v.loadfile = type(debug), type(dofile), type(loadfile)
  v.dump, v.print, v.coroutine = type(string.dump), type(print), type(coroutine)
  v.string, v.table, v.math, v.utf8 = type(string), type(table), type(math), type(utf8)
  v.load = load("return 40 + 2")()
  v.count = type(collectgarbage("count"))
  return r
end

function use_os(r)
  if r.value.evil then os.exit(3) end
  return ok(r)
end

function use_io(r)
  if r.value.evil then io.open("/etc/passwd") end
  return ok(r)
end

function use_require(r)
  if r.value.evil then require("os") end
  return ok(r)
end

function use_dofile(r)
  if r.value.evil then dofile("/etc/passwd") end
  return ok(r)
end

function use_loadfile(r)
  if r.value.evil then loadfile("/etc/passwd") end
  return ok(r)
end

-- a binary chunk, even with mode "b" asked for explicitly
function binary(r)
  if r.value.evil then
    local f, msg = load("\27Lua\84\0\25\147\13\10\26\10", "x", "b")
    error(msg, 0)
  end
  return ok(r)
end

function use_dump(r)
  if r.value.evil then string.dump(ok) end
  return ok(r)
end

function use_debug(r)
  if r.value.evil then debug.sethook() end
  return ok(r)
end

function use_package(r)
  if r.value.evil then package.loadlib("libc.so.6", "system") end
  return ok(r)
end

function collect(r)
  if r.value.evil then collectgarbage("stop") end
  return ok(r)
end

-- a finalizer would run outside any budget
function gc_meta(r)
  if r.value.evil then
    setmetatable({}, {__gc = function() while true do end end})
  end
  return ok(r)
end

-- the record table's metatable is protected; rawset still counts
function meta_record(r)
  if r.value == nil then
    -- never read: the value is absent until read
  end
  r.value.mt = tostring(getmetatable(r))
  if r.value.evil then setmetatable(r, {}) end
  rawset(r, "key", "set-raw")
  return ok(r)
end

function err_table(r)
  if r.value.evil then
    error(setmetatable({}, {__tostring = function() while true do end end}))
  end
  return ok(r)
end

function err_long(r)
  if r.value.evil then error(string.rep("y", 1000000)) end
  return ok(r)
end

function err_nil(r)
  if r.value.evil then error() end
  return ok(r)
end

-- a record kept from an earlier call reads its lazy fields as nil
function stale(r)
  if old then
    r.value.old_value = old.value == nil
    r.value.old_topic = old.topic
  end
  old = r
  return ok(r)
end

-- global state: one per worker
n = 0
function count(r)
  n = n + 1
  r.value.n = n
  return r
end
