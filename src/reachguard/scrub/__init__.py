"""Campaign scrubbing: a whole contact list checked against the store in one set-based pass.

`run_scrub(...)` is the library entry point (the CLI's `reachguard scrub` and, later, the API's
`POST /v1/scrubs` call it); it reports progress through a callback and returns a ScrubReport.
How it works and how it stays in agreement with `Gateway.decide`: docs/scrub.md.
"""

from reachguard.scrub.pipeline import Progress, run_scrub
from reachguard.scrub.report import ScrubReport
from reachguard.scrub.source import NUMBER_COLUMNS, ScrubInputError

__all__ = ["NUMBER_COLUMNS", "Progress", "ScrubInputError", "ScrubReport", "run_scrub"]
