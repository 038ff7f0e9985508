#!/usr/bin/env bash
# Installs Studio with its test tools (and Debian's chromium for the browser test), lints, and runs the whole test
# suite (what CI runs). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
