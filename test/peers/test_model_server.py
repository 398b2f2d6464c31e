"""Self-test of model_server.py: a real server process on a loopback port,
spoken to with http.client only. Run: python3 -m unittest test_model_server
(from this folder; CTest's model_server_selftest does)."""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "model_server.py")

SCRIPT = {
    "api_key": "sk-test",
    "models": ["m1"],
    "openai": [
        {"text": "Hello world", "chunks": 3},
        {"tool_calls": [{"id": "call_a", "name": "echo", "arguments": {"x": 1}}],
         "usage": {"input": 11, "output": 5}},
        {"status": 429, "headers": {"Retry-After": "2"}},
        {"text": "never finished", "stall_after_bytes": 20},
    ],
    "anthropic": [
        {"text": "Hi there", "chunks": 2,
         "tool_calls": [{"id": "toolu_a", "name": "echo", "arguments": {"a": [1, 2]}}],
         "arg_chunks": 3},
        {"text": "plain", "usage": {"input": 3, "output": 4}},
        {"status": 529},
    ],
    "ollama": [
        {"text": "Yo", "chunks": 2, "tool_calls": [{"name": "echo", "arguments": {"a": 1}}]},
        {"text": "whole"},
        {"text": "cut", "reset_after_bytes": 10},
    ],
}


def sse_events(body):
    """(event name or None, parsed data or the raw string) per SSE event."""
    out = []
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = line[len("data: "):]
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


class ModelServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        script = os.path.join(cls.dir.name, "script.json")
        with open(script, "w") as f:
            json.dump(SCRIPT, f)
        cls.log = os.path.join(cls.dir.name, "log.jsonl")
        cls.proc = subprocess.Popen(
            [sys.executable, SERVER, "--script", script, "--port", "0", "--log", cls.log],
            stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()  # blocks until it listens, or EOF if it died
        if not line.startswith("LISTENING "):
            cls.proc.kill()
            raise RuntimeError("model_server did not start: %r" % line)
        cls.port = int(line.split()[1])

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)
        cls.proc.stdout.close()
        cls.dir.cleanup()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body) if body is not None else None
        conn.request(method, path, data, headers or {})
        try:
            resp = conn.getresponse()
            return resp, resp.read()
        finally:
            conn.close()

    def openai(self, body):
        return self.request("POST", "/v1/chat/completions", body,
                            {"Authorization": "Bearer sk-test",
                             "Content-Type": "application/json"})

    def anthropic(self, body, key="sk-test"):
        headers = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
        if key:
            headers["x-api-key"] = key
        return self.request("POST", "/v1/messages", body, headers)

    def ollama(self, body):
        return self.request("POST", "/api/chat", body, {"Authorization": "Bearer sk-test"})

    def log_lines(self, until, timeout=20):
        """The log's records once `until(records)` holds (the server writes a
        line when a request ends, which may be after the client saw it)."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log) as f:
                records = [json.loads(l) for l in f]
            if until(records) or time.monotonic() > deadline:
                return records
            time.sleep(0.02)

    # The tests of one dialect run in order (their script steps are consumed
    # in order), hence one test method per dialect.

    def test_openai(self):
        msgs = [{"role": "user", "content": "hi"}]
        resp, body = self.openai({"model": "m1", "messages": msgs, "stream": True,
                                     "stream_options": {"include_usage": True}})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        events = [d for _, d in sse_events(body)]
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual(events[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(e["choices"][0]["delta"].get("content") or ""
                       for e in events[:-1] if e["choices"])
        self.assertEqual(text, "Hello world")
        self.assertEqual(len([e for e in events[1:-2] if e["choices"][0]["delta"]]), 3)
        self.assertEqual(events[-3]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(events[-2]["choices"], [])
        self.assertEqual(events[-2]["object"], "chat.completion.chunk")
        self.assertGreater(events[-2]["usage"]["prompt_tokens"], 0)

        # A well-formed tool round trip is accepted.
        history = msgs + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function",
                 "function": {"name": "echo", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "{}"}]
        tools = [{"type": "function", "function": {"name": "echo", "parameters": {}}}]
        resp, body = self.openai({"model": "m1", "messages": history, "tools": tools})
        self.assertEqual(resp.status, 200, body)
        reply = json.loads(body)
        self.assertEqual(reply["object"], "chat.completion")
        call = reply["choices"][0]["message"]["tool_calls"][0]
        self.assertEqual(call, {"id": "call_a", "type": "function",
                                "function": {"name": "echo", "arguments": '{"x":1}'}})
        self.assertEqual(reply["choices"][0]["finish_reason"], "tool_calls")
        self.assertEqual(reply["usage"]["total_tokens"], 16)

        # A tool message answering a call never issued: 400, no step taken.
        resp, body = self.openai({"model": "m1", "messages": msgs + [
            {"role": "tool", "tool_call_id": "call_zzz", "content": "1"}]})
        self.assertEqual(resp.status, 400)
        self.assertEqual(set(json.loads(body)["error"]), {"message", "type", "param", "code"})

        resp, body = self.request("POST", "/v1/chat/completions",
                                     {"model": "m1", "messages": msgs})
        self.assertEqual(resp.status, 401)

        resp, body = self.openai({"model": "m1", "messages": msgs})
        self.assertEqual(resp.status, 429)
        self.assertEqual(resp.getheader("Retry-After"), "2")
        self.assertEqual(json.loads(body)["error"]["code"], "rate_limit_exceeded")

        # Stalled after 20 body bytes: the client gives up; the log says so.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/v1/chat/completions",
                     json.dumps({"model": "m1", "messages": msgs, "stream": True}),
                     {"Authorization": "Bearer sk-test"})
        resp = conn.getresponse()
        self.assertEqual(len(resp.read1(20)), 20)
        conn.close()
        records = self.log_lines(lambda rs: any(r["stalled"] for r in rs))
        stalled = [r for r in records if r["stalled"]]
        self.assertEqual(len(stalled), 1)
        self.assertEqual(stalled[0]["ended"], "client closed")
        self.assertEqual(stalled[0]["body_bytes_sent"], 20)

        resp, body = self.openai({"model": "m1", "messages": msgs})
        self.assertEqual(resp.status, 500)
        self.assertIn("no step left", json.loads(body)["error"]["message"])

    def test_anthropic(self):
        msgs = [{"role": "user", "content": "hi"}]
        resp, body = self.anthropic({"model": "m1", "max_tokens": 64, "messages": msgs,
                                        "stream": True})
        self.assertEqual(resp.status, 200)
        events = sse_events(body)
        names = [n for n, _ in events]
        self.assertEqual(names[0], "message_start")
        self.assertIn("ping", names)
        self.assertEqual(names[-2:], ["message_delta", "message_stop"])
        for name, data in events:
            self.assertEqual(name, data["type"])
        deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
        self.assertEqual("".join(d.get("text", "") for d in deltas), "Hi there")
        partial = "".join(d.get("partial_json", "") for d in deltas)
        self.assertEqual(json.loads(partial), {"a": [1, 2]})
        self.assertEqual(len([d for d in deltas if d["type"] == "input_json_delta"]), 4)
        self.assertEqual(events[-2][1]["delta"]["stop_reason"], "tool_use")

        # A tool_result answering a tool_use the previous message does not hold.
        bad = msgs + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a",
                                               "name": "echo", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_b",
                                          "content": "1"}]}]
        resp, body = self.anthropic({"model": "m1", "max_tokens": 64, "messages": bad})
        self.assertEqual(resp.status, 400)
        err = json.loads(body)
        self.assertEqual(err["type"], "error")
        self.assertEqual(err["error"]["type"], "invalid_request_error")
        self.assertIn("toolu_b", err["error"]["message"])

        resp, body = self.anthropic({"model": "m1", "messages": msgs})
        self.assertEqual(resp.status, 400)
        self.assertIn("max_tokens", json.loads(body)["error"]["message"])
        resp, body = self.anthropic({"model": "m1", "max_tokens": 9, "messages": msgs},
                                       key=None)
        self.assertEqual(resp.status, 401)

        good = bad[:2] + [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "1"}]}]
        resp, body = self.anthropic({"model": "m1", "max_tokens": 64, "messages": good,
                                     "system": "be brief"})
        self.assertEqual(resp.status, 200, body)
        reply = json.loads(body)
        self.assertEqual(reply["type"], "message")
        self.assertEqual(reply["content"], [{"type": "text", "text": "plain"}])
        self.assertEqual(reply["stop_reason"], "end_turn")
        self.assertEqual(reply["usage"]["input_tokens"], 3)

        resp, body = self.anthropic({"model": "m1", "max_tokens": 64, "messages": msgs})
        self.assertEqual(resp.status, 529)
        self.assertEqual(json.loads(body)["error"]["type"], "overloaded_error")

    def test_ollama(self):
        msgs = [{"role": "user", "content": "hi"}]
        resp, body = self.ollama({"model": "m1", "messages": msgs})  # streams by default
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "application/x-ndjson")
        lines = [json.loads(l) for l in body.decode().splitlines()]
        self.assertEqual("".join(l["message"]["content"] for l in lines), "Yo")
        calls = [c for l in lines for c in l["message"].get("tool_calls", [])]
        self.assertEqual(calls, [{"function": {"name": "echo", "arguments": {"a": 1}}}])
        self.assertTrue(lines[-1]["done"])
        self.assertEqual(lines[-1]["done_reason"], "stop")
        self.assertIn("prompt_eval_count", lines[-1])
        self.assertIn("eval_count", lines[-1])

        resp, body = self.ollama({"model": "m1", "messages": msgs, "stream": False})
        reply = json.loads(body)
        self.assertEqual(reply["message"]["content"], "whole")
        self.assertTrue(reply["done"])

        resp, body = self.ollama({"model": "nope", "messages": msgs})
        self.assertEqual(resp.status, 404)
        self.assertIn("not found", json.loads(body)["error"])

        resp, body = self.request("GET", "/api/tags", None,
                                     {"Authorization": "Bearer sk-test"})
        self.assertEqual([m["name"] for m in json.loads(body)["models"]], ["m1"])

        # Reset after 10 body bytes: the client sees the connection reset.
        with self.assertRaises((ConnectionResetError, http.client.IncompleteRead,
                                http.client.RemoteDisconnected)):
            self.ollama({"model": "m1", "messages": msgs})
        records = self.log_lines(lambda rs: any(r["ended"] == "reset" for r in rs))
        self.assertEqual([r["body_bytes_sent"] for r in records if r["ended"] == "reset"],
                         [10])

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for _ in range(3):
            conn.request("GET", "/v1/models", headers={"Authorization": "Bearer sk-test"})
            resp = conn.getresponse()
            self.assertEqual(json.loads(resp.read())["data"][0]["id"], "m1")
        conn.close()


if __name__ == "__main__":
    unittest.main()
