"""Load benchmark (`make bench`): a synchronized crowd of candidates against the real server.

Loopback only, bounded in count and time. Each simulated candidate logs in, starts the
fiscalité questionnaire in one burst with everyone else, answers every question (a save
every THINK seconds), changes some answers, submits. Then the server's database is read
back: every save the server acknowledged must be there (lost=0). The same server hosts a
bare ASGI endpoint doing the same single-row upsert in the same database: the ratio of the
two save rates says what the application costs over the bare stack.

    python -m tests.bench.run --candidates 500 --db sqlite
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app.attempts.models import Answer, AttemptItem
from app.auth.models import UserAccount
from app.auth.passwords import hash_password
from app.auth.roles import Role
from app.banks import service as banks_service
from app.db import build_engine, utcnow
from app.sessions import service as sessions_service
from app.sessions.models import Enrolment
from app.web.baseline import TABLE as BASELINE_TABLE
from tests.conftest import migrate
from tests.support.server import PROJECT_ROOT, Server, fresh_database

PASSWORD = "bench-pass"
MAX_SECONDS = 900  # the whole run stops by itself


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0

    def rate(self) -> float:
        return len(self.latencies_ms) / max(self.ended - self.started, 1e-9)

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]


def seed(url: str, candidates: int) -> int:
    """Migrated database, the shipped fiscalité bank, an open session, N enrolled candidates."""
    engine = build_engine(url)
    migrate(engine)
    with Session(engine) as session, session.begin():
        document = banks_service.parse_file(
            PROJECT_ROOT / "question_banks" / "fiscalite.yaml", max_bytes=2 * 1024 * 1024
        )
        version = banks_service.import_document(
            session=session, document=document, source="bench", now=utcnow()
        ).version
        now = utcnow()
        exam = sessions_service.create_session(
            session=session,
            name="Session de charge",
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=4),
        )
        questionnaire = sessions_service.add_questionnaire(
            session=session,
            exam=exam,
            bank_version=version,
            override_reason="banc d'essai",
        )
        password_hash = hash_password(PASSWORD)  # one hash for all: seeding stays fast
        session.execute(
            insert(UserAccount),
            [
                {
                    "login": f"bench{i}",
                    "display_name": f"Candidat {i}",
                    "role": Role.CANDIDAT,
                    "password_hash": password_hash,
                    "is_active": True,
                    "created_at": now,
                }
                for i in range(candidates)
            ],
        )
        ids = dict(session.execute(select(UserAccount.login, UserAccount.id)).all())
        session.execute(
            insert(Enrolment),
            [
                {
                    "exam_session_id": exam.id,
                    "user_id": ids[f"bench{i}"],
                    "candidate_number": f"B-{i:05d}",
                    "extra_time_percent": 0,
                }
                for i in range(candidates)
            ],
        )
        questionnaire_id = questionnaire.id
        session.execute(text(BASELINE_TABLE))
    engine.dispose()
    return questionnaire_id


async def timed(stats: Stats, call):
    began = time.perf_counter()
    try:
        response = await call
    except httpx.HTTPError:
        stats.errors += 1
        return None
    if response.status_code >= 400:
        stats.errors += 1
        return response
    stats.latencies_ms.append((time.perf_counter() - began) * 1000)
    return response


async def run_candidates(args, server: Server, questionnaire_id: int):
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    acknowledged: dict[tuple[int, str], int] = {}
    starts, saves = Stats(), Stats()
    # An API client: bearer tokens, never cookies (a cookie would call for CSRF tokens).
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=60, cookies=no_cookies
    ) as http:
        # Logins (Argon2, deliberately slow) come before the measured phases, a few at a time.
        gate = asyncio.Semaphore(4)

        async def login(i):
            async with gate:
                response = await http.post(
                    "/api/v1/auth/login", json={"login": f"bench{i}", "password": PASSWORD}
                )
                if response.status_code != 200:
                    sys.exit(
                        f"connexion refusée pour bench{i} : {response.status_code} {response.text}"
                    )
                return {"Authorization": f"Bearer {response.json()['token']}"}

        headers = await asyncio.gather(*(login(i) for i in range(args.candidates)))
        ready = asyncio.Event()

        async def start(i):
            await ready.wait()
            response = await timed(
                starts,
                http.post(
                    f"/api/v1/questionnaires/{questionnaire_id}/attempts", headers=headers[i]
                ),
            )
            return response.json() if response is not None and response.status_code == 200 else None

        tasks = [asyncio.create_task(start(i)) for i in range(args.candidates)]
        await asyncio.sleep(0.1)
        starts.started = time.perf_counter()
        ready.set()  # everyone at the same instant
        attempts = await asyncio.gather(*tasks)
        starts.ended = time.perf_counter()

        rng = random.Random(7)

        async def answer(i, attempt):
            if attempt is None:
                return
            for question in attempt["questions"]:
                rounds = 2 if rng.random() < args.change_rate else 1
                for seq in range(1, rounds + 1):
                    await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))
                    options = question["options"]
                    body = (
                        {"value": str(seq)}
                        if options is None
                        else {"selected": [options[rng.randrange(len(options))]["id"]]}
                    )
                    response = await timed(
                        saves,
                        http.put(
                            f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}",
                            json={"seq": seq, **body},
                            headers=headers[i],
                        ),
                    )
                    ok = response is not None and response.status_code == 200
                    if ok and response.json()["stored"]:
                        acknowledged[(attempt["id"], question["question_id"])] = seq
            await http.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=headers[i])

        saves.started = time.perf_counter()
        await asyncio.gather(*(answer(i, a) for i, a in enumerate(attempts)))
        saves.ended = time.perf_counter()
    return starts, saves, acknowledged


async def run_baseline(args, server: Server, count: int) -> Stats:
    """The same single-row upserts against the bare ASGI endpoint mounted on the same server."""
    stats = Stats()
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as http:
        gate = asyncio.Semaphore(args.connections)

        async def one(n):
            async with gate:
                await timed(
                    stats,
                    http.put(f"/bench/baseline/{n % (args.candidates * 40)}", json={"seq": n}),
                )

        stats.started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        stats.ended = time.perf_counter()
    return stats


def lost_answers(url: str, acknowledged: dict[tuple[int, str], int]) -> int:
    engine = build_engine(url)
    with Session(engine) as session:
        stored = {
            (a, q): s
            for a, q, s in session.execute(
                select(AttemptItem.attempt_id, AttemptItem.question_id, Answer.seq).join(
                    Answer, Answer.attempt_item_id == AttemptItem.id
                )
            )
        }
    engine.dispose()
    return sum(1 for key, seq in acknowledged.items() if stored.get(key, 0) < seq)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--think", type=float, default=0.5, help="secondes entre deux saves")
    parser.add_argument("--change-rate", type=float, default=0.2)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not 1 <= args.candidates <= 10_000:
        sys.exit("--candidates : entre 1 et 10 000")
    tmp = PROJECT_ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    base = (
        os.environ.get("CCPQ_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        if args.db == "postgres"
        else None
    )
    if base is None:
        for leftover in tmp.glob("bench.sqlite3*"):
            leftover.unlink()
    url = fresh_database(base, name="bench", tmp_dir=Path(tmp))
    questionnaire_id = seed(url, args.candidates)
    server = Server(
        url,
        workers=args.workers,
        env={"CCPQ_BENCH_BASELINE": "1", "CCPQ_SESSION_LIFETIME_MINUTES": "600"},
    ).start(timeout=60)
    try:
        began = time.monotonic()
        starts, saves, acknowledged = asyncio.run(
            asyncio.wait_for(run_candidates(args, server, questionnaire_id), MAX_SECONDS)
        )
        baseline = asyncio.run(
            asyncio.wait_for(run_baseline(args, server, len(saves.latencies_ms)), MAX_SECONDS)
        )
        lost = lost_answers(url, acknowledged)
    except BaseException:
        print(server.output()[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()
    ratio = saves.rate() / baseline.rate() if baseline.rate() else 0.0
    print(
        f"# {args.candidates} candidats, {len(saves.latencies_ms)} enregistrements, "
        f"{args.workers} processus, {time.monotonic() - began:.0f} s ; "
        f"référence : {baseline.rate():.0f} upserts/s (p99 {baseline.pct(99):.1f} ms)"
    )
    print(
        f"bench db={args.db} candidates={args.candidates} "
        f"starts_per_s={starts.rate():.0f} start_p50_ms={starts.pct(50):.1f} "
        f"start_p95_ms={starts.pct(95):.1f} start_p99_ms={starts.pct(99):.1f} "
        f"saves_per_s={saves.rate():.0f} save_p50_ms={saves.pct(50):.1f} "
        f"save_p95_ms={saves.pct(95):.1f} save_p99_ms={saves.pct(99):.1f} "
        f"errors={starts.errors + saves.errors} lost={lost} ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
