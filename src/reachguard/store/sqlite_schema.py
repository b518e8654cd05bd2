"""The SQLite store's schema: its tables (DDL) and what opening a store does to a file.

Why a module of its own: a SQLite store has no migration tool — every open creates what is
missing and brings an older file up to date (`create_or_upgrade`), inside the store's first
write transaction. What a schema version added, and how older stores catch up, is read here
(the scrub's key tables: sqlite_keys.py).
"""

from __future__ import annotations

import sqlite3

from reachguard.store import sqlite_keys, sqlite_snapshot

SCHEMA_VERSION = 2  # 2: dnc_keys, opt_out_keys (sqlite_keys.py)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, channels INTEGER NOT NULL,
  at REAL NOT NULL, expires_at REAL, withdrawn INTEGER NOT NULL, evidence TEXT);
CREATE INDEX IF NOT EXISTS consents_by_number ON consents(number, org);
CREATE TABLE IF NOT EXISTS opt_outs(
  seq INTEGER PRIMARY KEY, number TEXT NOT NULL, org TEXT, channels INTEGER NOT NULL,
  at REAL NOT NULL, kind TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS opt_outs_by_number ON opt_outs(number);
CREATE TABLE IF NOT EXISTS dnc(
  number TEXT NOT NULL, list TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(number, list)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts(
  org TEXT NOT NULL, subject TEXT NOT NULL, borrower TEXT NOT NULL, days_past_due INTEGER NOT NULL,
  contacts TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(org, subject)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, subject TEXT,
  result TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_by_number ON outcomes(number, org);
CREATE TABLE IF NOT EXISTS contacts(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, channel TEXT NOT NULL,
  purpose TEXT NOT NULL, relation TEXT NOT NULL, subject TEXT, at REAL NOT NULL,
  attempt_id TEXT, agent TEXT, code TEXT);
CREATE INDEX IF NOT EXISTS contacts_by_number ON contacts(number, org, at);
CREATE INDEX IF NOT EXISTS contacts_by_subject ON contacts(org, subject, at) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS inbound(
  seq INTEGER PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL, org TEXT,
  text TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_by_sender ON inbound(sender);
CREATE TABLE IF NOT EXISTS template_versions(
  org TEXT NOT NULL, template_id TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL,
  author TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(org, template_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS template_reviews(
  org TEXT NOT NULL, template_id TEXT NOT NULL, version INTEGER NOT NULL, level INTEGER NOT NULL,
  level_name TEXT NOT NULL, reviewer TEXT NOT NULL, verdict TEXT NOT NULL, comment TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY(org, template_id, version, level)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger(
  org TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL, number TEXT, tag TEXT,
  body TEXT NOT NULL, body_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL,
  PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_by_number ON ledger(number, org) WHERE number IS NOT NULL;
CREATE TABLE IF NOT EXISTS api_keys(
  key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, org TEXT NOT NULL, role TEXT NOT NULL,
  created_at REAL NOT NULL, revoked_at REAL, label TEXT);
CREATE TABLE IF NOT EXISTS checkpoints(
  org TEXT NOT NULL, seq INTEGER NOT NULL, entry_hash TEXT NOT NULL, signed_at REAL NOT NULL,
  key_id TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS complaint_cases(
  org TEXT NOT NULL, seq INTEGER NOT NULL, number TEXT, at REAL NOT NULL, text TEXT, status TEXT NOT NULL,
  assignee TEXT, reply TEXT, acknowledged_at REAL, resolved_at REAL, updated_at REAL,
  PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS console_sessions_ended(
  session_id TEXT PRIMARY KEY, issued_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reports(
  seq INTEGER PRIMARY KEY, number TEXT NOT NULL, label TEXT NOT NULL, reporter BLOB NOT NULL, at REAL NOT NULL, text TEXT);
CREATE TABLE IF NOT EXISTS report_aggregates(
  number TEXT PRIMARY KEY, votes BLOB NOT NULL, reports INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reporters(
  hash BLOB PRIMARY KEY, first_at REAL NOT NULL, last_at REAL NOT NULL, reports INTEGER NOT NULL, burst REAL NOT NULL,
  burst_at REAL NOT NULL, peak REAL NOT NULL, agree INTEGER NOT NULL, disagree INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appeals(
  id INTEGER PRIMARY KEY, number TEXT NOT NULL, org TEXT NOT NULL, label TEXT, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS appeals_by_number ON appeals(number);
CREATE TABLE IF NOT EXISTS sender_numbers(
  number TEXT PRIMARY KEY, org TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sender_numbers_by_org ON sender_numbers(org);
"""


def configure(db: sqlite3.Connection, path: str, synchronous: str) -> None:
    """Connection settings: busy timeout, WAL (files only), synchronous, page cache."""
    db.execute("PRAGMA busy_timeout = 60000")
    if path != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("PRAGMA cache_size = -65536")


def create_or_upgrade(db: sqlite3.Connection) -> None:
    """The schema, created or brought up to date; run inside the opening write transaction."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    # Verification looks codes up with the number (contact_by_code): contacts_by_number finds
    # them. An index on the codes alone, random by design, put every allowed SMS on its own
    # page: ~4 KB of WAL per contact, most of a batch's commit. Stores made before lose it here.
    db.execute("DROP INDEX IF EXISTS contacts_by_code")
    sqlite_keys.ensure(db)  # the scrub's key tables: created, or backfilled in an older store
    sqlite_snapshot.ensure(db)  # the state generation a batch's snapshot is checked against
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
