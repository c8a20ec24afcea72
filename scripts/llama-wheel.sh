#!/usr/bin/env bash
# Installs llama-cpp-python (the real llama.cpp server the provider tests talk
# to) into the venv given as $1, from a wheel cached under ~/.cache so the
# ~15-minute CPU-only compile happens once per machine, not once per venv.
# A fresh machine builds the wheel here; every later `make test` reuses it.
set -euo pipefail
VENV=${1:?usage: llama-wheel.sh VENV}
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
CACHE=${AGENTCTL_WHEEL_CACHE:-$HOME/.cache/agentctl/wheels}
mkdir -p "$CACHE"

if "$VENV/bin/python" -c "import llama_cpp.server, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null; then
    exit 0
fi

wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
    echo "building llama-cpp-python $VERSION (CPU only, once per machine; ~15 min on 2 cores) into $CACHE" >&2
    # Portable CPU build (AVX2/FMA/F16C baseline rather than this exact CPU),
    # nothing llama-cpp-python does not load: no tests, examples, tools,
    # multimodal (llava/mtmd) helper or curl.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF -DCMAKE_BUILD_TYPE=Release}"
    export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
    tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
    "$VENV/bin/pip" wheel -q --no-deps --no-cache-dir -w "$tmp" "llama-cpp-python==$VERSION"
    mv "$tmp"/llama_cpp_python-*.whl "$CACHE"/
    rm -rf "$tmp"
    wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl | head -n1)
fi
"$VENV/bin/pip" install -q "$wheel[server]"
