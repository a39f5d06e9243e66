import asyncio, time
from tests.hardening.conftest import app_client
async def test_probe(hardened_settings, emulator):
    emulator.faults(rate_limit_per_second=25)
    settings = hardened_settings(checkout_deadline_seconds=3.0, stripe_breaker_failure_threshold=1000, stripe_max_requests_per_second=0)
    async with app_client(settings) as client:
        async def one(n):
            s = time.monotonic()
            r = await client.post("/checkoutsession", json={"session_id": f"fair-{n}"})
            return r.status_code, round(time.monotonic() - s, 2)
        res = await asyncio.gather(*(one(n) for n in range(100)))
    import collections
    print(collections.Counter(s for s,_ in res), "max", max(e for _,e in res), sorted(e for _,e in res)[-10:])
