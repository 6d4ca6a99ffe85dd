"""The bare-stack reference of the load benchmark: one single-row upsert, nothing else.

Mounted only when CCPQ_BENCH_BASELINE=1 (``make bench``). Same server, same database, same
thread pool as the application's saves: what remains of the difference is the application.
"""

import json

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db import get_engine

# Created by the benchmark before the load starts (see tests/bench/run.py).
TABLE = "CREATE TABLE IF NOT EXISTS bench_baseline (key INTEGER PRIMARY KEY, seq INTEGER)"
_UPSERT = text(
    "INSERT INTO bench_baseline (key, seq) VALUES (:key, :seq) "
    "ON CONFLICT (key) DO UPDATE SET seq = excluded.seq WHERE bench_baseline.seq < excluded.seq"
)


def _upsert(key: int, seq: int) -> None:
    with get_engine().begin() as connection:
        connection.execute(_UPSERT, {"key": key, "seq": seq})


async def baseline(request: Request) -> Response:
    body = json.loads(await request.body())
    await run_in_threadpool(_upsert, int(request.path_params["key"]), int(body["seq"]))
    return Response(b'{"stored":true}', media_type="application/json")


ROUTES = [Route("/bench/baseline/{key}", baseline, methods=["PUT"])]
