#!/usr/bin/env bash
# Start the bot on this machine: embedded SQLite in ./instance, the demo town, development
# credentials when none are set. Installs what it needs into .venv first: the base package, which
# is all SQLite needs (a county adds the postgres extra, see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e . >.venv/install.log 2>&1 \
    || { cat .venv/install.log; exit 1; }
exec .venv/bin/grievance-bot serve "$@"
