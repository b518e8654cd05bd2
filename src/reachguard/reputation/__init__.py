"""Number reputation from recipients' reports: the stable entry points.

    from reachguard import reputation
    reputation.record_report(store, "138 0013 8000", "collection", reporter="user-42", at=now, text="…")
    with reputation.BulkIngest(store) as bulk: bulk.add(reports)   # millions: fast, lookups lag until folded
    rep = reputation.lookup(store, "+8613800138000", at=now)   # -> Reputation (view.py)
    rep.label, rep.confidence, rep.reporters, rep.owner, rep.appeals, rep.to_builtins()

Reporter ids are stored only as keyed hashes (keying.py); a Reputation never carries a
reporter id, hash or report text. Constants: policy [reputation] (policy/schema.py).
Errors: InvalidNumber (numbers.py), EventError (bad label/time/text, codes as the event
stream), OwnerError (registrations and appeals).
"""

from __future__ import annotations

from reachguard.events import EventError
from reachguard.model import REPORT_LABELS, Report
from reachguard.numbers import InvalidNumber
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.bulk import BulkIngest
from reachguard.reputation.ingest import fold, make_report, record_report, record_reports
from reachguard.reputation.keying import reporter_hash, reporter_key
from reachguard.reputation.lookup import lookup, score
from reachguard.reputation.rebuild import rebuild
from reachguard.reputation.owners import OwnerError, appeal, register_sender_number, unregister_sender_number
from reachguard.reputation.view import LABEL_NAMES, Reputation

LABELS = REPORT_LABELS

__all__ = [
    "BulkIngest", "EventError", "InvalidNumber", "LABELS", "LABEL_NAMES", "OwnerError", "Report", "Reputation", "ReputationPolicy",
    "appeal", "fold", "lookup", "make_report", "rebuild", "record_report", "record_reports", "register_sender_number", "reporter_hash",
    "reporter_key", "score", "unregister_sender_number",
]
