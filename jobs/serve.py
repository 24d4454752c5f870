"""The real-time scoring job: resolve auth → deploy on Ray Serve → serve until Ctrl-C → stop.

    python -m jobs.serve jobs/configs/serve.yaml model.path=runs/ctr-small/bundle [key=value ...]
    raylane serve --model runs/ctr-small/bundle [--port 8000] [--token-file FILE | --no-auth]

The token comes from $RAYLANE_SERVE_TOKEN or `server.auth.token_file`.
"""

from __future__ import annotations

import sys

from framework.serve import ServeConfig, serve_until_interrupted


def main(cfg: ServeConfig) -> None:
    serve_until_interrupted(cfg)


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("serve", main))
