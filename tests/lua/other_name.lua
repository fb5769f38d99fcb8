-- Used by tests/cases/lua.case: a non-default entry function.
function route(r)
  r.topic = "routed." .. r.topic
  return r
end
