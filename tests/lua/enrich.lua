-- Used by tests/cases/lua.case: adds a field computed from two others.
local factor = 9 / 5

function transform(r)
  local v = r.value
  v.temp_f = v.temp_c * factor + 32
  v.label = v.sensor .. "@" .. r.topic
  return r
end
