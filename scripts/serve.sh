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
# The web figures page draws its charts with ECharts, installed from the npm registry and served
# by the app itself (township networks cannot count on an outside CDN).
if [ ! -e web/node_modules/echarts/dist/echarts.min.js ]; then
    if command -v npm >/dev/null; then
        (cd web && npm ci --no-audit --no-fund --loglevel=error) >.venv/npm.log 2>&1 \
            || echo "npm ci in web/ failed (see .venv/npm.log): the figures page shows tables only"
    else
        echo "npm missing: the figures page shows tables only (apt-get install npm; npm ci in web/)"
    fi
fi
exec .venv/bin/grievance-bot serve "$@"
