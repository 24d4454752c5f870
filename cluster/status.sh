#!/usr/bin/env bash
# Nodes, resources and running jobs of the head started by cluster/up.sh (or of --address URL).
set -euo pipefail
exec raylane cluster status "$@"
