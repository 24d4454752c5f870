#!/usr/bin/env bash
# Stop the head node started by cluster/up.sh (only that one; other Ray clusters on the machine keep running).
set -euo pipefail
exec raylane cluster down "$@"
