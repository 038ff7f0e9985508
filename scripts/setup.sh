#!/usr/bin/env bash
# Creates ./.venv and installs Studio with its pinned dependencies (torch==2.13.0 and the rest, requirements.txt).
# --test also installs the test tools (requirements-test.txt) and Debian's chromium for the browser test.
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if ! "$py" -c "import venv, ensurepip" 2>/dev/null; then
  # Debian and Ubuntu ship venv's pip bootstrap separately.
  echo "setup: installing python3-venv" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null
fi
# FluidSynth renders MIDI to audio with a real soundfont (Studio falls back to plain sine waves without it).
if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth; then
  echo "setup: installing libfluidsynth3" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  ($sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends libfluidsynth3 >/dev/null) \
    || echo "setup: could not install libfluidsynth3; audio will use the sine-wave fallback" >&2
fi
# The browser test drives Debian's Chromium through Playwright (`playwright install` cannot fetch browsers here).
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium (for the browser test)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
requirements=requirements.txt
[ "${1:-}" = "--test" ] && requirements=requirements-test.txt
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
