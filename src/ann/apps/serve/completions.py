"""OpenAI-compatible text endpoints for the runs that write text after a prompt (GPT, recurrent
language models, T5): ``GET /v1/models``, ``POST /v1/completions`` and
``POST /v1/chat/completions`` with ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``,
``n``, ``stream`` (server-sent events) and usage counts. The official ``openai`` client pointed at
the server's ``base_url`` speaks to them unchanged.

Each request becomes calls of the run's ``generate`` verb; a language model's verb yields one
token's text at a time (after the prompt it echoes first), which is what a stream sends on. A
chat is turned into one prompt, a line ``role: content`` per message and then ``assistant:``,
since these models were trained on plain text rather than a chat template.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
import types
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse

from ... import api
from ...errors import AnnError
from .errors import RequestError

MAX_TOKENS = 2048      # the most new tokens one choice may ask for
MAX_N = 8              # the most choices per prompt
MAX_PROMPTS = 16
ROLES = ("system", "user", "assistant", "developer", "tool")


# Options of the OpenAI API that would change the answer and that ann does not implement, with
# the value that means "not asked for": a request setting one otherwise is refused (400, naming
# it) rather than answered as if it had not been sent. Options that only label a request (user,
# metadata, store, service_tier) are accepted and have no effect.
UNSUPPORTED = {"frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0),
               "logprobs": (False, None, 0), "top_logprobs": (0,), "logit_bias": ({},),
               "echo": (False,), "suffix": ("",), "best_of": (1,), "tools": ([],),
               "tool_choice": ("none",), "functions": ([],), "function_call": ("none",),
               "response_format": ({"type": "text"},), "prediction": ({},),
               "modalities": (["text"],), "audio": ({},), "reasoning_effort": ()}


def refuse_unsupported(body: dict) -> None:
    """One 400 naming the first option ``body`` sets that ann would otherwise ignore."""
    for name, neutral in UNSUPPORTED.items():
        value = body.get(name)
        if value is None or any(value == v and type(value) is type(v) for v in neutral):
            continue
        raise RequestError(400, f"{name} is not supported by this server (ann); leave it out",
                           param=name)


class Params:
    """The sampling settings of a request, checked."""

    def __init__(self, body: dict, chat: bool):
        refuse_unsupported(body)
        def number(name, default, low, high, integer=False, low_open=False):
            v = body.get(name)
            if v is None:
                return default
            kinds = (int,) if integer else (int, float)
            if not isinstance(v, kinds) or isinstance(v, bool):
                raise RequestError(400, f"{name} must be {'an integer' if integer else 'a number'}, "
                                   f"got {json.dumps(v)[:40]}", param=name)
            if v < low or v > high or (low_open and v == low):
                bound = "over" if low_open else "at least"
                raise RequestError(400, f"{name} must be {bound} {low} and at most {high}, got {v}",
                                   param=name)
            return v

        max_name = "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None \
            else "max_tokens"
        self.max_tokens = number(max_name, 16, 0, MAX_TOKENS, integer=True)
        self.temperature = float(number("temperature", 1.0, 0, 2))
        self.top_p = float(number("top_p", 1.0, 0, 1, low_open=True))
        self.n = number("n", 1, 1, MAX_N, integer=True)
        seed = number("seed", None, -2**63, 2**63 - 1, integer=True)
        self.seed = secrets.randbelow(2**31) if seed is None else seed % 2**31
        stop = body.get("stop")
        stop = [stop] if isinstance(stop, str) else stop or []
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
            raise RequestError(400, "stop must be a string or a list of at most 4 strings", param="stop")
        self.stop = [s for s in stop if s]
        self.stream = body.get("stream", False)
        if not isinstance(self.stream, bool):
            raise RequestError(400, "stream must be true or false", param="stream")
        opts = body.get("stream_options") or {}
        if not isinstance(opts, dict):
            raise RequestError(400, "stream_options must be an object", param="stream_options")
        self.include_usage = bool(opts.get("include_usage"))


class StopFilter:
    """Text as it streams, cut before the first ``stop`` string; what might still turn into a
    stop string is held back until it cannot."""

    def __init__(self, stops: list[str]):
        self.stops, self.buf = stops, ""
        self.hold = max((len(s) for s in stops), default=1) - 1

    def feed(self, text: str) -> tuple[str, bool]:
        self.buf += text
        hits = [self.buf.find(s) for s in self.stops if s in self.buf]
        if hits:
            out, self.buf = self.buf[:min(hits)], ""
            return out, True
        keep = min(self.hold, len(self.buf))
        out, self.buf = self.buf[:len(self.buf) - keep], self.buf[len(self.buf) - keep:]
        return out, False

    def flush(self) -> str:
        out, self.buf = self.buf, ""
        return out


def generate(hosted, prompt: str, p: Params, seed: int, emit, cancel: threading.Event,
             started=lambda: None):
    """One choice: the run's generate verb after ``prompt``, each new piece of text handed to
    ``emit`` as it comes; ``started`` is called once the run has accepted the request (its
    checks passed). Returns ``(finish_reason, completion_tokens)``."""
    verb = hosted.verbs["generate"]
    takes = verb.option_names
    options = {"prompt": prompt} if prompt else {}
    if "max_new_tokens" in takes:
        options["max_new_tokens"] = p.max_tokens
    elif "max_len" in takes:
        options["max_len"] = max(1, p.max_tokens)
    for name, value in (("temperature", p.temperature), ("top_p", p.top_p), ("seed", seed)):
        if name in takes:
            options[name] = value
    stopper, stopped, tokens, streamed = StopFilter(p.stop), False, 0, False
    with hosted.lock:
        answers = api.use(hosted.run, "generate", **options)
        try:
            for i, a in enumerate(answers):
                if i == 0:
                    started()
                if i == 0 and a.end == "" and a.text == prompt:
                    continue                  # a language model echoes its prompt first
                if cancel.is_set():
                    break
                if a.end == "":
                    streamed, tokens = True, tokens + 1
                out, stopped = stopper.feed(a.text)
                if out:
                    emit(out)
                if stopped:
                    break
        finally:
            if isinstance(answers, types.GeneratorType):
                answers.close()
    if not stopped:
        tail = stopper.flush()
        if tail:
            emit(tail)
    return ("stop" if stopped or not streamed or tokens < p.max_tokens else "length"), tokens


class Context:
    """The text endpoints over the served runs."""

    def __init__(self, hosted: dict, max_upload: int, read_json):
        self.hosted, self.max_upload, self.read_json = hosted, max_upload, read_json

    async def models(self, request):
        created = int(time.time())
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "ann",
             "task": h.run.task.name, "text_model": h.is_text_model} for name, h in self.hosted.items()]})

    def text_run(self, body):
        name = body.get("model")
        if not isinstance(name, str):
            raise RequestError(400, "model is missing: name one of the served runs (GET /v1/models)",
                               param="model")
        if name not in self.hosted:
            raise RequestError(404, f"the model {name!r} does not exist here; served: "
                               f"{', '.join(self.hosted)}", param="model", code="model_not_found")
        h = self.hosted[name]
        if not h.is_text_model:
            texts = [n for n, x in self.hosted.items() if x.is_text_model]
            raise RequestError(400, f"{name!r} is a {h.run.task.name} run, which does not write "
                               f"text; text runs here: {', '.join(texts) or 'none'} (its own "
                               f"endpoints: /v1/runs/{name})", param="model")
        return h

    async def body_of(self, request) -> dict:
        body = await self.read_json(request, self.max_upload)
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object")
        return body

    async def completions(self, request):
        body = await self.body_of(request)
        h = self.text_run(body)
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or len(prompts) > MAX_PROMPTS or \
                not all(isinstance(x, str) for x in prompts):
            raise RequestError(400, f"prompt must be a string or a list of 1 to {MAX_PROMPTS} strings",
                               param="prompt")
        return await self.answer(h, prompts, Params(body, chat=False), chat=False)

    async def chat(self, request):
        body = await self.body_of(request)
        h = self.text_run(body)
        return await self.answer(h, [chat_prompt(body.get("messages"))], Params(body, chat=True),
                                 chat=True)

    async def answer(self, h, prompts, p: Params, chat: bool):
        kind = "chat.completion" if chat else "text_completion"
        head = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
                "created": int(time.time()), "model": h.name}
        prompt_tokens = sum(h.count_tokens(x) for x in prompts)
        jobs = [(i * p.n + j, x, p.seed + j) for i, x in enumerate(prompts) for j in range(p.n)]
        if p.stream:
            return await self.stream(h, jobs, p, chat, head, prompt_tokens)

        def run_all():
            out = []
            for index, prompt, seed in jobs:
                pieces = []
                finish, tokens = generate(h, prompt, p, seed, pieces.append, threading.Event())
                out.append((index, "".join(pieces), finish, tokens))
            return out

        try:
            results = await run_in_threadpool(run_all)
        except AnnError as e:
            raise RequestError(400, _line(e, h)) from None
        choices = [{"index": i, "finish_reason": f, "logprobs": None,
                    **({"message": {"role": "assistant", "content": t}} if chat else {"text": t})}
                   for i, t, f, _ in results]
        used = sum(n for *_, n in results) or sum(h.count_tokens(t) for _, t, _, _ in results)
        return JSONResponse({**head, "object": kind, "choices": choices, "usage": {
            "prompt_tokens": prompt_tokens, "completion_tokens": used,
            "total_tokens": prompt_tokens + used}})

    async def stream(self, h, jobs, p: Params, chat: bool, head: dict, prompt_tokens: int):
        """Server-sent events: a chunk per piece of text, one closing each choice, then
        ``[DONE]``. A request the run refuses (a prompt over the context) is a 400 before any
        event; the worker stops when the client goes away."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        put = lambda *item: loop.call_soon_threadsafe(queue.put_nowait, item)   # noqa: E731

        def work():
            try:
                for index, prompt, seed in jobs:
                    finish, tokens = generate(h, prompt, p, seed, lambda t, i=index: put("piece", i, t),
                                              cancel, started=lambda i=index: put("start", i))
                    put("end", index, finish, tokens)
                    if cancel.is_set():
                        return
                put("done")
            except AnnError as e:
                put("error", _line(e, h))
            except Exception as e:      # noqa: BLE001
                put("error", f"internal error ({type(e).__name__})")

        worker = loop.run_in_executor(None, work)
        first = await queue.get()
        if first[0] == "error":
            await worker
            raise RequestError(400, first[1])
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(index, text=None, finish=None, role=False):
            if chat:
                delta = {"role": "assistant", "content": ""} if role else (
                    {"content": text} if text is not None else {})
                c = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            else:
                c = {"index": index, "text": text or "", "finish_reason": finish, "logprobs": None}
            return f"data: {json.dumps({**head, 'object': kind, 'choices': [c]})}\n\n"

        async def events():
            item, used = first, 0
            try:
                while True:
                    if item[0] == "start" and chat:
                        yield chunk(item[1], role=True)
                    elif item[0] == "piece":
                        yield chunk(item[1], item[2])
                    elif item[0] == "end":
                        used += item[3]
                        yield chunk(item[1], finish=item[2])
                    elif item[0] == "error":
                        yield f"data: {json.dumps(RequestError(400, item[1]).body())}\n\n"
                        break
                    elif item[0] == "done":
                        if p.include_usage:
                            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": used,
                                     "total_tokens": prompt_tokens + used}
                            last = {**head, "object": kind, "choices": [], "usage": usage}
                            yield f"data: {json.dumps(last)}\n\n"
                        yield "data: [DONE]\n\n"
                        break
                    item = await queue.get()
            finally:
                cancel.set()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _line(e: AnnError, h) -> str:
    """A run's error as the API says it: its first line, the run's folder named by its served
    name, and the command line's flags by the request's fields."""
    text = str(e).splitlines()[0] if str(e) else "bad request"
    if h.run.path is not None:
        text = text.replace(str(h.run.path), h.name)
    text = re.sub(r", or add --slide.*$", "", text)
    return text.replace("--max-new-tokens", "max_tokens").replace("--top-p", "top_p").replace(
        "--prompt", "prompt")


def chat_prompt(messages) -> str:
    """One prompt from a chat: ``role: content`` per message, then ``assistant:``."""
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages must be a non-empty list of {role, content} objects",
                           param="messages")
    lines = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise RequestError(400, f"messages[{i}] needs a role ({', '.join(ROLES)}) and content",
                               param=f"messages[{i}]")
        content = m.get("content")
        if isinstance(content, list):      # content parts: only text ones
            if not all(isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
                       for c in content):
                raise RequestError(400, f"messages[{i}].content: only text parts are understood",
                                   param=f"messages[{i}].content")
            content = "".join(c["text"] for c in content)
        if not isinstance(content, str):
            raise RequestError(400, f"messages[{i}].content must be a string", param=f"messages[{i}].content")
        lines.append(f"{m['role']}: {content}\n")
    return "".join(lines) + "assistant:"
