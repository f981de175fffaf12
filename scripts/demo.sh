#!/usr/bin/env bash
# README command 1: a real assistance session on this machine (embedded rendezvous).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh build
exec cargo run --release --locked -p tandem -- demo "$@"
