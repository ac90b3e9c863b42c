"""The OpenAI-compatible backend against real HTTP servers on loopback: llama.cpp's own
OpenAI-compatible server over the default GGUF, a port where nothing listens, and a tiny
server that answers junk."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.errors import ModelError, ModelUnavailable, SchemaError
from tailored.llm import load_chat_model
from tailored.llm.openai_compat import OpenAIChatModel
from tailored.types import ChatResult

from .test_llm import MODEL_FILE, needs_model

ASK = [{"role": "user", "content": "What is the capital of France? Answer with one word."}]

LAUNCH = """
import sys
from tailored.llm.llamacpp import model_params
from llama_cpp.server.__main__ import main
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
with model_params():  # the same CPU-safe loading as the in-process backend
    main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCH,
                "--model",
                str(MODEL_FILE),
                "--model_alias",
                "qwen",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "1024",
                "--n_threads",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("llama.cpp server did not start in 90 s")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def remote(llama_server: str) -> Iterator[OpenAIChatModel]:
    model = OpenAIChatModel("qwen", base_url=llama_server, json_mode="json_object", context_window=1024)
    yield model
    model.close()


@needs_model
@pytest.mark.slow
class TestLlamaCppServer:
    def test_generate(self, remote: OpenAIChatModel) -> None:
        out = remote.generate(ASK, max_tokens=5)
        assert "paris" in out.text.lower() and out.prompt_tokens > 0 and out.completion_tokens >= 1

    def test_system_stop_and_stream(self, remote: OpenAIChatModel) -> None:
        msgs = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
        chunks = list(remote.stream(msgs, system="You are a counter.", max_tokens=30, stop=["6"]))
        text = "".join(chunks)
        assert len(chunks) > 1 and "5" in text and "6" not in text

    def test_json_schema(self, remote: OpenAIChatModel) -> None:
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}, "vegetarian": {"type": "boolean"}},
            "required": ["city", "vegetarian"],
        }
        out = remote.generate_json(
            [{"role": "user", "content": "I live in Porto and never eat meat."}], schema, max_tokens=30
        )
        assert out == {"city": "Porto", "vegetarian": True}

    def test_logprobs(self, remote: OpenAIChatModel) -> None:
        probs = remote.next_token_logprobs(
            [{"role": "user", "content": "Which is a fruit? A) hammer B) apple. Answer with the letter only."}],
            top_k=2,
        )
        assert max(probs, key=probs.__getitem__).strip() == "B"

    def test_personalized_chat_through_the_server(self, tmp_path: Path, remote: OpenAIChatModel) -> None:
        from tailored.testing import HashEmbedder

        with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as eng:
            eng.add({"user_id": "ana", "text": "I am vegetarian"})
            out = eng.chat(
                "ana", [{"role": "user", "content": "Am I vegetarian? yes or no."}], model=remote, max_tokens=5
            )
            assert isinstance(out, ChatResult) and "yes" in out.text.lower()
            assert len(eng.events("ana")) == 3


def test_a_server_that_is_down_is_model_unavailable(tmp_path: Path) -> None:
    from tailored.testing import HashEmbedder

    model = OpenAIChatModel("x", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=5)
    with pytest.raises(ModelUnavailable, match="cannot reach"):
        model.generate(ASK)
    with pytest.raises(ModelUnavailable):
        list(model.stream(ASK))
    with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as eng:
        with pytest.raises(ModelUnavailable):
            eng.chat("ana", ASK, model=model)
        assert eng.events("ana") == []  # the failed chat stored nothing
    model.close()


JUNK = {
    "/text/v1/chat/completions": (200, "text/plain", b"hello, I am not an API"),
    "/html/v1/chat/completions": (200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
    "/shape/v1/chat/completions": (200, "application/json", b'{"answer": 42}'),
    "/nochoice/v1/chat/completions": (200, "application/json", b'{"choices": []}'),
    "/broken/v1/chat/completions": (200, "application/json", b'{"choices": [{"message": '),
    "/error/v1/chat/completions": (500, "application/json", b'{"error": {"message": "boom"}}'),
    "/stream/v1/chat/completions": (200, "text/event-stream", b"data: {not json}\n\n"),
    "/notjson/v1/chat/completions": (
        200,
        "application/json",
        b'{"choices": [{"message": {"content": "no json here"}}]}',
    ),
}


def logprobs_answer(request: dict[str, object]) -> bytes:
    """A chat completion of one token with ``top_logprobs``, the way OpenAI's API answers
    ``logprobs: true``: the letter whose response mentions lentils is the likely one, so a
    judge reading both orders can be checked against it."""
    import json
    import math

    messages = request.get("messages")
    prompt = str(messages[-1]["content"]) if isinstance(messages, list) and messages else ""  # type: ignore[index]
    if "Proposed response:" in prompt:  # one response alone: does it fit?
        proposed = prompt.split("Proposed response:", 1)[1].splitlines()[0]
        likely, other = ("Yes", "No") if "lentil" in proposed.lower() else ("No", "Yes")
    else:
        a_line = next((line for line in prompt.splitlines() if line.startswith("Response A:")), "")
        likely, other = ("A", "B") if "lentil" in a_line.lower() else ("B", "A")
    top = [(likely, 0.8), (other, 0.15), (" " + likely, 0.03), ("The", 0.01), ("I", 0.005)]
    n = int(request.get("top_logprobs") or 0)  # type: ignore[call-overload]
    content = [
        {
            "token": likely,
            "logprob": math.log(0.8),
            "bytes": list(likely.encode()),
            "top_logprobs": [{"token": t, "logprob": math.log(q), "bytes": list(t.encode())} for t, q in top[:n]],
        }
    ]
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": likely},
                "logprobs": {"content": content},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }
    return json.dumps(body).encode()


LOGPROB_REQUESTS: list[dict[str, object]] = []


class JunkHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/logprobs/v1/chat/completions":
            import json

            request = json.loads(raw)
            LOGPROB_REQUESTS.append(request)
            status, ctype, body = 200, "application/json", logprobs_answer(request)
        else:
            status, ctype, body = JUNK.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def junk_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JunkHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("path", ["text", "html", "shape", "nochoice", "broken", "error"])
def test_a_server_answering_junk_is_a_model_error(junk_server: str, path: str) -> None:
    model = OpenAIChatModel("x", base_url=f"{junk_server}/{path}/v1", timeout=5)
    with pytest.raises(ModelError) as err:
        model.generate(ASK)
    assert not isinstance(err.value, ModelUnavailable)
    assert junk_server in str(err.value)
    model.close()


def test_a_junk_stream_is_a_model_error(junk_server: str) -> None:
    model = OpenAIChatModel("x", base_url=f"{junk_server}/stream/v1", timeout=5)
    with pytest.raises(ModelError):
        list(model.stream(ASK))
    model.close()


def test_a_server_that_ignores_the_schema_gets_one_retry_then_schema_error(junk_server: str) -> None:
    model = OpenAIChatModel("x", base_url=f"{junk_server}/notjson/v1", timeout=5)
    with pytest.raises(SchemaError) as err:
        model.generate_json(ASK, {"type": "object"})
    assert err.value.output == "no json here"
    model.close()


def test_openai_spec_and_missing_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from tailored.errors import InvalidInput

    with pytest.raises(InvalidInput, match="base_url"):
        load_chat_model("openai:gpt")
    monkeypatch.setenv("TAILORED_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = load_chat_model("openai:gpt")
    assert isinstance(model, OpenAIChatModel) and model.name == "gpt"
    model.close()


def test_choice_logprobs_and_the_judge_over_openai_logprobs(junk_server: str) -> None:
    """One token with ``logprobs: true, top_logprobs: 5``; the choices are read from the
    listing (variants with a space summed, an unlisted choice bounded), and the judge reads
    both orders from it."""
    import math

    from tailored.judge import Judge, Persona

    model = OpenAIChatModel("fake", base_url=f"{junk_server}/logprobs/v1", timeout=5)
    LOGPROB_REQUESTS.clear()
    msgs = [{"role": "user", "content": "Response A: lentil soup\nResponse B: steak\nA or B?"}]
    probs = model.choice_logprobs(msgs, ["A", "B", "C"])
    (sent,) = LOGPROB_REQUESTS
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5 and sent["max_tokens"] == 1
    assert math.exp(probs["A"]) == pytest.approx(0.83) and math.exp(probs["B"]) == pytest.approx(0.15)
    assert math.exp(probs["C"]) == pytest.approx(0.005)  # unlisted: the least likely listed token
    judge = Judge(model, calibrator=None, method="pairwise")
    j = judge.compare(Persona(text="vegetarian"), "Dinner?", "Lentil curry", "Steak", explain=False)
    assert j.winner == "a" and j.consistent and j.source == "tokens"
    assert j.probability == pytest.approx(0.83 / 0.98)
    j2 = judge.compare(None, "Dinner?", "Steak", "Lentil curry", explain=False)
    assert j2.winner == "b" and j2.probability == pytest.approx(1 - j.probability)
    point = Judge(model, calibrator=None)  # each response alone: P(Yes) 0.83 vs 0.15 for the one that fits
    j3 = point.compare(None, "Dinner?", "Steak", "Lentil curry", explain=False)
    assert j3.winner == "b" and j3.margins == pytest.approx((math.log(0.15 / 0.83), math.log(0.83 / 0.15)))
    assert point.score(None, "Dinner?", "Lentil curry").probability == pytest.approx(0.83 / 0.98)
    model.close()
