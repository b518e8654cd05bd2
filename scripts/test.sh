#!/usr/bin/env bash
# The test command: set up if needed, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || ./scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
