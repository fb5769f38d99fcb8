-- Used by tests/cases/lua.case: a runtime error two calls deep.
local function check(v)
  if v.amount < 0 then
    error("negative amount " .. v.amount)
  end
  return v.amount
end

function transform(r)
  check(r.value)
  return r
end
