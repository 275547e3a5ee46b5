"""Atomic writes: a reader sees the old file or the whole new one; a failed write leaves nothing behind."""
import json

import pandas as pd
import pytest

from growthpace.files import atomic_dir, atomic_path, tree_bytes, write_json_atomic, write_parquet_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(path.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_writes_replace_whole_files_and_create_parents(tmp_path):
    path = tmp_path / "sub" / "t.parquet"
    write_parquet_atomic(pd.DataFrame({"x": [1, 2]}), path)
    write_parquet_atomic(pd.DataFrame({"x": [3]}), path)
    assert pd.read_parquet(path)["x"].tolist() == [3]
    assert [p.name for p in path.parent.iterdir()] == ["t.parquet"]


def test_a_directory_appears_whole_replaces_a_stale_one_and_a_failure_leaves_it_alone(tmp_path):
    target = tmp_path / "epoch-1"
    target.mkdir()
    (target / "stale").write_text("old")
    with atomic_dir(target) as tmp:
        assert not target.joinpath("new").exists()
        (tmp / "new").write_bytes(b"12345")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "other").write_text("x")
            raise ValueError("no weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-1"]
    assert sorted(p.name for p in target.iterdir()) == ["new"]


def test_tree_bytes_counts_files_below_and_nothing_for_a_missing_path(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "a").write_bytes(b"x" * 10)
    (tmp_path / "d" / "e" / "b").write_bytes(b"y" * 7)
    assert tree_bytes(tmp_path / "d") == 17
    assert tree_bytes(tmp_path / "missing") == 0
