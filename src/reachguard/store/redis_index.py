"""Per-org index of the Redis counter keys: which numbers of an org had a contact since when.

Why: the scrub needs every counter key of one org with a contact in its window. SCAN MATCH walks
the whole keyspace (every org's keys: ~3.5 s at 100,000 counters under load); this sorted set
names them directly, and only those whose latest contact is recent enough.

Layout (next to the counters of redis_scripts.py):

* ``{prefix}i:{org}`` — member: the number, score: the latest contact time on
  ``{prefix}c:{org}|{number}``. FINISH keeps it (raises the score, trims entries older than
  ``retention`` before the newest contact it writes, leaving a sentinel ``h:<cut>`` at -inf that
  says "entries older than <cut> may be gone", and refreshes its TTL with the counters').
* ``{prefix}i:ready`` — the index may be trusted. Set by ``reachguard db redis-index`` (which
  builds the index from one SCAN first) once every replica runs code that writes the index:
  replicas running older code write counters without it. Its value is Redis's ``evicted_keys``
  then: if Redis evicted anything since, an index entry may be gone, so the scrub SCANs again.

Whenever the index cannot be trusted (no ``ready``, keys evicted since, a window starting before
the org's trim sentinel), the reader answers None and the scrub SCANs as before: never fewer
keys, only slower.
"""

from __future__ import annotations

from typing import Any

READY = "i:ready"

# KEYS[1] ready, KEYS[2] the org's index; ARGV[1] since. {ready or '', trim horizon or '', numbers
# with a contact at or after `since`, joined by newlines (one string: redis-py parses a long
# reply element by element)}.
_READ = """
local ready = redis.call('GET', KEYS[1])
if not ready then return {'', '', ''} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
local h = ''
if first[1] and string.sub(first[1], 1, 2) == 'h:' then h = string.sub(first[1], 3) end
return {ready, h, table.concat(redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf'), '\\n')}
"""

# KEYS: counter keys ({prefix}c:{org}|{number}); ARGV[1] prefix, ARGV[2] the index TTL in ms.
# Each key's newest contact (the sentinel at -inf excluded) raises its org's entry.
_BACKFILL = """
local prefix, ttl = ARGV[1], ARGV[2]
local skip = #prefix + 3
local done = 0
for i = 1, #KEYS do
  local org, number = string.match(string.sub(KEYS[i], skip), '^(.*)|([^|]*)$')
  local top = redis.call('ZREVRANGEBYSCORE', KEYS[i], '+inf', '(-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if org and top[2] then
    local ikey = prefix .. 'i:' .. org
    local cur = redis.call('ZSCORE', ikey, number)
    if not cur or tonumber(cur) < tonumber(top[2]) then redis.call('ZADD', ikey, top[2], number) end
    redis.call('PEXPIRE', ikey, ttl)
    done = done + 1
  end
end
return done
"""


def index_key(prefix: str, org: str) -> str:
    return f"{prefix}i:{org}"


def index_entry(prefix: str, key: str) -> tuple[str, str]:
    """(index key, member) for a number counter key, ('', '') for any other key (a debt's)."""
    head = prefix + "c:"
    if not key.startswith(head):
        return "", ""
    org, _, number = key[len(head):].rpartition("|")
    return index_key(prefix, org), number


def evicted_keys(client: Any) -> int:
    return int(client.info("stats").get("evicted_keys", 0))


def indexed_numbers(counters: Any, org: str, since: float) -> list[str] | None:
    """The numbers of `org` whose counter has a contact at or after `since`, from the index; None
    when the index cannot be trusted for that window (the caller SCANs)."""
    client = counters.client
    ready, horizon, numbers = client.eval(_READ, 2, counters.prefix + READY, index_key(counters.prefix, org), repr(since))
    if ready == "" or (horizon != "" and since < float(horizon)):
        return None
    if str(evicted_keys(client)) != ready:
        return None
    return numbers.split("\n") if numbers else []


def build(counters: Any, chunk: int = 1000) -> int:
    """Index every number counter under the prefix (one SCAN), then mark the index ready.

    Run once every replica writes the index (FINISH does; decisions may go on meanwhile: both
    only raise an entry to its key's newest contact). Returns the number of keys indexed.
    """
    client = counters.client
    prefix = counters.prefix
    eviction = evicted_keys(client)
    names = list(dict.fromkeys(client.scan_iter(match=_escape(prefix) + "c:*", count=10_000)))
    done = 0
    for start in range(0, len(names), chunk):
        part = names[start:start + chunk]
        done += int(client.eval(_BACKFILL, len(part), *part, prefix, counters.key_ttl_ms))
    client.set(prefix + READY, str(eviction))
    return done


def _escape(text: str) -> str:
    """`text` as a literal in a SCAN MATCH pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


__all__ = ["READY", "build", "index_entry", "index_key", "indexed_numbers"]
