"""The engine and every read work at both ends of the time range the contract accepts.

Times outside it are refused at decode (test_errors.py); this checks the range is safe: state
recorded at its first and last second, then decisions of every purpose, channel and relation
(whose rules add cooldowns, look back over caps, end quiet-hours windows and convert to local
time in zones from -12:00 to +14:00), and the reads that convert stored times back to dates.
"""

from __future__ import annotations

import itertools

import pytest

from apikit import NUMBER, Api, attempt
from reachguard.model import CHANNELS
from reachguard.timeutil import EARLIEST, LATEST

PURPOSES = ("marketing", "collection", "service")
RELATIONS = ("borrower", "contact", "guarantor", "prospect")
# the same two instants written in the zones at either end of the world's offsets
FIRST = [EARLIEST.isoformat(), "1970-01-01T14:00:00+14:00", "1969-12-31T12:00:00-12:00"]
LAST = ["2999-12-31T23:59:59+00:00", "3000-01-01T13:59:59+14:00", "2999-12-31T11:59:59-12:00"]


@pytest.mark.parametrize("times", [FIRST, LAST], ids=["first second", "last second"])
def test_decisions_and_reads_at_the_ends_of_the_range(api: Api, times: list[str]) -> None:
    at = times[0]
    api.event({"type": "account", "org": "acme", "subject": "loan-1", "borrower": NUMBER, "at": at, "days_past_due": 40,
               "contacts": [{"to": "+8613900139000", "authorized": True}]})
    api.event({"type": "outcome", "org": "acme", "to": NUMBER, "at": at, "result": "conversation", "subject": "loan-1"})
    api.event({"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": at, "expires_at": times[1]})
    verdicts = set()
    for when, purpose, channel, relation in itertools.product(times, PURPOSES, CHANNELS, RELATIONS):
        extra = {"subject": "loan-1"} if purpose == "collection" else {}
        response = api.post("/v1/decisions", attempt(purpose=purpose, channel=channel, relation=relation, at=when, **extra))
        assert response.status_code == 200, (when, purpose, channel, relation, response.text)
        verdicts.add(response.json()["verdict"])
    assert "allow" in verdicts and len(verdicts) > 1  # state was consulted, not every rule skipped
    history = api.get(f"/v1/numbers/{NUMBER}")
    assert history.status_code == 200, history.text
    listing = api.get("/v1/decisions?limit=500")
    assert listing.status_code == 200 and len(listing.json()["decisions"]) == len(times) * 3 * len(CHANNELS) * 4
    lookup = api.get(f"/v1/numbers/{NUMBER}/reputation?at={at.replace('+', '%2B')}")
    assert lookup.status_code == 200, lookup.text
