#!/usr/bin/env bash
# Set up .venv from requirements.lock and install this project (editable) into it, and
# node_modules/ from package-lock.json: the pinned browser files of GraphiQL, which the
# gateway serves itself so that /graphql works without internet.
# Idempotent; when the locks, pyproject.toml and this script are unchanged it only compares
# stamps and returns at once. Needs python3 >= 3.11 (set PYTHON to choose one) and npm.
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

sync_python() {
  if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
    "$VENV/bin/python" -c 'import tongxin' >/dev/null 2>&1; then
    return
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
}

# The pages' browser files (GraphiQL at the versions strawberry's page names, the dashboard's
# chart library and maps; package.json pins them) from the npm
# registry, exactly as package-lock.json says, with no install scripts run.
WEB_STAMP=node_modules/.tongxin-stamp

install_web_assets() {
  local want_web
  want_web="$("$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' package-lock.json)"
  if [[ -f "$WEB_STAMP" && "$(cat "$WEB_STAMP")" == "$want_web" ]]; then
    return
  fi
  command -v npm >/dev/null 2>&1 ||
    die "npm is needed for the pages' browser files (package-lock.json); install Node.js/npm (Debian: apt install npm) and run 'make bootstrap' again"
  echo "bootstrap: installing the pages' browser files into node_modules/ (npm ci)"
  local log
  log="$(mktemp)"
  if ! npm ci --ignore-scripts --no-audit --no-fund --fetch-retries=1 --fetch-timeout=60000 >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "could not install the pages' browser files from the npm registry ($(npm config get registry)); is it reachable? Run 'make bootstrap' again once it is (the gateway's /graphql page says what is missing meanwhile)"
  fi
  rm -f "$log"
  echo "$want_web" >"$WEB_STAMP"
}

sync_python
install_web_assets
