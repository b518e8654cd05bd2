#!/usr/bin/env bash
# The main job on the embedded default (SQLite, nothing to install): set up if needed, then
# run `reachguard` with the given arguments — by default, replay the bundled example stream.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/reachguard ] || ./scripts/setup.sh
if [ "$#" -eq 0 ]; then
  set -- replay examples/events.jsonl
fi
exec .venv/bin/reachguard "$@"
