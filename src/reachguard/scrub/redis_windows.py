"""One read of an org's Redis frequency counters for a whole scrub (PostgreSQL + Redis stores).

Why one read, kept: the set-based export (export_pg.redis_contacts) builds the features from
these members, and the engine's view (snapshot_pg.PgView) judges the representative rows of
each signature group on them too. Were the engine to read Redis live, a contact recorded by a
decider between the two reads would give the representatives a FREQUENCY_CAP that is then
copied to every row of their group — rows never contacted (review finding). A key SCAN did not
find had no contact in the window when it was read: its window is empty here too.

Why bytes, not a dict of lists: at 10M rows there can be millions of members; one buffer of
them and an array of their ends costs ~90 bytes a member instead of a Python string each.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import numpy as np

# The windows of many counter keys in one call, as two strings (redis-py parses a reply of
# 100,000 keys' members, element by element, at ~25 us each): "index length …" for every member
# (the key's position in KEYS, the member's length in bytes) and the members back to back.
_WINDOWS = """
local sizes, data = {}, {}
for i = 1, #KEYS do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], ARGV[1], '+inf')) do
    sizes[#sizes + 1] = i .. ' ' .. #m
    data[#data + 1] = m
  end
end
return {table.concat(sizes, ' '), table.concat(data)}
"""

CHUNK = 1000


def scan_names(client: Any, pattern: str) -> list[str]:
    """Every key matching `pattern`, once each, in SCAN's order (SCAN may return a key twice,
    e.g. while the keyspace is rehashed; counted twice, its contacts would count double)."""
    return list(dict.fromkeys(client.scan_iter(match=pattern, count=10_000)))


class RedisWindows:
    """The members of every counter key of one org with a score >= `since`, as read once."""

    def __init__(self, head: str, since: float, names: list[str], data: bytes, ends: np.ndarray, first: np.ndarray):
        self.head, self.since, self.names = head, since, names
        self._index = {name: i for i, name in enumerate(names)}
        self._data, self._ends, self._first = data, ends, first

    @classmethod
    def read(cls, counters: Any, org: str, since: float) -> "RedisWindows":
        """SCAN the org's number keys, read each window by ZRANGEBYSCORE, CHUNK keys a script call
        (the horizon sentinel sits at -inf, outside any window)."""
        from redis.client import NEVER_DECODE

        head = counters.number_key(org, "")
        client = counters.client
        names = scan_names(client, re.sub(r"([*?\[\]\\])", r"\\\1", head) + "*")
        sha = client.script_load(_WINDOWS) if names else ""
        parts: list[bytes] = []
        sizes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            found, data = client.execute_command("EVALSHA", sha, len(chunk), *chunk, repr(since), **{NEVER_DECODE: True})
            pairs = np.array(found.split(), dtype=np.int64).reshape(-1, 2)
            owners.append(pairs[:, 0] - 1 + start)
            sizes.append(pairs[:, 1])
            parts.append(data)
        owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        ends = np.cumsum(np.concatenate(sizes)) if sizes else np.zeros(0, np.int64)
        first = np.searchsorted(owner, np.arange(len(names) + 1))  # members of a key are contiguous
        return cls(head, since, names, b"".join(parts), ends, first)

    def __len__(self) -> int:
        return len(self._ends)

    def _member(self, at: int) -> str:
        start = int(self._ends[at - 1]) if at else 0
        return self._data[start:int(self._ends[at])].decode("utf-8", "replace")

    def items(self) -> Iterator[tuple[int, str]]:
        """(index into `names`, member) for every member read (the export's pass over all of them:
        plain lists, not a numpy scalar per member)."""
        ends, first, data = self._ends.tolist(), self._first.tolist(), self._data
        start = 0
        for index in range(len(self.names)):
            for at in range(first[index], first[index + 1]):
                end = ends[at]
                yield index, data[start:end].decode("utf-8", "replace")
                start = end

    def members(self, name: str, since: float) -> list[str] | None:
        """The members of key `name` with a time >= `since`, as read; None when this read does not
        cover that window (another org's key, or a window starting before `self.since`)."""
        if since < self.since or not name.startswith(self.head):
            return None
        index = self._index.get(name)
        if index is None:
            return []  # no such key when it was read: no contact in the window
        found = [self._member(at) for at in range(int(self._first[index]), int(self._first[index + 1]))]
        return [m for m in found if _at(m) >= since] if since > self.since else found


def _at(text: str) -> float:
    """A member's time (its score, written first); an unparsable one is kept (as live reads would)."""
    try:
        return float(text.split("|", 1)[0])
    except ValueError:
        return float("inf")
