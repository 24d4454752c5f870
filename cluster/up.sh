#!/usr/bin/env bash
# Start a local Ray head node with token auth (dashboard and Jobs API on 127.0.0.1).
# Same as `raylane cluster up`; every option passes through, e.g. ./cluster/up.sh --num-cpus 8 --num-gpus 1
set -euo pipefail
exec raylane cluster up "$@"
