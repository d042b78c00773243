"""Atomic writes (ann.fileio): the mode a written file gets."""

import os
import stat
import subprocess
import sys

import pytest

from ann import fileio
from helpers import env

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_written_file_has_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        fileio.write_json(tmp_path / "config.json", {"a": 1})
        with fileio.atomic_path(tmp_path / "model.safetensors") as tmp:
            tmp.write_bytes(b"x")
        assert fileio._umask() == umask
    finally:
        os.umask(old)
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_plain_open_and_an_atomic_write_agree_under_the_shells_umask(tmp_path):
    # a fresh process under `umask 022`, as a shell would start it
    code = ("import os, stat, sys; from ann import fileio; p = sys.argv[1]; "
            "fileio.write_text(p + '/a', 'x'); open(p + '/b', 'w').close(); "
            "print(*(oct(stat.S_IMODE(os.stat(p + n).st_mode)) for n in ('/a', '/b')))")
    out = subprocess.run(["sh", "-c", f'umask 022 && exec "{sys.executable}" -c "$0" "$1"', code,
                          str(tmp_path)], capture_output=True, text=True, env=env(), check=True)
    assert out.stdout.split() == ["0o644", "0o644"], out
