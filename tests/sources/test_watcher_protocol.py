"""The answer socket's wire format (``sources.watcher``): what a command sends and what
the watcher replies, both ways, for any argv, environment and output - and the client's
import cost, which is the reason it is not JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aardcheck.sources import watcher
from aardcheck.watch.answer import AnswerServer

# argv, environment and paths cannot hold NUL; anything else can come (surrogates stand
# for bytes that are not UTF-8, as Python decodes them from the OS)
_os_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)))
_raw = (
    st.binary().filter(lambda b: b"\0" not in b).map(lambda b: b.decode("utf-8", "surrogateescape"))
)
_arg = st.one_of(_os_text, _raw)
_key = st.one_of(
    st.text(st.characters(blacklist_characters="\0=", blacklist_categories=("Cs",)), min_size=1),
    _raw.filter(lambda k: k and "=" not in k),
)


@given(st.lists(_arg), _arg, st.dictionaries(_key, _arg), st.booleans())
def test_a_request_arrives_as_it_was_sent(
    argv: list[str], cwd: str, env: dict[str, str], tty: bool
) -> None:
    data = watcher.encode_request(argv, cwd, env, tty)
    assert watcher.decode_request(data) == {
        "argv": argv,
        "cwd": cwd,
        "env": env,
        "stdin_tty": tty,
    }


@given(st.integers(-255, 255), st.text(), st.text())
def test_an_answer_arrives_as_it_was_given(code: int, out: str, err: str) -> None:
    out, err = (
        s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape") for s in (out, err)
    )
    reply = {"exit": code, "stdout": out, "stderr": err}
    assert watcher.decode_reply(watcher.encode_reply(reply)) == (code, out, err)


def test_a_decline_or_a_garbled_reply_is_no_answer() -> None:
    assert watcher.decode_reply(watcher.encode_reply({"declined": "stale"})) is None
    assert watcher.decode_reply(watcher.encode_reply({"exit": "0", "stdout": ""})) is None
    good = watcher.encode_reply({"exit": 0, "stdout": "abc", "stderr": ""})
    assert watcher.decode_reply(good) == (0, "abc", "")
    for bad in (
        b"",
        good.replace(b"answer 2", b"answer 1"),
        good[:-1],
        b"x\n",
        good.split(b"\n")[0],
    ):
        assert watcher.decode_reply(bad) is None


def test_anything_but_a_request_is_refused() -> None:
    good = watcher.encode_request(["check"], "/", {}, False)
    assert watcher.decode_request(good) is not None
    for bad in (
        b"",
        b'{"v": 1}',
        good.replace(b"answer 2", b"answer 1"),
        good.replace(b"\x001\x00", b"\x009\x00"),
    ):
        assert watcher.decode_request(bad) is None


def test_text_the_os_cannot_hold_means_cold_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher, "_ours", lambda path: True)
    monkeypatch.setenv("AARDCHECK_ANSWER_SOCKET", "/nonexistent/aardcheck/watch.sock")
    assert watcher.ask(["check", "\udd00"], timeout=0.1) is None


def test_the_client_imports_nothing_it_can_do_without(tmp_path: Path) -> None:
    """An answered command costs Python's start plus this module: pathlib, json, socket
    and re were 13-20 ms of it (the reason for the wire format above)."""
    path = tmp_path / "answer" / "watch.sock"
    server = AnswerServer(lambda request: {"exit": 3, "stdout": "served\n", "stderr": ""}, path)
    server.start()
    code = (
        "import sys; from aardcheck.sources import watcher; "
        "print(watcher.ask(['check'], timeout=5)); "
        "print(sorted({'pathlib', 'json', 'socket', 're', 'typing', 'enum'} & set(sys.modules)))"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"AARDCHECK_ANSWER_SOCKET": str(path), "PATH": "/usr/bin"},
        ).stdout
    finally:
        server.close()
    assert out.splitlines() == ["(3, 'served\\n', '')", "[]"]
