"""Micro-batching: requests for the same image classifier that arrive within a few milliseconds
of each other go through the model as one call (a bounded number of images), and each request
gets back its own answers. A request that does not fit (other options, rows, an output file) or a
merged call that fails is answered on its own, so one bad image never fails its neighbours."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from .hosted import IMAGE_SUFFIXES, Call, call_task

WINDOW_S = 0.004       # how long the first request of a batch waits for others
MAX_BATCH = 32         # most images per model call


def batchable(call: Call) -> bool:
    """Whether a call classifies image files only, one answer per file (merged with others)."""
    files = call.options.get("files")
    return (call.verb.name == "predict" and bool(files) and call.out is None
            and set(call.options) <= {"files", "top"} and call.hosted.run.info.get("in_channels")
            is not None and all(f.lower().endswith(IMAGE_SUFFIXES) for f in files))


class Batcher:
    """Gathers the calls of one run's ``predict`` verb and makes one task call of them."""

    def __init__(self, hosted, window: float = WINDOW_S, max_batch: int = MAX_BATCH):
        self.hosted, self.window, self.max_batch = hosted, window, max_batch
        self.pending: list[tuple[Call, asyncio.Future]] = []
        self.timer = None
        self.batches = 0            # model calls made (the benchmark and tests read it)
        self.merged = 0             # requests answered by a merged call

    async def submit(self, call: Call) -> list:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((call, future))
        if sum(len(c.options["files"]) for c, _ in self.pending) >= self.max_batch:
            self._flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.window, self._flush)
        return await future

    def _flush(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        group, count = [], 0
        while self.pending:
            n = len(self.pending[0][0].options["files"])
            if group and count + n > self.max_batch:
                break
            group.append(self.pending.pop(0))
            count += n
        if self.pending:            # the rest starts its own window
            self.timer = asyncio.get_running_loop().call_later(self.window, self._flush)
        asyncio.ensure_future(self._run(group))

    async def _run(self, group):
        by_top: dict = {}
        for call, future in group:
            by_top.setdefault(call.options.get("top"), []).append((call, future))
        for top, calls in by_top.items():
            await self._merged(top, calls)

    async def _merged(self, top, calls):
        files = [f for call, _ in calls for f in call.options["files"]]
        options = {"files": files} if top is None else {"files": files, "top": top}
        verb = calls[0][0].verb
        answers = None
        if len(calls) > 1:
            try:
                answers = await run_in_threadpool(call_task, self.hosted, verb, options)
            except Exception:       # noqa: BLE001  (each request then gets its own error)
                answers = None
            if answers is not None and len(answers) != len(files):
                answers = None
        if answers is None:
            for call, future in calls:
                try:
                    _settle(future, await run_in_threadpool(call_task, self.hosted, verb, call.options))
                except Exception as e:      # noqa: BLE001
                    _settle(future, error=e)
            return
        self.batches += 1
        self.merged += len(calls)
        start = 0
        for call, future in calls:
            n = len(call.options["files"])
            _settle(future, answers[start:start + n])
            start += n


def _settle(future: asyncio.Future, result=None, error: Exception | None = None):
    if future.done():           # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
