"""Finding, verifying and downloading dataset files (downloads from a server on 127.0.0.1)."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ann.data.sources import RemoteFile, data_dirs, fetch, sha256sum
from ann.errors import CorruptFile, DatasetMissing

CONTENT = b"the official bytes\n" * 1000


def remote(content: bytes = CONTENT, *urls: str, name: str = "data.bin") -> RemoteFile:
    return RemoteFile(name, hashlib.sha256(content).hexdigest(),
                      urls or (f"http://127.0.0.1:9/{name}",), len(content))


def put(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, declared_length)``; anything else is a 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, length = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch):
    """Tests that want $ANN_DATA_DIR set it themselves, to a temporary folder."""
    monkeypatch.delenv("ANN_DATA_DIR", raising=False)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.requests = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("ANN_OFFLINE", raising=False)


def test_sha256sum_reads_in_chunks(tmp_path):
    path = put(tmp_path, "big", b"x" * (3 << 20) + b"tail")
    assert sha256sum(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "data"))
    assert data_dirs() == [tmp_path / "data", tmp_path / "cache"]
    monkeypatch.delenv("ANN_DATA_DIR")
    monkeypatch.delenv("ANN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dirs() == [tmp_path / "home" / ".cache" / "ann"]


def test_data_dir_is_looked_up_before_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "data"))
    file = remote()
    in_cache = put(tmp_path / "cache" / "set", file.name, CONTENT)
    assert fetch("set", "set", [file]) == {file.name: in_cache}
    in_data = put(tmp_path / "data" / "set", file.name, CONTENT)
    assert fetch("set", "set", [file]) == {file.name: in_data}
    put(tmp_path / "data" / "set", file.name, b"a different version")
    with pytest.raises(CorruptFile):  # the data dir's copy wins, even over a good cached one
        fetch("set", "set", [file])


def test_checksum_mismatch_says_which_file_and_how_to_fix_it(tmp_path):
    file = remote(CONTENT, "https://example.org/official/data.bin")
    path = put(tmp_path / "cache" / "set", file.name, CONTENT[:-1])
    with pytest.raises(CorruptFile) as info:
        fetch("set", "set", [file])
    message = str(info.value)
    assert "\n" not in message
    for words in (str(path), "checksum does not match", "delete it",
                  "https://example.org/official/data.bin"):
        assert words in message


def test_download_lands_verified_in_the_cache(tmp_path, server, online, capsys):
    server.routes["/files/data.bin"] = (CONTENT, len(CONTENT))
    file = remote(CONTENT, f"{server.url}/files/data.bin")
    paths = fetch("set", "set", [file])
    target = tmp_path / "cache" / "set" / "data.bin"
    assert paths == {"data.bin": target}
    assert sha256sum(target) == file.sha256
    assert list(target.parent.iterdir()) == [target]
    fetch("set", "set", [file])  # found in the cache: no second request
    assert server.requests == ["/files/data.bin"]
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal


def test_addresses_are_tried_in_order(tmp_path, server, online):
    server.routes["/mirror/data.bin"] = (CONTENT, len(CONTENT))
    file = remote(CONTENT, f"{server.url}/gone/data.bin", f"{server.url}/mirror/data.bin")
    assert fetch("set", "set", [file])["data.bin"].read_bytes() == CONTENT
    assert server.requests == ["/gone/data.bin", "/mirror/data.bin"]


@pytest.mark.parametrize("case", ["wrong content", "cut off"])
def test_a_bad_download_leaves_no_file_behind(tmp_path, server, online, case):
    body = b"not the official bytes" if case == "wrong content" else CONTENT[:100]
    server.routes["/data.bin"] = (body, len(body) if case == "wrong content" else len(CONTENT))
    file = remote(CONTENT, f"{server.url}/data.bin")
    with pytest.raises(DatasetMissing) as info:
        fetch("set", "set", [file])
    why = "sha256 checksum does not match" if case == "wrong content" else "stopped after 100 of"
    assert "download failed" in str(info.value) and why in str(info.value)
    folder = tmp_path / "cache" / "set"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_and_missing_names_files_folders_and_addresses(tmp_path, server):
    server.routes["/data.bin"] = (CONTENT, len(CONTENT))
    files = [remote(CONTENT, f"{server.url}/data.bin"),
             remote(b"other", "https://example.org/other.bin", name="other.bin")]
    with pytest.raises(DatasetMissing) as info:
        fetch("set", "setfolder", files)
    message = str(info.value)
    assert "\n" not in message
    for words in ("'set'", "data.bin", "other.bin", "ANN_OFFLINE=1", "$ANN_DATA_DIR/setfolder/",
                  str(tmp_path / "cache" / "setfolder"), f"{server.url}/data.bin",
                  "https://example.org/other.bin"):
        assert words in message
    assert server.requests == []


def test_unreachable_server_reports_why(tmp_path, server, online, monkeypatch):
    monkeypatch.setenv("ANN_DATA_DIR", str(tmp_path / "data"))
    found = remote(b"here", name="here.bin")
    put(tmp_path / "data" / "set", found.name, b"here")
    file = remote(CONTENT, f"{server.url}/nowhere/data.bin")
    with pytest.raises(DatasetMissing) as info:
        fetch("set", "set", [found, file])
    message = str(info.value)
    assert "HTTP 404" in message and "here.bin" not in message
    assert str(tmp_path / "data" / "set") in message
