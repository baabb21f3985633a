#!/usr/bin/env bash
# Set up .venv from requirements.lock and install this project (editable) into it.
# Idempotent; when requirements.lock, pyproject.toml and this script are unchanged it only
# compares a stamp and returns at once. Needs only python3 >= 3.11 (set PYTHON to choose one).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
UV_VERSION=0.13.9
STAMP="$VENV/.bootstrap-stamp"

die() { echo "bootstrap: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 ||
  die "'$PYTHON' not found: install Python 3.11 or newer (or set PYTHON=/path/to/python3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "Tongxin needs Python >= 3.11, but '$PYTHON' is $("$PYTHON" -V 2>&1); set PYTHON=python3.11 (or newer)"

# What the environment is made from: any change re-runs the set-up.
want="$("$PYTHON" - <<'PY'
import hashlib, sys
digest = hashlib.sha256()
for name in ("requirements.lock", "pyproject.toml", "scripts/bootstrap.sh"):
    with open(name, "rb") as file:
        digest.update(name.encode() + b"\0" + file.read() + b"\0")
digest.update(sys.version.encode())
print(digest.hexdigest())
PY
)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
  "$VENV/bin/python" -c 'import tongxin' >/dev/null 2>&1; then
  exit 0
fi

# A venv made by another (or a too old) interpreter is rebuilt.
if [[ -e "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  echo "bootstrap: rebuilding $VENV (missing or broken interpreter)"
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "bootstrap: creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV" ||
    die "'$PYTHON -m venv' failed; on Debian/Ubuntu install the venv module (apt install python3-venv)"
fi

if [[ "$("$VENV/bin/uv" --version 2>/dev/null || true)" != "uv $UV_VERSION"* ]]; then
  echo "bootstrap: installing uv $UV_VERSION"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

echo "bootstrap: syncing $VENV with requirements.lock"
"$VENV/bin/uv" pip sync -q --python "$VENV/bin/python" requirements.lock
[[ -f README.md ]] || die "README.md is missing (the package metadata reads it)"
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e .

echo "$want" >"$STAMP"
echo "bootstrap: ready ($VENV)"
