-- Webhook ingestion: POST BENCH.path with signed checkout.session.completed events.
-- BENCH.events_file has one line per event: n <TAB> v1-signature <TAB> session id <TAB> ref.
-- Thread `tid` sends lines tid, tid + nthreads, ...; bodies are rebuilt from BENCH.chunks and
-- BENCH.slots exactly as bench/harness/stripe_objects.event_body builds them in Python.
-- When a thread runs out of events it starts over; replays are counted in `dups`.
local events = {}
local counter = 0

function init(args)
  local line_no = 0
  for line in io.lines(BENCH.events_file) do
    if line_no % BENCH.nthreads == tid then
      local n, sig, sid, ref = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
      events[#events + 1] = {n = n, sig = sig, sid = sid, ref = ref}
    end
    line_no = line_no + 1
  end
end

request = function()
  sent = sent + 1
  counter = counter + 1
  if counter > #events then dups = dups + 1 end
  local ev = events[((counter - 1) % #events) + 1]
  local out = {BENCH.chunks[1]}
  for i, slot in ipairs(BENCH.slots) do
    out[#out + 1] = ev[slot]
    out[#out + 1] = BENCH.chunks[i + 1]
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = "t=" .. BENCH.t .. ",v1=" .. ev.sig,
  }
  return wrk.format("POST", BENCH.path, headers, table.concat(out))
end
