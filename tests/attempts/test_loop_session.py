"""A save on a committed database of its own, as a served worker makes it: on PostgreSQL it
runs whole on the event loop (``loop_session``), with no thread hop.

The rest of the suite binds its sessions to a rolled-back transaction, which an asyncio
connection cannot join: there, saves take the thread-pool path (TestThreadHops).
"""

import os
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

import app.db
from app.attempts import service as attempts_service
from app.attempts.models import Answer, Attempt, AttemptItem
from app.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from app.auth.models import UserSession
from app.auth.service import token_digest
from app.db import build_engine, close_loop_engines, utcnow
from app.dependencies import get_now
from app.main import create_app
from tests.bench.run import seed
from tests.support.aio import run
from tests.support.hops import count_hops
from tests.support.server import fresh_database

GRACE = 10  # the default CCPQ_DEADLINE_GRACE_SECONDS
CSRF_REFUSED = "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page puis recommencez."


def test_saves_on_a_database_of_their_own(tmp_path, monkeypatch):
    url = fresh_database(os.environ.get("CCPQ_TEST_DATABASE_URL"), name="loop", tmp_dir=tmp_path)
    questionnaire_id, tokens = seed(url, 2)
    engine = build_engine(url)
    monkeypatch.setattr(
        app.db, "get_sessionmaker", lambda: sessionmaker(bind=engine, expire_on_commit=False)
    )
    with engine.connect() as connection:
        csrf = connection.scalar(
            select(UserSession.csrf_token).where(
                UserSession.token_sha256 == token_digest(tokens[1])
            )
        )
    on_postgresql = engine.dialect.name == "postgresql"
    web = create_app(sweeper=False)
    hops = count_hops(monkeypatch)
    bearer = {"Authorization": f"Bearer {tokens[0]}"}
    seen: dict[str, tuple] = {}

    async def main():
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = await client.post(
                f"/api/v1/questionnaires/{questionnaire_id}/attempts", headers=bearer
            )
            assert started.status_code == 200, started.text
            attempt = started.json()
            question = next(q for q in attempt["questions"] if q["options"])
            path = f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}"
            choice = question["options"][0]["id"]

            hops.clear()
            reply = await client.put(path, json={"seq": 1, "selected": [choice]}, headers=bearer)
            seen["bearer"] = (reply.status_code, reply.json()["stored"], list(hops))

            hops.clear()
            reply = await client.put(path, json={"seq": 1, "selected": [choice]}, headers=bearer)
            seen["replayed"] = (reply.status_code, reply.json()["stored"], list(hops))

            # A browser: its session cookie, and the CSRF token it must send with it.
            other = await client.post(
                f"/api/v1/questionnaires/{questionnaire_id}/attempts",
                headers={"Authorization": f"Bearer {tokens[1]}"},
            )
            mine = other.json()
            browser_path = (
                f"/api/v1/attempts/{mine['id']}/answers/{mine['questions'][0]['question_id']}"
            )
            first = mine["questions"][0]
            body = (
                {"seq": 1, "value": "3"}
                if first["options"] is None
                else {"seq": 1, "selected": [first["options"][0]["id"]]}
            )
            hops.clear()
            client.cookies.set(SESSION_COOKIE, tokens[1])
            reply = await client.put(browser_path, json=body)
            seen["cookie without token"] = (reply.status_code, reply.json(), list(hops))
            hops.clear()
            reply = await client.put(browser_path, json=body, headers={CSRF_HEADER: csrf})
            seen["cookie"] = (reply.status_code, reply.json()["stored"], list(hops))
            client.cookies.clear()

            deadline = utcnow() + timedelta(seconds=attempt["remaining_seconds"])
            web.dependency_overrides[get_now] = lambda: deadline + timedelta(seconds=GRACE + 1)
            hops.clear()
            reply = await client.put(path, json={"seq": 2, "selected": [choice]}, headers=bearer)
            seen["late"] = (reply.status_code, reply.json(), list(hops))
        await close_loop_engines()

    run(main)

    # PostgreSQL: all on the loop. SQLite: the write goes to its group commit, who calls is
    # looked up in a thread for the CSRF check (a refusal rolls back in one), and the late
    # save finalises in a thread.
    assert seen == {
        "bearer": (200, True, [] if on_postgresql else ["commit_together"]),
        "replayed": (200, False, []),
        "cookie without token": (
            403,
            {"detail": CSRF_REFUSED},
            [] if on_postgresql else ["resolve_auth", "_end"],
        ),
        "cookie": (200, True, [] if on_postgresql else ["resolve_auth", "commit_together"]),
        "late": (
            409,
            {"detail": attempts_service.DEADLINE_PASSED},
            [] if on_postgresql else ["_save_the_long_way"],
        ),
    }
    with engine.connect() as connection:
        held = connection.execute(
            select(Attempt.status, Answer.seq)
            .join(AttemptItem, AttemptItem.attempt_id == Attempt.id)
            .join(Answer, Answer.attempt_item_id == AttemptItem.id)
            .order_by(Attempt.id)
        ).all()
    assert [tuple(row) for row in held] == [("expired", 1), ("running", 1)]
    engine.dispose()
