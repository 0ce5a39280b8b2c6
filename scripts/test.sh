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
# The browser tests (tests/web) drive Debian's chromium; install it (and Chinese glyphs) as root.
BROWSER_PACKAGES=()
command -v chromium >/dev/null || BROWSER_PACKAGES+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || BROWSER_PACKAGES+=(fonts-wqy-microhei)
if [ ${#BROWSER_PACKAGES[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && SUDO="sudo -n"; }
    if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
        { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
            --no-install-recommends "${BROWSER_PACKAGES[@]}"; } >.venv/apt.log 2>&1 \
            || echo "could not install ${BROWSER_PACKAGES[*]} (see .venv/apt.log): browser tests skipped"
    else
        echo "browser tests skipped: missing ${BROWSER_PACKAGES[*]} (apt-get install them as root)"
    fi
fi
# The figures page's charts: ECharts from the npm registry, served by the app itself.
if [ ! -e web/node_modules/echarts/dist/echarts.min.js ]; then
    if command -v npm >/dev/null; then
        (cd web && npm ci --no-audit --no-fund --loglevel=error) >.venv/npm.log 2>&1 \
            || echo "npm ci in web/ failed (see .venv/npm.log): chart tests skipped"
    else
        echo "chart tests skipped: npm missing (apt-get install npm, then npm ci in web/)"
    fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest -q "$@"
