"""Load benchmark (`make bench`): a synchronized crowd of candidates against the real server.

Loopback only, bounded in count and time. Each simulated candidate logs in (a sample
through the API, the others with a seeded session) and starts the fiscalité questionnaire
within the same start window as everyone else (10 000 a minute by default, `--start-over 0`
for one instant), then answers its questions at its own pace (the crowd offers
`--save-rate` saves a second, 1 000 by default; some answers are changed) until the save
phase's time budget is spent. Then every connection saves at once for
`--capacity-seconds` (the application's save at full load), the candidates submit, and a
bare ASGI endpoint doing the same single-row upsert in the same database on the same server
is loaded the same way: the ratio of the two full-load rates says what the application
costs over the bare stack. Finally the server's database is read back: every save the
server acknowledged must be there (lost=0).

    python -m tests.bench.run --candidates 500 --db sqlite
"""

import argparse
import asyncio
import fcntl
import os
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app.attempts.models import Answer, AttemptItem
from app.auth.models import UserAccount, UserSession
from app.auth.passwords import hash_password
from app.auth.roles import Role
from app.auth.service import token_digest
from app.banks import service as banks_service
from app.db import build_engine, utcnow
from app.sessions import service as sessions_service
from app.sessions.models import Enrolment
from app.web.baseline import TABLE as BASELINE_TABLE
from tests.support.server import PROJECT_ROOT, Server, fresh_database, migrate

PASSWORD = "bench-pass"
MAX_SECONDS = 900  # the whole run stops by itself
LOGIN_SAMPLE = 50  # candidates who log in through the API; the others get seeded sessions


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0
    cpu_seconds: float = 0.0  # the server's, over the phase (full-load phases only)

    def rate(self) -> float:
        return len(self.latencies_ms) / max(self.ended - self.started, 1e-9)

    def cpu_ms(self) -> float:
        """The server's processor time per request served: what a request costs it, without
        the load generator's share of the processor."""
        return self.cpu_seconds * 1000 / max(len(self.latencies_ms), 1)

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]


def seed(url: str, candidates: int) -> tuple[int, list[str]]:
    """Migrated database, the shipped fiscalité bank, an open session, N enrolled candidates.

    Each candidate also gets a login session (its bearer token is returned): Argon2 is slow
    on purpose, and logging 10 000 people in is not what is measured. A sample of them logs
    in through the API as well (see ``run_candidates``).
    """
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
        tokens = [secrets.token_urlsafe(32) for _ in range(candidates)]
        session.execute(
            insert(UserSession),
            [
                {
                    "token_sha256": token_digest(tokens[i]),
                    "csrf_token": secrets.token_urlsafe(32),
                    "user_id": ids[f"bench{i}"],
                    "created_at": now,
                    "expires_at": now + timedelta(hours=10),
                }
                for i in range(candidates)
            ],
        )
        questionnaire_id = questionnaire.id
        session.execute(text(BASELINE_TABLE))
    engine.dispose()
    return questionnaire_id, tokens


@dataclass
class Reply:
    status: int
    body: dict | None


async def timed(stats: Stats, http: aiohttp.ClientSession, method: str, url: str, **kwargs):
    """One request, its latency counted when it succeeds, its error counted otherwise."""
    began = time.perf_counter()
    try:
        async with http.request(method, url, **kwargs) as response:
            body = await response.json() if response.status < 400 else None
    except (aiohttp.ClientError, TimeoutError):
        stats.errors += 1
        return None
    if response.status >= 400:
        stats.errors += 1
        return Reply(response.status, None)
    stats.latencies_ms.append((time.perf_counter() - began) * 1000)
    return Reply(response.status, body)


def client(server: Server, connections: int) -> aiohttp.ClientSession:
    # aiohttp rather than httpx: httpx's pool spends more CPU than the server under test
    # (measured: 160 requests/s against an empty endpoint where aiohttp does 3 000).
    # No cookies: an API client authenticates with its bearer token.
    # The server has a minute to answer once a request is sent; the wait for one of the
    # client's connections is not counted against it (a candidate's browser has its own
    # connection), only in the latency: a crowd's submissions queue in the client first.
    return aiohttp.ClientSession(
        server.url,
        connector=aiohttp.TCPConnector(limit=connections),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=60),
    )


async def run_candidates(args, server: Server, questionnaire_id: int, tokens: list[str]):
    acknowledged: dict[tuple[int, str], int] = {}
    starts, saves, submits = Stats(), Stats(), Stats()
    async with client(server, args.connections) as http:
        # A sample logs in through the API (Argon2, deliberately slow: a few at a time, before
        # the measured phases); the others use the sessions seeded for them.
        gate = asyncio.Semaphore(4)

        async def login(i):
            async with (
                gate,
                http.post(
                    "/api/v1/auth/login", json={"login": f"bench{i}", "password": PASSWORD}
                ) as response,
            ):
                if response.status != 200:
                    sys.exit(
                        f"connexion refusée pour bench{i} : "
                        f"{response.status} {await response.text()}"
                    )
                return {"Authorization": f"Bearer {(await response.json())['token']}"}

        sample = min(args.candidates, LOGIN_SAMPLE)
        headers = await asyncio.gather(*(login(i) for i in range(sample)))
        headers += [{"Authorization": f"Bearer {token}"} for token in tokens[sample:]]
        ready = asyncio.Event()
        # The crowd arrives within the start window (at the target's rate of 10 000 a
        # minute by default), each at a random instant; a window of 0 is one instant.
        rng = random.Random(7)
        arrivals = sorted(rng.uniform(0, args.start_over) for _ in range(args.candidates))

        async def start(i):
            await ready.wait()
            await asyncio.sleep(arrivals[i])
            reply = await timed(
                starts,
                http,
                "POST",
                f"/api/v1/questionnaires/{questionnaire_id}/attempts",
                headers=headers[i],
            )
            return reply.body if reply is not None else None

        tasks = [asyncio.create_task(start(i)) for i in range(args.candidates)]
        await asyncio.sleep(0.1)
        starts.started = time.perf_counter()
        ready.set()  # the start window opens
        attempts = await asyncio.gather(*tasks)
        starts.ended = time.perf_counter()
        answered = asyncio.Event()
        answering = sum(1 for a in attempts if a is not None)

        async def answer(i, attempt):
            nonlocal answering
            if attempt is None:
                return
            await answer_questions(i, attempt)
            answering -= 1
            if not answering:
                answered.set()
            await submit_now.wait()  # after the capacity phase (below)
            await timed(
                submits,
                http,
                "POST",
                f"/api/v1/attempts/{attempt['id']}/submit",
                headers=headers[i],
            )

        async def answer_questions(i, attempt):
            # Saves at the candidate's own pace, whether or not the server keeps up (a
            # candidate goes on answering while the page saves): the crowd offers
            # --save-rate saves a second in all.
            due = time.perf_counter()
            for question in attempt["questions"]:
                if time.perf_counter() > saves_until:
                    break  # the time budget is spent: submit with what was saved
                rounds = 2 if rng.random() < args.change_rate else 1
                for seq in range(1, rounds + 1):
                    due += think * rng.uniform(0.5, 1.5)
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    options = question["options"]
                    body = (
                        {"value": str(seq)}
                        if options is None
                        else {"selected": [options[rng.randrange(len(options))]["id"]]}
                    )
                    await save(saves, http, headers[i], attempt, question, seq, body, acknowledged)

        submit_now = asyncio.Event()
        think = args.candidates / args.save_rate  # seconds between two saves of a candidate
        saves.started = time.perf_counter()
        saves_until = saves.started + args.save_seconds
        candidates = asyncio.gather(*(answer(i, a) for i, a in enumerate(attempts)))
        if answering:
            await answered.wait()
        saves.ended = time.perf_counter()
        cpu_before = server.cpu_seconds()
        capacity = await saturate_saves(args, http, attempts, headers, acknowledged)
        capacity.cpu_seconds = server.cpu_seconds() - cpu_before
        submits.started = time.perf_counter()
        submit_now.set()
        await candidates
        submits.ended = time.perf_counter()
    return starts, saves, capacity, submits, acknowledged


async def save(stats, http, headers, attempt, question, seq, body, acknowledged) -> None:
    """One save; an acknowledged one is remembered, to be found in the database at the end."""
    reply = await timed(
        stats,
        http,
        "PUT",
        f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}",
        json={"seq": seq, **body},
        headers=headers,
    )
    if reply is not None and reply.body and reply.body["stored"]:
        key = (attempt["id"], question["question_id"])
        acknowledged[key] = max(acknowledged.get(key, 0), seq)


async def saturate_saves(args, http, attempts, headers, acknowledged) -> Stats:
    """The application's save at full load, measured as the bare endpoint is (see below):
    every connection busy, for ``--capacity-seconds``, on the candidates' running attempts."""
    stats = Stats()
    running = [(i, a) for i, a in enumerate(attempts) if a is not None]
    if not running:
        return stats
    rng = random.Random(11)
    seq = 1000  # above every save of the paced phase: each of these is the newest
    stats.started = time.perf_counter()
    until = stats.started + args.capacity_seconds

    async def connection():
        nonlocal seq
        while time.perf_counter() < until:
            i, attempt = running[rng.randrange(len(running))]
            question = attempt["questions"][rng.randrange(len(attempt["questions"]))]
            seq += 1
            mine = seq
            options = question["options"]
            body = {"value": "7"} if options is None else {"selected": [options[0]["id"]]}
            await save(stats, http, headers[i], attempt, question, mine, body, acknowledged)

    await asyncio.gather(*(connection() for _ in range(args.connections)))
    stats.ended = time.perf_counter()
    return stats


async def run_baseline(args, server: Server) -> Stats:
    """The same single-row upserts against the bare ASGI endpoint mounted on the same server,
    measured as ``saturate_saves`` measures the application's."""
    stats = Stats()
    async with client(server, args.connections) as http:
        n = 0
        cpu_before = server.cpu_seconds()
        stats.started = time.perf_counter()
        until = stats.started + args.capacity_seconds

        async def connection():
            nonlocal n
            while time.perf_counter() < until:
                n += 1
                mine = n
                await timed(
                    stats,
                    http,
                    "PUT",
                    f"/bench/baseline/{mine % (args.candidates * 40)}",
                    json={"seq": mine},
                )

        await asyncio.gather(*(connection() for _ in range(args.connections)))
        stats.ended = time.perf_counter()
        stats.cpu_seconds = server.cpu_seconds() - cpu_before
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
    parser.add_argument(
        "--save-rate",
        type=float,
        default=1000,
        help="enregistrements par seconde de toute la foule (chaque candidat enregistre "
        "toutes les N/save-rate secondes en moyenne)",
    )
    parser.add_argument("--change-rate", type=float, default=0.2)
    parser.add_argument(
        "--save-seconds",
        type=float,
        default=20,
        help="durée maximale de la phase d'enregistrement (les candidats remettent ensuite)",
    )
    parser.add_argument(
        "--start-over",
        type=float,
        default=None,
        help="secondes pendant lesquelles la foule arrive (défaut : 10 000 par minute ; 0 : "
        "tous au même instant)",
    )
    parser.add_argument(
        "--capacity-seconds",
        type=float,
        default=15,
        help="durée des mesures à pleine charge (enregistrements, puis point d'accès minimal)",
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not 1 <= args.candidates <= 10_000:
        sys.exit("--candidates : entre 1 et 10 000")
    if args.start_over is None:
        args.start_over = args.candidates * 60 / 10_000
    tmp = PROJECT_ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    alone = (tmp / "bench.lock").open("ab")  # held until the process ends
    try:
        fcntl.flock(alone, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # Two runs would share the processor and the same database file.
        sys.exit(
            f"un autre banc tourne déjà sur cette machine ({tmp / 'bench.lock'}) : attendez sa fin"
        )
    base = (
        os.environ.get("CCPQ_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        if args.db == "postgres"
        else None
    )
    if base is None:
        for leftover in tmp.glob("bench.sqlite3*"):
            leftover.unlink()
    url = fresh_database(base, name="bench", tmp_dir=Path(tmp))
    questionnaire_id, tokens = seed(url, args.candidates)
    server = Server(
        url,
        workers=args.workers,
        env={"CCPQ_BENCH_BASELINE": "1", "CCPQ_SESSION_LIFETIME_MINUTES": "600"},
    ).start(timeout=60)
    try:
        began = time.monotonic()
        starts, saves, capacity, submits, acknowledged = asyncio.run(
            asyncio.wait_for(run_candidates(args, server, questionnaire_id, tokens), MAX_SECONDS)
        )
        baseline = asyncio.run(asyncio.wait_for(run_baseline(args, server), MAX_SECONDS))
        lost = lost_answers(url, acknowledged)
    except BaseException:
        print(server.output()[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()
    ratio = capacity.rate() / baseline.rate() if baseline.rate() else 0.0
    print(
        f"# {args.candidates} candidats arrivés en {args.start_over:.0f} s, "
        f"{len(saves.latencies_ms)} enregistrements au rythme des candidats "
        f"({args.save_rate:.0f}/s offerts), "
        f"{args.workers} processus, {time.monotonic() - began:.0f} s ; à pleine charge "
        f"({args.connections} connexions, {args.capacity_seconds:.0f} s) : "
        f"{capacity.rate():.0f} enregistrements/s (p99 {capacity.pct(99):.1f} ms), "
        f"référence {baseline.rate():.0f} upserts/s (p99 {baseline.pct(99):.1f} ms) ; "
        f"temps processeur du serveur par requête : {capacity.cpu_ms():.2f} ms "
        f"(référence {baseline.cpu_ms():.2f} ms) ; remises : {submits.rate():.0f}/s "
        f"(p99 {submits.pct(99):.1f} ms) ; erreurs : démarrages {starts.errors}, "
        f"enregistrements au rythme {saves.errors}, à pleine charge {capacity.errors}, "
        f"remises {submits.errors}"
    )
    print(
        f"bench db={args.db} candidates={args.candidates} "
        f"starts_per_s={starts.rate():.0f} start_p50_ms={starts.pct(50):.1f} "
        f"start_p95_ms={starts.pct(95):.1f} start_p99_ms={starts.pct(99):.1f} "
        f"all_started_s={starts.ended - starts.started:.1f} "
        f"saves_per_s={saves.rate():.0f} save_p50_ms={saves.pct(50):.1f} "
        f"save_p95_ms={saves.pct(95):.1f} save_p99_ms={saves.pct(99):.1f} "
        f"capacity_saves_per_s={capacity.rate():.0f} baseline_per_s={baseline.rate():.0f} "
        f"capacity_cpu_ms={capacity.cpu_ms():.2f} baseline_cpu_ms={baseline.cpu_ms():.2f} "
        f"errors={starts.errors + saves.errors + capacity.errors + submits.errors} "
        f"lost={lost} ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
