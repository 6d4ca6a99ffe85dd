"""The hash chain of the audit log. Pure: no DB, no web."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedEntry:
    id: int
    at: datetime
    actor: str | None
    action: str
    target: str
    details: dict
    prev_sha256: str
    sha256: str


def entry_digest(entry) -> str:
    """SHA-256 over the entry's content and its predecessor's digest (``entry.prev_sha256``).

    ``entry``: a ChainedEntry, or an AuditEntry about to be written.
    """
    payload = json.dumps(
        {
            "prev": entry.prev_sha256,
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "details": entry.details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def verify_chain(entries: Iterable[ChainedEntry]) -> list[str]:
    """Every break in the chain, in French: an edited entry, a deleted one, a forged link."""
    problems: list[str] = []
    previous: ChainedEntry | None = None
    for entry in entries:
        # Ids may have gaps (a rolled-back insert consumes one): only the links count.
        expected_prev = previous.sha256 if previous else GENESIS
        if entry.prev_sha256 != expected_prev:
            after = f"l'entrée {previous.id}" if previous else "le début du journal"
            problems.append(
                f"entrée {entry.id} : lien rompu avec {after} (entrée supprimée ou insérée)"
            )
        if entry_digest(entry) != entry.sha256:
            problems.append(f"entrée {entry.id} modifiée ({entry.action} {entry.target})")
        previous = entry
    return problems
