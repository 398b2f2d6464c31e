#!/usr/bin/env python3
"""A scripted loopback model server for troupe's tests.

One process speaks three wire formats, chosen by the request path, as the
hosted services do (standard library only, asyncio streams, HTTP/1.1 with
keep-alive; bodies with Content-Length, streams chunked):

  OpenAI Chat Completions   POST /v1/chat/completions, GET /v1/models
  Anthropic Messages        POST /v1/messages
  Ollama native             POST /api/chat, GET /api/tags, GET /api/ps, GET /

Usage:
  model_server.py [--script FILE] [--port 0] [--host 127.0.0.1]
                  [--log FILE] [--api-key KEY]

With --port 0 the kernel picks a free port. When the server listens it prints
`LISTENING <port>` on stdout (flushed), then serves until it is killed.

Requests are validated as the real services validate them, and a bad request
gets the real status and error shape without consuming a script step: OpenAI
`{"error":{"message","type","param","code"}}`, Anthropic
`{"type":"error","error":{"type","message"},"request_id"}`, Ollama
`{"error":"..."}`. Examples: Anthropic without `max_tokens`, `x-api-key` or
`anthropic-version`; a `tool_result` whose `tool_use_id` matches no `tool_use`
of the previous assistant message; an OpenAI `tool` message whose
`tool_call_id` was never issued; a missing or wrong key when a key is
configured (401).

Script (JSON). Either a list of steps, or an object:

  {
    "api_key": "sk-test",          # optional; also --api-key (which wins)
    "models": ["m1", "m2"],        # optional: what discovery lists; when set,
                                   #   other model names get 404
    "loaded": ["m1"],              # optional: Ollama /api/ps (default: all)
    "steps": [STEP, ...],          # shared queue, used when none below fits
    "openai": [STEP, ...],         # per-dialect queues
    "anthropic": [STEP, ...],
    "ollama": [STEP, ...],
    "by_model": {"m1": [STEP, ...]}  # per-model queues, looked at first
  }

A chat request takes the next step of the first non-empty queue among
by_model[model], its dialect's queue, then "steps". A step answers once
(`"times": N` answers N times, `"forever": true` always). When every queue is
exhausted the server answers 500 with a message saying so.

STEP fields (all optional; combine freely):

  reply     "text": str, "tool_calls": [{"id"?, "name", "arguments": {..}}],
            "usage": {"input": N, "output": N}, "finish": str (verbatim;
            default stop/tool_calls, end_turn/tool_use, stop)
  fault     "status": N with "body"? (object: sent as JSON; string: verbatim;
            absent: the dialect's own error body for N, whose "message",
            "type" and "code" may be set with "error": {...})
  headers   "headers": {"Retry-After": "2", ...} added to the response
  pacing    "delay_ms": before the response headers;
            "first_chunk_delay_ms", "chunk_delay_ms": before the first and
            between later stream events; "chunks": N splits the text into N
            deltas (default 1); "arg_chunks": N splits each tool call's
            arguments into N pieces (default 2)
  breakage  "stall_after_bytes": N sends N body bytes (after the headers,
            chunk framing not counted) then hangs until the client closes;
            "reset_after_bytes": N sends N body bytes then resets the
            connection (SO_LINGER 0: RST);
            "stream_error": {"after": K, "status": N, "message"?} ends a
            stream after its first K events (OpenAI's role chunk,
            Anthropic's message_start and ping count) with the dialect's
            in-stream error (a plain HTTP error when the request does not
            stream);
            "raw": str or [str, ...] replaces the body (a list: one stream
            event per item) to send malformed data

Log (--log FILE): one JSON line appended per request when it ends:
  {"time", "dialect", "method", "path", "headers" (lower-case names),
   "body" (parsed JSON, or the text when it is not JSON), "model", "stream",
   "step" (index in its queue, or null), "status", "body_bytes_sent",
   "ended": "complete" | "client closed" | "reset", "stalled": bool}
"client closed" means the client went away before the response was complete
(a canceled or hedged transfer); tests wait for that line.
"""

import argparse
import asyncio
import datetime
import fcntl
import hashlib
import http
import itertools
import json
import signal
import socket
import struct
import sys
import termios
import time
from dataclasses import dataclass, field

DIALECTS = ("openai", "anthropic", "ollama")
MAX_HEAD = 64 * 1024
_ids = itertools.count(1)


def next_id(prefix):
    return "%s%024d" % (prefix, next(_ids))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def split_text(text, n):
    """Splits `text` into `n` (at least 1) pieces; none empty unless text is."""
    n = max(1, min(n, len(text))) if text else 1
    size, extra = divmod(len(text), n)
    pieces, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        pieces.append(text[pos:pos + step])
        pos += step
    return pieces


# -- the script ---------------------------------------------------------------


SCRIPT_KEYS = {"api_key", "models", "loaded", "steps", "by_model"} | set(DIALECTS)
STEP_KEYS = {"text", "tool_calls", "usage", "finish", "status", "body", "error", "headers",
             "delay_ms", "first_chunk_delay_ms", "chunk_delay_ms", "chunks", "arg_chunks",
             "stall_after_bytes", "reset_after_bytes", "stream_error", "raw", "times",
             "forever"}


def check_script(data):
    """Raises ValueError naming the first unknown key: a misspelt fault would
    otherwise pass silently as a plain reply."""
    unknown = set(data) - SCRIPT_KEYS
    if unknown:
        raise ValueError("unknown script keys %s; known: %s"
                         % (sorted(unknown), sorted(SCRIPT_KEYS)))
    queues = [(name, data.get(name, [])) for name in ("steps",) + DIALECTS]
    queues += [("by_model." + m, steps) for m, steps in data.get("by_model", {}).items()]
    for name, steps in queues:
        for i, step in enumerate(steps):
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise ValueError("%s[%d]: unknown step keys %s; known: %s"
                                 % (name, i, sorted(unknown), sorted(STEP_KEYS)))


class Script:
    """Queues of steps; `take` hands out the next one for a request."""

    def __init__(self, data, api_key=None):
        if isinstance(data, list):
            data = {"steps": data}
        check_script(data)
        self.api_key = api_key or data.get("api_key")
        self.models = data.get("models")
        self.loaded = data.get("loaded", self.models)
        self.queues = {}
        for name in ("steps",) + DIALECTS:
            self.queues[name] = self._queue(data.get(name, []))
        for model, steps in data.get("by_model", {}).items():
            self.queues["model:" + model] = self._queue(steps)

    @staticmethod
    def _queue(steps):
        return [[i, step, step.get("times", 1)] for i, step in enumerate(steps)]

    def take(self, dialect, model):
        """Returns (queue name, index, step) or None when exhausted."""
        for name in ("model:" + str(model), dialect, "steps"):
            for entry in self.queues.get(name, []):
                index, step, left = entry
                if step.get("forever"):
                    return name, index, step
                if left > 0:
                    entry[2] = left - 1
                    return name, index, step
        return None


# -- reading requests ---------------------------------------------------------


class Inbox:
    """Everything the client sends, read by one task, so that the end of the
    connection is seen at once even while a response is being written."""

    def __init__(self, reader):
        self._reader = reader
        self._buf = bytearray()
        self._more = asyncio.Event()
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self):
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                self._buf += data
                self._more.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            self._more.set()

    async def _wait(self):
        self._more.clear()
        await self._more.wait()

    async def read_until(self, sep, limit):
        while True:
            pos = self._buf.find(sep)
            if pos >= 0:
                out = bytes(self._buf[:pos + len(sep)])
                del self._buf[:pos + len(sep)]
                return out
            if self.closed.is_set() or len(self._buf) > limit:
                return None
            await self._wait()

    async def read_exactly(self, n):
        while len(self._buf) < n:
            if self.closed.is_set():
                return None
            await self._wait()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def sleep(self, ms):
        """Waits `ms`; True when the client closed meanwhile."""
        if ms <= 0:
            return self.closed.is_set()
        try:
            await asyncio.wait_for(self.closed.wait(), ms / 1000.0)
            return True
        except asyncio.TimeoutError:
            return False

    def stop(self):
        self._task.cancel()


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    raw: bytes
    body: object = None  # parsed JSON, or None
    json_error: str = ""

    def header(self, name):
        return self.headers.get(name.lower())

    def keep_alive(self):
        return (self.header("connection") or "").lower() != "close"

    def log_body(self):
        if self.body is not None:
            return self.body
        return self.raw.decode("utf-8", "replace")


async def read_request(inbox, writer):
    head = await inbox.read_until(b"\r\n\r\n", MAX_HEAD)
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    raw = await read_body(inbox, headers)
    if raw is None:
        return None
    req = Request(method, target.split("?", 1)[0], headers, raw)
    if raw:
        try:
            req.body = json.loads(raw)
        except ValueError as e:
            req.json_error = str(e)
    return req


async def read_body(inbox, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await inbox.read_until(b"\r\n", 1024)
            if size_line is None:
                return None
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await inbox.read_until(b"\r\n", MAX_HEAD)  # no trailers expected
                return bytes(body)
            chunk = await inbox.read_exactly(size + 2)
            if chunk is None:
                return None
            body += chunk[:-2]
    length = int(headers.get("content-length", "0") or "0")
    return await inbox.read_exactly(length) if length else b""


# -- responses ----------------------------------------------------------------


@dataclass
class Response:
    status: int
    content_type: str
    pieces: list  # of bytes: the body; one piece per event when streamed
    streamed: bool = False
    headers: list = field(default_factory=list)


def json_response(status, obj, pretty=False, content_type="application/json"):
    text = json.dumps(obj, indent=2) + "\n" if pretty else compact(obj)
    return Response(status, content_type, [text.encode()])


def reason(status):
    if status == 529:
        return "Overloaded"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class Outcome:
    ended: str = "complete"
    stalled: bool = False
    sent: int = 0


class Sender:
    """Writes one response, applying the step's pacing and breakage."""

    def __init__(self, inbox, writer, step):
        self.inbox = inbox
        self.writer = writer
        self.step = step or {}
        limit = self.step.get("stall_after_bytes", self.step.get("reset_after_bytes"))
        self.limit = limit
        self.out = Outcome()

    async def send(self, resp, keep_alive):
        s = self.step
        if await self.inbox.sleep(s.get("delay_ms", 0)):
            return self._closed()
        if not await self._write(self._head(resp, keep_alive)):
            return self._closed()
        for i, piece in enumerate(resp.pieces):
            delay = s.get("first_chunk_delay_ms" if i == 0 else "chunk_delay_ms", 0)
            if resp.streamed and await self.inbox.sleep(delay):
                return self._closed()
            if self.limit is not None:
                piece = piece[:max(0, self.limit - self.out.sent)]
            if piece and not await self._write(self._frame(piece, resp.streamed)):
                return self._closed()
            self.out.sent += len(piece)
            if self.limit is not None and self.out.sent >= self.limit:
                return await self._break()
        if self.limit is not None:
            return await self._break()
        if resp.streamed and not await self._write(b"0\r\n\r\n"):
            return self._closed()
        return self.out

    def _head(self, resp, keep_alive):
        lines = ["HTTP/1.1 %d %s" % (resp.status, reason(resp.status)),
                 "Date: " + datetime.datetime.now(datetime.timezone.utc)
                 .strftime("%a, %d %b %Y %H:%M:%S GMT"),
                 "Content-Type: " + resp.content_type]
        if resp.streamed:
            lines.append("Transfer-Encoding: chunked")
        if resp.content_type.startswith("text/event-stream"):
            lines.append("Cache-Control: no-cache")
        else:
            lines.append("Content-Length: %d" % sum(len(p) for p in resp.pieces))
        lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
        for name, value in resp.headers + list(self.step.get("headers", {}).items()):
            lines.append("%s: %s" % (name, value))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _frame(piece, streamed):
        if not streamed:
            return piece
        return b"%x\r\n%s\r\n" % (len(piece), piece)

    async def _write(self, data):
        if self.inbox.closed.is_set():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
            return True
        except (ConnectionError, OSError):
            return False

    def _closed(self):
        self.out.ended = "client closed"
        return self.out

    async def _break(self):
        if "reset_after_bytes" in self.step:
            await reset_connection(self.writer)
            self.out.ended = "reset"
            return self.out
        self.out.stalled = True
        await self.inbox.closed.wait()
        return self._closed()


async def reset_connection(writer):
    """Closes with an RST once what was written has left (SO_LINGER 0 would
    otherwise discard bytes still queued in the kernel)."""
    sock = writer.get_extra_info("socket")
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                struct.pack("i", 0)))[0]
        if queued == 0:
            break
        await asyncio.sleep(0.001)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- what every chat dialect shares --------------------------------------------


@dataclass
class Reply:
    """A scripted answer, normalized."""
    text: str
    tool_calls: list  # of {"id", "name", "arguments" (object)}
    input_tokens: int
    output_tokens: int
    finish: str
    chunks: int
    arg_chunks: int


def make_reply(step, req, id_prefix, finish_stop, finish_tools):
    calls = [{"id": c.get("id") or next_id(id_prefix), "name": c["name"],
              "arguments": c.get("arguments", {})} for c in step.get("tool_calls", [])]
    text = step.get("text", "")
    usage = step.get("usage", {})
    prompt = len(req.raw) // 4 + 1
    return Reply(text, calls, usage.get("input", prompt),
                 usage.get("output", len(text) // 4 + 1 + 8 * len(calls)),
                 step.get("finish") or (finish_tools if calls else finish_stop),
                 step.get("chunks", 1), step.get("arg_chunks", 2))


def wants_stream(req, default):
    value = req.body.get("stream", default) if isinstance(req.body, dict) else default
    return bool(value)


def raw_response(step, content_type, streamed):
    raw = step["raw"]
    pieces = raw if isinstance(raw, list) else [raw]
    return Response(200, content_type, [p.encode() for p in pieces], streamed)


def with_stream_error(step, lines, error_line):
    """The stream cut after `after` events and ended by `error_line`, when the
    step asks for an in-stream error; else `lines` unchanged."""
    if "stream_error" not in step:
        return lines
    return lines[:step["stream_error"].get("after", 0)] + [error_line]


# -- OpenAI Chat Completions ---------------------------------------------------


def openai_error(status, message, type_="invalid_request_error", param=None, code=None):
    return json_response(status, {"error": {"message": message, "type": type_,
                                            "param": param, "code": code}}, pretty=True)


OPENAI_DEFAULTS = {
    400: ("Bad request", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    404: ("Not found", "invalid_request_error", None),
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    503: ("The engine is currently overloaded, please try again later",
          "server_error", None),
}


def openai_fault(status, spec):
    message, type_, code = OPENAI_DEFAULTS.get(status, ("Error", "server_error", None))
    spec = spec or {}
    return openai_error(status, spec.get("message", message), spec.get("type", type_),
                        None, spec.get("code", code))


def openai_auth(req, key):
    if key is None:
        return None
    auth = req.header("authorization") or ""
    if not auth:
        return openai_error(401, "You didn't provide an API key. You need to provide "
                            "your API key in an Authorization header using Bearer "
                            "auth (i.e. Authorization: Bearer YOUR_KEY).")
    if auth != "Bearer " + key:
        return openai_error(401, "Incorrect API key provided. You can find your API key "
                            "at https://platform.openai.com/account/api-keys.",
                            code="invalid_api_key")
    return None


def openai_validate(req, models):
    if req.body is None or not isinstance(req.body, dict):
        return openai_error(400, "We could not parse the JSON body of your request. "
                            "(HINT: This likely means you aren't using your HTTP library "
                            "correctly. The OpenAI API expects a JSON payload, but what "
                            "was sent was not valid JSON.)")
    body = req.body
    if "model" not in body:
        return openai_error(400, "you must provide a model parameter")
    if models is not None and body["model"] not in models:
        return openai_error(404, "The model `%s` does not exist or you do not have "
                            "access to it." % body["model"], code="model_not_found")
    if "messages" not in body:
        return openai_error(400, "Missing required parameter: 'messages'.", param="messages",
                            code="missing_required_parameter")
    if body.get("stream_options") is not None and not body.get("stream"):
        return openai_error(400, "The 'stream_options' parameter is only allowed when "
                            "'stream' is enabled.", param="stream_options")
    return openai_check_tools(body.get("tools", [])) or openai_check_messages(body["messages"])


def openai_check_tools(tools):
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or "name" not in fn:
            where = "tools[%d].function.name" % i
            return openai_error(400, "Missing required parameter: '%s'." % where,
                                param=where, code="missing_required_parameter")
        if not fn["name"] or not all(c.isalnum() or c in "_-" for c in fn["name"]):
            where = "tools[%d].function.name" % i
            return openai_error(400, "Invalid '%s': string does not match pattern. Expected "
                                "a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                                % where, param=where, code="invalid_value")
    return None


def openai_check_messages(messages):
    pending = {}  # tool_call_id -> index of the assistant message issuing it
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return openai_error(400, "Invalid value: '%s'. Supported values are: 'system', "
                                "'assistant', 'user', 'function', 'tool', and 'developer'."
                                % role, param="messages[%d].role" % i, code="invalid_value")
        if role != "tool" and pending:
            return unanswered_calls(pending)
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                return openai_error(400, "Invalid parameter: messages with role 'tool' "
                                    "must be a response to a preceeding message with "
                                    "'tool_calls'.", param="messages.[%d].role" % i)
            del pending[m["tool_call_id"]]
        calls = (m.get("tool_calls") or []) if role == "assistant" else []
        for j, call in enumerate(calls):
            args = call.get("function", {}).get("arguments")
            if not isinstance(args, str):
                where = "messages[%d].tool_calls[%d].function.arguments" % (i, j)
                return openai_error(400, "Invalid type for '%s': expected a string, but got "
                                    "%s instead." % (where, type(args).__name__),
                                    param=where, code="invalid_type")
            pending[call.get("id")] = i
    if pending:
        return unanswered_calls(pending)
    return None


def unanswered_calls(pending):
    return openai_error(400, "An assistant message with 'tool_calls' must be followed by "
                        "tool messages responding to each 'tool_call_id'. The following "
                        "tool_call_ids did not have response messages: %s"
                        % ", ".join(pending), param="messages.[%d].role" % min(pending.values()))


def openai_usage(r):
    return {"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens,
            "total_tokens": r.input_tokens + r.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def openai_complete(req, step):
    r = make_reply(step, req, "call_", "stop", "tool_calls")
    message = {"role": "assistant", "content": r.text if r.text or not r.tool_calls else None,
               "refusal": None, "annotations": []}
    if r.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": compact(c["arguments"])}}
            for c in r.tool_calls]
    return json_response(200, {
        "id": next_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
        "model": req.body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": r.finish}],
        "usage": openai_usage(r), "service_tier": "default",
        "system_fingerprint": "fp_model_server"}, pretty=True)


def openai_stream(req, step):
    r = make_reply(step, req, "call_", "stop", "tool_calls")
    include_usage = bool((req.body.get("stream_options") or {}).get("include_usage"))
    base = {"id": next_id("chatcmpl-"), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": req.body["model"],
            "service_tier": "default", "system_fingerprint": "fp_model_server"}

    def chunk(delta, finish=None):
        c = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}])
        if include_usage:
            c["usage"] = None
        return c

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for piece in split_text(r.text, r.chunks) if r.text else []:
        events.append(chunk({"content": piece}))
    for index, call in enumerate(r.tool_calls):
        events.append(chunk({"tool_calls": [{
            "index": index, "id": call["id"], "type": "function",
            "function": {"name": call["name"], "arguments": ""}}]}))
        for piece in split_text(compact(call["arguments"]), r.arg_chunks):
            events.append(chunk({"tool_calls": [{"index": index,
                                                 "function": {"arguments": piece}}]}))
    events.append(chunk({}, r.finish))
    if include_usage:
        events.append(dict(base, choices=[], usage=openai_usage(r)))
    lines = ["data: %s\n\n" % compact(e) for e in events] + ["data: [DONE]\n\n"]
    spec = step.get("stream_error", {})
    err = openai_fault(spec.get("status", 500), spec).pieces[0]
    lines = with_stream_error(step, lines, "data: %s\n\n" % compact(json.loads(err)))
    return Response(200, "text/event-stream; charset=utf-8", [l.encode() for l in lines],
                    streamed=True)


def openai_models(script):
    return json_response(200, {"object": "list", "data": [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": "model_server"}
        for m in script.models or []]}, pretty=True)


# -- Anthropic Messages --------------------------------------------------------


ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                   403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                   429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
ANTHROPIC_MESSAGES = {"overloaded_error": "Overloaded", "api_error": "Internal server error",
                      "rate_limit_error": "Number of request tokens has exceeded your "
                                          "per-minute rate limit"}


def anthropic_error_body(status, message=None, type_=None):
    type_ = type_ or ANTHROPIC_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": type_,
                                       "message": message or ANTHROPIC_MESSAGES.get(type_, type_)},
            "request_id": next_id("req_")}


def anthropic_error(status, message=None, type_=None):
    return json_response(status, anthropic_error_body(status, message, type_))


def anthropic_fault(status, spec):
    spec = spec or {}
    return anthropic_error(status, spec.get("message"), spec.get("type"))


def anthropic_auth(req, key):
    given = req.header("x-api-key")
    if not given:
        return anthropic_error(401, "x-api-key header is required")
    if key is not None and given != key:
        return anthropic_error(401, "invalid x-api-key")
    if not req.header("anthropic-version"):
        return anthropic_error(400, "anthropic-version: header is required")
    return None


def anthropic_validate(req, models):
    body = req.body
    if not isinstance(body, dict):
        return anthropic_error(400, "There was an error parsing the body: " + req.json_error)
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            return anthropic_error(400, "%s: Field required" % name)
    if models is not None and body["model"] not in models:
        return anthropic_error(404, "model: %s" % body["model"])
    for i, tool in enumerate(body.get("tools", [])):
        if "input_schema" not in tool:
            return anthropic_error(400, "tools.%d.custom.input_schema: Field required" % i)
    return anthropic_check_messages(body["messages"])


def blocks_of(message):
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def anthropic_check_messages(messages):
    issued = set()  # tool_use ids of the previous assistant message
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "system":
            return anthropic_error(400, 'messages: Unexpected role "system". The Messages API '
                                   'accepts a top-level `system` parameter, not "system" as '
                                   'an input message role.')
        if role not in ("user", "assistant"):
            return anthropic_error(400, "messages.%d.role: Input should be 'user' or "
                                   "'assistant'" % i)
        blocks = blocks_of(m)
        if not blocks and not (role == "assistant" and i == len(messages) - 1):
            return anthropic_error(400, "messages.%d: all messages must have non-empty "
                                   "content except for the optional final assistant "
                                   "message" % i)
        answered = set()
        for j, b in enumerate(blocks):
            if b.get("type") == "text" and not b.get("text"):
                return anthropic_error(400, "messages.%d.content.%d.text: text content "
                                       "blocks must be non-empty" % (i, j))
            if b.get("type") == "tool_use" and not isinstance(b.get("input"), dict):
                return anthropic_error(400, "messages.%d.content.%d.tool_use.input: Input "
                                       "should be a valid dictionary" % (i, j))
            if b.get("type") == "tool_result":
                if role != "user" or b.get("tool_use_id") not in issued:
                    return anthropic_error(400, "messages.%d.content.%d: unexpected "
                                           "`tool_use_id` found in `tool_result` blocks: %s. "
                                           "Each `tool_result` block must have a "
                                           "corresponding `tool_use` block in the previous "
                                           "message." % (i, j, b.get("tool_use_id")))
                answered.add(b["tool_use_id"])
        if issued - answered:
            return anthropic_error(400, "messages.%d: `tool_use` ids were found without "
                                   "`tool_result` blocks immediately after: %s. Each "
                                   "`tool_use` block must have a corresponding `tool_result` "
                                   "block in the next message."
                                   % (i - 1, ", ".join(sorted(issued - answered))))
        issued = {b.get("id") for b in blocks if b.get("type") == "tool_use"} \
            if role == "assistant" else set()
    return None


def anthropic_usage(r, output):
    return {"input_tokens": r.input_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": output, "service_tier": "standard"}


def anthropic_complete(req, step):
    r = make_reply(step, req, "toolu_", "end_turn", "tool_use")
    content = [{"type": "text", "text": r.text}] if r.text else []
    content += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in r.tool_calls]
    return json_response(200, {
        "id": next_id("msg_"), "type": "message", "role": "assistant",
        "model": req.body["model"], "content": content, "stop_reason": r.finish,
        "stop_sequence": None, "usage": anthropic_usage(r, r.output_tokens)})


def anthropic_stream(req, step):
    r = make_reply(step, req, "toolu_", "end_turn", "tool_use")
    message = {"id": next_id("msg_"), "type": "message", "role": "assistant",
               "model": req.body["model"], "content": [], "stop_reason": None,
               "stop_sequence": None, "usage": anthropic_usage(r, 1)}
    events = [("message_start", {"type": "message_start", "message": message})]
    index = 0
    if r.text or not r.tool_calls:
        events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}}))
        events.append(("ping", None))
        for piece in split_text(r.text, r.chunks) if r.text else []:
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    else:
        events.append(("ping", None))
    for call in r.tool_calls:
        events.append(("content_block_start", {
            "type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": call["id"], "name": call["name"],
                              "input": {}}}))
        for piece in [""] + split_text(compact(call["arguments"]), r.arg_chunks):
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    events.append(("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": r.finish, "stop_sequence": None},
        "usage": {"output_tokens": r.output_tokens}}))
    events.append(("message_stop", {"type": "message_stop"}))
    lines = [anthropic_event(name, data) for name, data in events]
    spec = step.get("stream_error", {})
    body = anthropic_error_body(spec.get("status", 529), spec.get("message"), spec.get("type"))
    del body["request_id"]  # in-stream errors carry none
    lines = with_stream_error(step, lines, anthropic_event("error", body))
    return Response(200, "text/event-stream; charset=utf-8", [l.encode() for l in lines],
                    streamed=True)


def anthropic_event(name, data):
    # The service spells ping's data with a space; everything else compact.
    payload = '{"type": "ping"}' if name == "ping" else compact(data)
    return "event: %s\ndata: %s\n\n" % (name, payload)


# -- Ollama native --------------------------------------------------------------


def ollama_error(status, message):
    return json_response(status, {"error": message},
                         content_type="application/json; charset=utf-8")


OLLAMA_MESSAGES = {429: "too many requests", 500: "an internal error occurred",
                   503: "server busy, please try again.  maximum pending requests exceeded"}


def ollama_fault(status, spec):
    spec = spec or {}
    return ollama_error(status, spec.get("message", OLLAMA_MESSAGES.get(status, "error")))


def ollama_auth(req, key):
    if key is not None and req.header("authorization") != "Bearer " + key:
        return ollama_error(401, "unauthorized")
    return None


def ollama_validate(req, models):
    body = req.body
    if not isinstance(body, dict):
        return ollama_error(400, "invalid character in request body: " + req.json_error)
    if not body.get("model"):
        return ollama_error(400, "model is required")
    if models is not None and body["model"] not in models:
        return ollama_error(404, 'model "%s" not found, try pulling it first' % body["model"])
    for m in body.get("messages", []):
        for call in m.get("tool_calls") or []:
            if not isinstance(call.get("function", {}).get("arguments", {}), dict):
                return ollama_error(400, "json: cannot unmarshal string into Go struct field "
                                    "ToolCallFunction.messages.tool_calls.function.arguments "
                                    "of type api.ToolCallFunctionArguments")
    return None


def ollama_time():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ollama_final(req, r, content, calls):
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [{"function": {"name": c["name"], "arguments": c["arguments"]}}
                                 for c in calls]
    return {"model": req.body["model"], "created_at": ollama_time(), "message": message,
            "done_reason": r.finish, "done": True, "total_duration": 1000000,
            "load_duration": 100000, "prompt_eval_count": r.input_tokens,
            "prompt_eval_duration": 200000, "eval_count": r.output_tokens,
            "eval_duration": 700000}


def ollama_complete(req, step):
    r = make_reply(step, req, "", "stop", "stop")
    return json_response(200, ollama_final(req, r, r.text, r.tool_calls),
                         content_type="application/json; charset=utf-8")


def ollama_stream(req, step):
    r = make_reply(step, req, "", "stop", "stop")
    model = req.body["model"]

    def chunk(message):
        return {"model": model, "created_at": ollama_time(), "message": message, "done": False}

    events = []
    for piece in split_text(r.text, r.chunks) if r.text else []:
        events.append(chunk({"role": "assistant", "content": piece}))
    if r.tool_calls:
        events.append(chunk({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in r.tool_calls]}))
    events.append(ollama_final(req, r, "", []))
    lines = [compact(e) + "\n" for e in events]
    spec = step.get("stream_error", {})
    message = spec.get("message", OLLAMA_MESSAGES.get(spec.get("status", 500), "error"))
    lines = with_stream_error(step, lines, compact({"error": message}) + "\n")
    return Response(200, "application/x-ndjson", [l.encode() for l in lines], streamed=True)


def ollama_model_entry(name):
    return {"name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z",
            "size": 4661224676, "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                        "families": ["llama"], "parameter_size": "8.0B",
                        "quantization_level": "Q4_0"}}


def ollama_tags(script):
    return json_response(200, {"models": [ollama_model_entry(m) for m in script.models or []]},
                         content_type="application/json; charset=utf-8")


def ollama_ps(script):
    models = []
    for m in script.loaded or []:
        entry = ollama_model_entry(m)
        del entry["modified_at"]
        entry.update(expires_at="2099-01-01T00:00:00Z", size_vram=entry["size"])
        models.append(entry)
    return json_response(200, {"models": models},
                         content_type="application/json; charset=utf-8")


# -- dispatch -------------------------------------------------------------------


@dataclass
class Dialect:
    name: str
    auth: object
    validate: object
    complete: object
    stream: object
    fault: object
    stream_default: bool
    stream_type: str
    id_header: str


CHAT = {
    "/v1/chat/completions": Dialect("openai", openai_auth, openai_validate, openai_complete,
                                    openai_stream, openai_fault, False,
                                    "text/event-stream; charset=utf-8", "x-request-id"),
    "/v1/messages": Dialect("anthropic", anthropic_auth, anthropic_validate,
                            anthropic_complete, anthropic_stream, anthropic_fault, False,
                            "text/event-stream; charset=utf-8", "request-id"),
    "/api/chat": Dialect("ollama", ollama_auth, ollama_validate, ollama_complete,
                         ollama_stream, ollama_fault, True, "application/x-ndjson", ""),
}
DISCOVERY = {
    "/v1/models": ("openai", openai_auth, openai_models),
    "/api/tags": ("ollama", ollama_auth, ollama_tags),
    "/api/ps": ("ollama", ollama_auth, ollama_ps),
}


@dataclass
class Handled:
    response: Response
    dialect: str = ""
    step: dict = None
    step_ref: str = None
    stream: bool = False


def handle(req, script):
    h = decide(req, script)
    d = CHAT.get(req.path)
    if d is not None and d.id_header:
        h.response.headers.append((d.id_header, next_id("req_")))
    return h


def decide(req, script):
    """Decides the response to `req`; consumes a script step for a valid chat
    request only."""
    if req.method == "GET" and req.path in DISCOVERY:
        name, auth, answer = DISCOVERY[req.path]
        return Handled(auth(req, script.api_key) or answer(script), name)
    if req.method == "GET" and req.path == "/":
        return Handled(Response(200, "text/plain; charset=utf-8", [b"Ollama is running"]),
                       "ollama")
    d = CHAT.get(req.path)
    if d is None or req.method != "POST":
        return Handled(not_found(req), "")
    bad = d.auth(req, script.api_key) or d.validate(req, script.models)
    if bad is not None:
        return Handled(bad, d.name)
    stream = wants_stream(req, d.stream_default)
    taken = script.take(d.name, req.body.get("model"))
    if taken is None:
        return Handled(d.fault(500, {"message": "model_server: the script has no step left "
                                     "for %s model %s" % (d.name, req.body.get("model"))}),
                       d.name, stream=stream)
    queue, index, step = taken
    ref = "%s[%d]" % (queue, index)
    if "status" in step:
        resp = d.fault(step["status"], step.get("error"))
        if "body" in step:
            body = step["body"]
            resp.pieces = [(body if isinstance(body, str) else compact(body)).encode()]
        return Handled(resp, d.name, step, ref, stream)
    if "stream_error" in step and not stream:
        spec = step["stream_error"]
        return Handled(d.fault(spec.get("status", 500), spec), d.name, step, ref, stream)
    if "raw" in step:
        ctype = d.stream_type if stream else "application/json"
        return Handled(raw_response(step, ctype, stream), d.name, step, ref, stream)
    resp = d.stream(req, step) if stream else d.complete(req, step)
    return Handled(resp, d.name, step, ref, stream)


def not_found(req):
    if req.path.startswith("/api/"):
        return ollama_error(404, "404 page not found")
    if req.path.startswith("/v1/messages"):
        return anthropic_error(404, "Not Found")
    return openai_error(404, "Invalid URL (%s %s)" % (req.method, req.path))


class Server:
    def __init__(self, script, log_path):
        self.script = script
        self.log_path = log_path

    async def connection(self, reader, writer):
        writer.transport.set_write_buffer_limits(0)  # drain() = handed to the kernel
        inbox = Inbox(reader)
        try:
            while True:
                req = await read_request(inbox, writer)
                if req is None:
                    break
                h = handle(req, self.script)
                out = await Sender(inbox, writer, h.step).send(h.response, req.keep_alive())
                self.log(req, h, out)
                if out.ended != "complete" or out.stalled or not req.keep_alive():
                    break
        finally:
            inbox.stop()
            if not writer.transport.is_closing():
                writer.close()

    def log(self, req, h, out):
        if not self.log_path:
            return
        record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                  "dialect": h.dialect, "method": req.method, "path": req.path,
                  "headers": req.headers, "body": req.log_body(),
                  "model": req.body.get("model") if isinstance(req.body, dict) else None,
                  "stream": h.stream, "step": h.step_ref, "status": h.response.status,
                  "body_bytes_sent": out.sent, "ended": out.ended, "stalled": out.stalled}
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(compact(record) + "\n")


async def serve(args):
    data = []
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            data = json.load(f)
    try:
        script = Script(data, args.api_key)
    except ValueError as e:
        sys.exit("model_server: %s: %s" % (args.script, e))
    server = Server(script, args.log)
    listener = await asyncio.start_server(server.connection, args.host, args.port)
    port = listener.sockets[0].getsockname()[1]
    print("LISTENING %d" % port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with listener:
        await stop.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", help="JSON script of replies and faults")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log", help="append one JSON line per request")
    parser.add_argument("--api-key", help="require this key (overrides the script's)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
