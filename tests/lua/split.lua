-- Used by tests/cases/lua.case: one record per item, keyed and routed.
function transform(r)
  local out = {}
  for i, item in ipairs(r.value.items) do
    out[#out + 1] = {
      topic = "items." .. item.kind,
      key = item.id,
      value = {order = r.value.order, item = item, n = i},
      headers = {{name = "split", value = tostring(i)}},
    }
  end
  return out
end
