#!/usr/bin/env bash
# Build llama.cpp's `llama-server` (CPU only) from source that comes from PyPI, and cache it
# outside the repository, so the tests can run against a real, independent OpenAI-compatible server.
#
# Where the source comes from: no maintained PyPI wheel ships a llama-server binary, but the
# llama-cpp-python source distribution vendors the whole of llama.cpp (vendor/llama.cpp, including
# tools/server). Only that sdist is downloaded (pip download, no build of the Python bindings); only
# the llama-server target is built. The web UI's assets are not in the sdist, and llama.cpp would
# fetch them at build time from a model hub, so the UI is switched off (the tests use the API only).
#
# Result: $VEL_LLAMA_CACHE/llama-server-<llama-cpp-python version>/llama-server, one static
# executable (the ggml/llama libraries are linked in; only libc/libstdc++/libgomp stay dynamic).
# Idempotent: exits at once when that binary exists and answers --version. Prints its path last.
#
#   VEL_LLAMA_CACHE            cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vel_jupyter)
#   VEL_LLAMA_CPP_PYTHON       llama-cpp-python version whose vendored llama.cpp is built
#   PYTHON                     the Python whose pip downloads the sdist (default: python3)
#   VEL_LLAMA_JOBS             parallel compile jobs (default: 2)
set -euo pipefail

VERSION="${VEL_LLAMA_CPP_PYTHON:-0.3.36}"
CACHE="${VEL_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vel_jupyter}"
DEST="$CACHE/llama-server-$VERSION"
BIN="$DEST/llama-server"
PYTHON="${PYTHON:-python3}"
JOBS="${VEL_LLAMA_JOBS:-2}"

usable() { [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; }

if usable; then
  echo "llama-server: cached at $BIN" >&2
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE"
# One build at a time per cache (two make runs, or pytest-xdist workers, must not race).
exec 9>"$CACHE/.llama-server-$VERSION.lock"
if command -v flock >/dev/null; then flock 9; fi
if usable; then echo "$BIN"; exit 0; fi

for tool in cmake c++ tar; do
  command -v "$tool" >/dev/null || { echo "llama-server: '$tool' is required (apt-get install cmake g++)" >&2; exit 1; }
done

work="$(mktemp -d "$CACHE/build-$VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS

echo "llama-server: downloading the llama-cpp-python $VERSION sdist from PyPI" >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
  --no-binary llama-cpp-python --dest "$work" "llama-cpp-python==$VERSION" >&2
tar -xzf "$work/llama_cpp_python-$VERSION.tar.gz" -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
[ -f "$src/tools/server/server.cpp" ] || { echo "llama-server: $src has no tools/server" >&2; exit 1; }

generator=()  # Ninja when installed (and no CMAKE_GENERATOR chosen), else CMake's default, make
if [ -z "${CMAKE_GENERATOR:-}" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi

echo "llama-server: configuring (CPU only, portable, static)" >&2
cmake -S "$src" -B "$work/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF \
  -DGGML_BACKEND_DL=OFF \
  -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON \
  >"$work/configure.log" 2>&1 || { tail -40 "$work/configure.log" >&2; exit 1; }

echo "llama-server: building with $JOBS jobs (several minutes on 2 cores)" >&2
cmake --build "$work/build" --target llama-server --parallel "$JOBS" \
  >"$work/build.log" 2>&1 || { tail -60 "$work/build.log" >&2; exit 1; }

built="$work/build/bin/llama-server"
"$built" --version >&2
# Install atomically: a half-copied binary must never look usable.
mkdir -p "$DEST"
cp "$built" "$BIN.tmp.$$"
mv -f "$BIN.tmp.$$" "$BIN"
echo "llama-cpp-python $VERSION (vendored llama.cpp); built in $((SECONDS - start)) s" >"$DEST/BUILD-INFO"
echo "llama-server: built in $((SECONDS - start)) s -> $BIN" >&2
echo "$BIN"
