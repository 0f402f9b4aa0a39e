"""Unknown --only/--skip tags and --set names are typos: exit 2 with a suggestion, nothing sent."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize("args, said", [
    (["--only", "feild"], "did you mean 'field'?"),
    (["--skip", "nosuchtag"], "no check has the tag 'nosuchtag'"),
    (["--set", "SERVER_TIMOUT=3"], "did you mean 'SERVER_TIMEOUT'?"),
    (["--set", "NOPE=1"], "the contract uses no variable 'NOPE'"),
])
def test_unknown_names_are_exit_2_with_did_you_mean(args, said, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "--base-url", "http://127.0.0.1:9", "--report", f"json:{tmp_path / 'r.json'}", *args)
    assert result.code == 2 and said in result.err and "fix:" in result.err, result.err
    assert not (tmp_path / "r.json").exists()


def test_known_names_run(tmp_path):
    from fakeai_contract.reference import ReferenceOptions, ReferenceServer

    with ReferenceServer(ReferenceOptions()) as srv:
        result = run_cli("run", "--base-url", srv.base_url, "--only", "field", "--skip", "slo",
                         "--set", "SERVER_TIMEOUT=9", "--set", "host=127.0.0.1", "-q", "--no-color")
    assert result.code == 0, result.out[-2000:]


@pytest.mark.parametrize("where, said", [("file/x.json", "cannot create the folder"), (".", "is a folder")])
def test_a_report_destination_that_cannot_be_written_is_exit_2_before_any_request(where, said, tmp_path):
    import socket

    (tmp_path / "file").write_text("a file, not a folder")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        result = run_cli("run", "--base-url", f"http://127.0.0.1:{listener.getsockname()[1]}",
                         "--report", "json:-", "--report", f"junit:{tmp_path / where}")
        assert result.code == 2 and said in result.err, result.err
        with pytest.raises(BlockingIOError):
            listener.accept()               # nothing was sent
