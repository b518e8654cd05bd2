"""The rules, one module per family; importing this package registers them in order.

Where to look: consent & opt-outs → consent.py; lists → lists.py; quiet hours → hours.py;
caps → frequency.py; account, stage, wrong number, cooldown → collection.py; contacts of
the borrower → third_party.py. Their tests sit in tests/rules/ under the same names.
"""

from reachguard.rules import consent, lists  # noqa: F401  (registration order = reason order)
from reachguard.rules import collection, third_party  # noqa: F401
from reachguard.rules import hours, frequency  # noqa: F401
from reachguard.rules.base import RULES, Context, Hit, Rule

__all__ = ["RULES", "Context", "Hit", "Rule", "rules_for"]

_BY_PURPOSE = {purpose: tuple(r for r in RULES if purpose in r.purposes) for purpose in ("marketing", "collection", "service")}


def rules_for(purpose: str) -> tuple[Rule, ...]:
    return _BY_PURPOSE[purpose]
