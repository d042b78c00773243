"""The ASGI application: routes, bearer-token check, request metrics, upload limit and the JSON
error body of every refusal. Built on Starlette; :func:`ann.apps.serve.serve` runs it under
uvicorn."""

from __future__ import annotations

import hmac
import json
import sys
import time
import traceback
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Match, Route

from ...errors import AnnError
from . import completions
from .batching import Batcher, batchable
from .errors import RequestError
from .hosted import Hosted, Scratch, call_task
from .stats import Stats

MAX_UPLOAD = 10 * 1024 * 1024     # bytes of one request body
OPEN_PATHS = ("/", "/healthz")    # answered without the token: the page holds no run data


def error_response(e: RequestError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status)


def endpoint(fn):
    """A route handler whose refusals become JSON errors: a :class:`RequestError` as it is, a
    user's mistake the task finds (:class:`AnnError`) as a 400, anything else as a 500 that
    names no path and shows no traceback (which goes to the server's log)."""
    async def handler(request: Request):
        try:
            return await fn(request)
        except RequestError as e:
            return error_response(e)
        except AnnError as e:
            return error_response(RequestError(400, str(e).splitlines()[0] if str(e) else "bad request"))
        except Exception as e:      # noqa: BLE001  (a bug: logged, answered, the server goes on)
            traceback.print_exc(file=sys.stderr)
            return error_response(RequestError(500, f"internal error ({type(e).__name__}); the "
                                               "server's log has the details"))
    handler.__name__ = fn.__name__
    return handler


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the request body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body            # noqa: SLF001  (so that request.form() reads it again)
    return body


async def read_json(request: Request, limit: int, empty=None):
    body = await read_body(request, limit)
    if not body.strip() and empty is not None:
        return empty
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(400, f"the request body is not valid JSON ({e}); send a JSON "
                           "object with Content-Type: application/json") from None


async def read_options(request: Request, limit: int) -> dict:
    """A verb's options: a JSON object, or a multipart form (its fields and uploads)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        return await read_json(request, limit, empty={})
    await read_body(request, limit)
    form = await request.form(max_part_size=limit)
    out: dict = {}
    for key in dict.fromkeys(form.keys()):
        values = []
        for v in form.getlist(key):
            values.append((v.filename or "", await v.read()) if isinstance(v, UploadFile) else v)
        out[key] = values if len(values) > 1 else values[0]
    await form.close()
    return out


def build_app(hosted: dict[str, Hosted], token: str | None = None, batching: bool = True,
              max_upload: int = MAX_UPLOAD) -> Starlette:
    """The server's application for the runs in ``hosted`` (name -> :class:`Hosted`)."""
    stats = Stats()
    batchers = {name: Batcher(h) for name, h in hosted.items()} if batching else {}

    def find(name: str) -> Hosted:
        if name not in hosted:
            raise RequestError(404, f"no run named {name!r} is served here; served: "
                               f"{', '.join(hosted)}", param="name", code="run_not_found")
        return hosted[name]

    async def page(request):
        return HTMLResponse((Path(__file__).parent / "page.html").read_text(encoding="utf-8"))

    async def healthz(request):
        return JSONResponse({"status": "ok", "runs": len(hosted)})

    async def metrics(request):
        return PlainTextResponse(stats.text(), media_type="text/plain; version=0.0.4")

    @endpoint
    async def list_runs(request):
        return JSONResponse({"runs": [h.describe() for h in hosted.values()]})

    @endpoint
    async def describe(request):
        return JSONResponse(find(request.path_params["name"]).describe())

    @endpoint
    async def verb(request):
        h = find(request.path_params["name"])
        body = await read_options(request, max_upload)
        with Scratch() as folder:
            call = h.parse(request.path_params["verb"], body, folder)
            try:
                if h.name in batchers and batchable(call):
                    answers = await batchers[h.name].submit(call)
                else:
                    answers = await run_in_threadpool(call_task, h, call.verb, call.options)
            except AnnError as e:
                raise RequestError(400, call.scrub(str(e).splitlines()[0])) from None
            return JSONResponse(call.answer_json(answers))

    ctx = completions.Context(hosted, max_upload, read_json)
    routes = [Route("/", page), Route("/healthz", healthz), Route("/metrics", metrics),
              Route("/v1/models", endpoint(ctx.models)),
              Route("/v1/completions", endpoint(ctx.completions), methods=["POST"]),
              Route("/v1/chat/completions", endpoint(ctx.chat), methods=["POST"]),
              Route("/v1/runs", list_runs), Route("/v1/runs/{name}", describe),
              Route("/v1/runs/{name}/{verb}", verb, methods=["POST"])]

    async def http_error(request, exc: HTTPException):
        what = {404: f"no such endpoint {request.url.path[:100]!r}; see GET /v1/runs",
                405: f"{request.method} is not allowed on {request.url.path[:100]!r}"}
        return error_response(RequestError(exc.status_code, what.get(exc.status_code, str(exc.detail))))

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.hosted, app.state.stats, app.state.batchers = hosted, stats, batchers
    return Guard(app, routes, stats, token)


class Guard:
    """ASGI middleware around the application: the bearer token (when set) and the metrics of
    every request (its route's template, never the raw path, so the labels stay few)."""

    def __init__(self, app, routes, stats: Stats, token: str | None):
        self.app, self.routes, self.stats, self.token = app, routes, stats, token
        self.state = app.state

    def route_of(self, scope) -> str:
        for r in self.routes:
            match, _ = r.matches(scope)
            if match == Match.FULL:
                return r.path
        return "other"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, route, status = time.perf_counter(), self.route_of(scope), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.token and scope["path"] not in OPEN_PATHS and not self.authorised(scope):
                refusal = RequestError(401, "this server needs the header Authorization: Bearer TOKEN "
                                       "(the token given to ann serve --token)", code="invalid_api_key")
                return await error_response(refusal)(scope, receive, sending)
            await self.app(scope, receive, sending)
        finally:
            self.stats.record(route, scope["method"], status[0], time.perf_counter() - start)

    def authorised(self, scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"authorization":
                given = value.decode("latin-1")
                return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())
        return False
