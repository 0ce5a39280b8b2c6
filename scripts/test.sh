#!/usr/bin/env bash
# Run the whole test suite: installs what it needs into .venv, then lint, types and tests.
# PostgreSQL runs too when GRIEVANCE_TEST_DATABASE_URL is set (.ci/run sets it); the suite drives
# PostgreSQL and Redis, so the postgres and redis extras are installed beside dev, and it trains the
# category classifier, so the learn extra too.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,postgres,redis,learn]' >.venv/install.log 2>&1 \
    || { cat .venv/install.log; exit 1; }
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest -q "$@"
