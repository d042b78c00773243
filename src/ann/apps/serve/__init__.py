"""``ann serve RUN [RUN ...]``: trained runs behind one local HTTP server that other programs and
people in a browser can use.

* ``GET /`` a page with a panel per run (draw a digit, stream a prompt, fill or translate a
  sentence, upload a picture, predict rows); it fetches nothing from the network.
* ``GET /v1/runs`` and ``GET /v1/runs/{name}``: what each run is and the verbs it offers, with
  their options; ``POST /v1/runs/{name}/{verb}`` calls a verb with a JSON object of its options
  (files as base64 or a form upload; a file the verb writes comes back as base64).
* ``GET /v1/models``, ``POST /v1/completions``, ``POST /v1/chat/completions``: the OpenAI API for
  the runs that write text (GPT, recurrent LMs, T5), streaming included.
* ``GET /healthz``, ``GET /metrics`` (Prometheus).

Each run is loaded once at start (a damaged run is refused with the line ``ann eval`` gives) and
served under its folder's name. Requests for one image classifier that arrive together are
batched. Needs the ``serve`` extra: ``pip install 'ann-nets[serve]'`` (Starlette and uvicorn).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import AnnError


def load_runs(run_dirs) -> dict:
    """Each run directory loaded, by its served name (the folder's name)."""
    from ... import api
    from .hosted import Hosted

    if not run_dirs:
        raise AnnError("name at least one run directory: ann serve runs/cnn-digits-...")
    hosted = {}
    for d in run_dirs:
        name = Path(d).resolve().name
        if name in hosted:
            raise AnnError(f"two runs are named {name!r} ({d} and another); serve folders with "
                           "different names (copy or rename one)")
        hosted[name] = Hosted(name, api.load(d))
    return hosted


def create_app(run_dirs, token: str | None = None, batching: bool = True):
    """The ASGI application serving ``run_dirs`` (for uvicorn, or a test client)."""
    _check_installed()
    from .app import build_app

    return build_app(load_runs(run_dirs), token=token, batching=batching)


def serve(run_dirs, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          batching: bool = True, log=print) -> None:
    """Serve the runs until Ctrl-C (requests in flight finish first). ``token`` (default
    ``$ANN_SERVE_TOKEN``): every request but the page and ``/healthz`` needs
    ``Authorization: Bearer TOKEN``."""
    _check_installed()
    import uvicorn

    if not 0 <= port <= 65535:
        raise AnnError(f"--port must be 0 to 65535, got {port}")
    _check_port(host, port)
    token = token or os.environ.get("ANN_SERVE_TOKEN") or None
    app = create_app(run_dirs, token=token, batching=batching)
    names = ", ".join(app.state.hosted)
    log(f"ann: serving {names} on http://{host}:{port}/ (Ctrl-C stops)"
        + ("; requests need the bearer token" if token else ""))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=30)
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:       # uvicorn finished the requests in flight, then re-raised Ctrl-C
        pass
    log("ann: server stopped")


def _check_port(host: str, port: int):
    """Fail in one line, before loading anything, when the address cannot be listened on."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise AnnError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another "
                       "--port or --host") from None


def _check_installed():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise AnnError("ann serve needs Starlette and uvicorn: pip install 'ann-nets[serve]' "
                       "(or pip install starlette uvicorn)") from None
