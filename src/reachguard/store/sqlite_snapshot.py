"""Batch states read outside the write lock, and the check that they still hold under it.

Why: `serve --workers N` processes take SQLite's one write lock in turn, and a batch used to
read its numbers' states and judge every attempt while holding it (~3/4 of a batch's CPU).
Now `Gateway.decide_many` reads the states in a read transaction (a WAL snapshot: no lock),
judges, and only then takes the write lock, where `snapshot_holds` proves that nothing the
states were built from has changed since; if something has, the batch is read and judged
again under the lock, as before. Either way the decisions are those of a batch judged with
the lock held from the start.

What "nothing changed" means, exactly (the tables `load_states` reads):
  * consents, opt-outs, lists, accounts, outcomes: any insert, update or delete bumps the
    one-row `state_generation` counter (triggers below, so every writer counts, whatever
    code it runs); a different generation under the lock means "read again";
  * contacts: an update or a delete bumps the generation too; an insert does not (every
    allowed attempt inserts one) but gets a `seq` above the snapshot's highest, so the rows
    after it are read and compared with the batch's numbers and (org, debt) pairs. A contact
    written by hand below the highest seq, or over an existing row, bumps it as well;
  * templates (template_versions, template_reviews): not read by `load_states`, but by the
    review `_judge` repeats when the state turns a collection attempt's relation into
    "contact" (attempt_review.py), so they count too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Sequence

from reachguard.state import RecipientState
from reachguard.store.base import StateQuery

# template_*: not read by load_states, but by the review `_judge` runs again when the state turns
# a collection attempt's relation into "contact" (attempt_review.py), which ran under the lock.
_COUNTED = ("consents", "opt_outs", "dnc", "accounts", "outcomes", "template_versions", "template_reviews")
_BUMP = "UPDATE state_generation SET n = n + 1 WHERE id = 1;"

DDL = (
    "CREATE TABLE IF NOT EXISTS state_generation(id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO state_generation(id, n) VALUES (1, 0)",
    *(f"CREATE TRIGGER IF NOT EXISTS {table}_gen_{event.lower()} AFTER {event} ON {table} BEGIN {_BUMP} END"
      for table in _COUNTED for event in ("INSERT", "UPDATE", "DELETE")),
    *(f"CREATE TRIGGER IF NOT EXISTS contacts_gen_{event.lower()} AFTER {event} ON contacts BEGIN {_BUMP} END"
      for event in ("UPDATE", "DELETE")),
    # An insert is found by its seq above the snapshot's highest; one given a lower seq by hand
    # (a gap filled) counts as a change instead, and so does a REPLACE of an existing row (its
    # delete fires no trigger; seen before it, while the row is still there: an insert that
    # lets SQLite choose the seq has NEW.seq = -1 in a BEFORE trigger, so it skips the lookup).
    "CREATE TRIGGER IF NOT EXISTS contacts_gen_insert_below AFTER INSERT ON contacts "
    f"WHEN EXISTS (SELECT 1 FROM contacts WHERE seq > NEW.seq) BEGIN {_BUMP} END",
    "CREATE TRIGGER IF NOT EXISTS contacts_gen_replace BEFORE INSERT ON contacts "
    f"WHEN NEW.seq >= 0 AND EXISTS (SELECT 1 FROM contacts WHERE seq = NEW.seq) BEGIN {_BUMP} END",
)

_MARKS = "SELECT (SELECT n FROM state_generation WHERE id = 1), (SELECT coalesce(max(seq), 0) FROM contacts)"


def ensure(db: sqlite3.Connection) -> None:
    """The counter and its triggers (created in a new store, added to an older one)."""
    for statement in DDL:
        db.execute(statement)


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """States read in one read transaction, and what proves them current later."""

    states: list[RecipientState]
    generation: int
    contacts_seq: int  # the highest contact row the states could have seen
    numbers: frozenset[str]
    debts: frozenset[tuple[str, str]]  # (org, subject) of the collection attempts


def marks(db: sqlite3.Connection) -> tuple[int, int]:
    """The state generation and the highest contact seq, as of the current transaction."""
    generation, seq = db.execute(_MARKS).fetchone()
    return generation, seq


def snapshot_of(states: list[RecipientState], queries: Sequence[StateQuery], generation: int, seq: int) -> StateSnapshot:
    debts = frozenset((q.org, q.subject) for q in queries if q.purpose == "collection" and q.subject is not None)
    return StateSnapshot(states, generation, seq, frozenset(q.number for q in queries), debts)


def holds(db: sqlite3.Connection, snapshot: StateSnapshot) -> bool:
    """True when the states are what reading them now would give (call under the write lock)."""
    generation, seq = marks(db)
    if generation is None or generation != snapshot.generation:  # no counter row: nothing is proved
        return False
    if seq == snapshot.contacts_seq:
        return True
    numbers, debts = snapshot.numbers, snapshot.debts
    for number, org, subject in db.execute(
        "SELECT number, org, subject FROM contacts WHERE seq > ?", (snapshot.contacts_seq,)
    ):
        if number in numbers or (subject is not None and (org, subject) in debts):
            return False
    return True
