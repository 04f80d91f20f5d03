#!/usr/bin/env bash
# hermod and the Hermes 0.19 gateway side by side: api-latency,
# api-throughput, memory and startup against each, one after the other, in
# one run, against the same in-process fake LLM and load generator.
#
#   bench/compare-hermes.sh                  # default sizes (see BENCHMARKS.md)
#   bench/compare-hermes.sh --turns 200      # extra arguments go to `hermod-bench compare`
#
# The Hermes gateway is installed once into a cached virtual environment
# ($HERMES_VENV, default ~/.cache/hermod/venv-hermes); it then runs offline.
# The table goes to stdout, the figures to bench-results.json.
set -euo pipefail

cd "$(dirname "$0")/.."

venv="${HERMES_VENV:-$HOME/.cache/hermod/venv-hermes}"
if [ ! -x "$venv/bin/hermes" ]; then
    echo "creating $venv (hermes-agent 0.19.0)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet hermes-agent==0.19.0 aiohttp==3.14.1
fi

cargo build --release -p hermod -p hermod-bench

target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$target_dir/release/hermod-bench" compare \
    --hermes-venv "$venv" \
    --hermod-bin "$target_dir/release/hermod" \
    --json bench-results.json \
    "$@"
