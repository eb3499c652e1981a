import subprocess
import sys

from helpers import ROOT, default_words


def test_committed_names_are_what_the_script_regenerates(tmp_path):
    out = tmp_path / "names.txt"
    subprocess.run([sys.executable, "stages/make_names.py", "--out", str(out)], cwd=ROOT, check=True)
    assert out.read_bytes() == (ROOT / "data/names.txt").read_bytes()


def test_default_names_are_distinct_lowercase_words():
    names = default_words()
    assert 29_000 < len(names) < 31_000
    assert len(set(names)) == len(names)
    assert all(name.isalpha() and name == name.lower() for name in names)
