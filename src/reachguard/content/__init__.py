"""Content review: what an SMS, push message or call script says, checked before it is sent.

Public API (the decision engine and the ``reachguard review`` command call these):

* :func:`review` — every finding for a text, its purpose and relation, plus SMS length;
* :func:`blocking` — which of those findings deny the attempt under the org's policy;
* :class:`OrgLexicon` — an org's own phrases, allow-list entries and link domains.
"""

from reachguard.content.lexicon import OrgLexicon, Pack
from reachguard.content.review import ReviewResult, blocking, review

__all__ = ["OrgLexicon", "Pack", "ReviewResult", "blocking", "review"]
