-- New sessions: POST BENCH.path with a JSON body whose session_id is unique per request
-- (BENCH.prefix, wrk thread id, per-thread counter).
local counter = 0
local headers = {["Content-Type"] = "application/json"}

request = function()
  sent = sent + 1
  counter = counter + 1
  local body = '{"session_id":"' .. BENCH.prefix .. "_" .. tid .. "_" .. counter .. '"}'
  return wrk.format("POST", BENCH.path, headers, body)
end
