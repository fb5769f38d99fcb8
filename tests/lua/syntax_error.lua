-- Used by tests/cases/lua.case: rejected at load.
function transform(r)
  return r +
end
