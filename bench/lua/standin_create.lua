-- Stand-in ceiling: POST /v1/checkout/sessions with the form body the stripe SDK sends,
-- a unique client_reference_id and Idempotency-Key per request.
local counter = 0

request = function()
  sent = sent + 1
  counter = counter + 1
  local ref = BENCH.prefix .. "_" .. tid .. "_" .. counter
  local headers = {
    ["Authorization"] = "Bearer sk_test_bench",
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Idempotency-Key"] = "idem_" .. ref,
    ["Stripe-Version"] = BENCH.api_version,
  }
  return wrk.format("POST", BENCH.path, headers, BENCH.form .. "&client_reference_id=" .. ref)
end
