-- Reuse storm: POST BENCH.path cycling through the fixed, already-created BENCH.ids.
local counter = 0
local headers = {["Content-Type"] = "application/json"}

request = function()
  sent = sent + 1
  local id = BENCH.ids[((counter * BENCH.nthreads + tid) % #BENCH.ids) + 1]
  counter = counter + 1
  return wrk.format("POST", BENCH.path, headers, '{"session_id":"' .. id .. '"}')
end
