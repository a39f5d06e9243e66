-- Shared by every benchmark script (bench/harness/wrk.py prepends a `BENCH` table of
-- constants and appends one scenario script). Counts 2xx / non-2xx responses per thread and
-- prints one `BENCH_JSON {...}` line from done() with wrk's summary and latency percentiles.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- `sent` is bumped by every scenario's request(); wrk calls request() once more on thread 0
-- before the run to check the script, which done() subtracts.
ok, non2xx, dups, sent, statuses = 0, 0, 0, 0, {}

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else non2xx = non2xx + 1 end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local okc, bad, dup, snt, st = 0, 0, 0, -1, {}
  for _, t in ipairs(threads) do
    okc = okc + (t:get("ok") or 0)
    bad = bad + (t:get("non2xx") or 0)
    dup = dup + (t:get("dups") or 0)
    snt = snt + (t:get("sent") or 0)
    local s = t:get("statuses")
    if s then for k, v in pairs(s) do st[k] = (st[k] or 0) + v end end
  end
  local parts = {}
  for k, v in pairs(st) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
  local lat = {min = 0, mean = 0, max = 0, stdev = 0}
  local pct = {50, 75, 90, 95, 99, 99.9}
  local pv = {}
  local recorded = summary.requests - summary.errors.timeout
  if recorded > 0 then
    lat = {min = latency.min, mean = latency.mean, max = latency.max, stdev = latency.stdev}
    for i, p in ipairs(pct) do pv[i] = latency:percentile(p) end
  else
    for i = 1, #pct do pv[i] = 0 end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,"ok":%.0f,"non2xx":%.0f,' ..
    '"dups":%.0f,"sent":%.0f,"statuses":{%s},"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f},"latency_us":{"min":%.0f,"mean":%.1f,"max":%.0f,' ..
    '"stdev":%.1f,"p50":%.0f,"p75":%.0f,"p90":%.0f,"p95":%.0f,"p99":%.0f,"p999":%.0f}}\n',
    summary.duration, summary.requests, summary.bytes, okc, bad, dup, snt, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    lat.min, lat.mean, lat.max, lat.stdev, pv[1], pv[2], pv[3], pv[4], pv[5], pv[6]))
end
