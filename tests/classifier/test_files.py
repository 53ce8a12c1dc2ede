"""Atomic writes: the old file stays whole on failure, nothing temporary is left behind."""
import json

import pytest

from classifier.files import atomic_path, atomic_write, resumable_lines, write_json_atomic


def test_a_failure_inside_the_block_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    for unique in (False, True):
        with pytest.raises(RuntimeError), atomic_write(target, "w", unique=unique) as out:
            out.write("half of the new")
            raise RuntimeError("killed mid-write")
        assert target.read_text() == "old"
        assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_success_replaces_the_file_whole(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with atomic_write(target, "w", fsync=True) as out:
        out.write("new")
        assert target.read_text() == "old"  # nothing shows until the block ends
    assert target.read_text() == "new"
    write_json_atomic(target, {"epoch": 2})
    assert json.loads(target.read_text()) == {"epoch": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_writer_that_wants_a_file_name_gets_the_temporary_one(tmp_path):
    target = tmp_path / "w.params"
    with atomic_path(target) as partial:
        assert partial.name == "w.params.partial"
        partial.write_bytes(b"weights")
    assert target.read_bytes() == b"weights" and not partial.exists()
    with pytest.raises(OSError), atomic_path(target) as partial:
        partial.write_bytes(b"torn")
        raise OSError("disk full")
    assert target.read_bytes() == b"weights" and not partial.exists()


def test_resumable_lines_keep_their_whole_lines_across_a_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), resumable_lines(target) as (out, before):
        assert before == 0
        out.write("1\n2\n3")  # a torn third line
        raise RuntimeError("worker killed")
    assert not target.exists() and (tmp_path / "out.jsonl.partial").read_text() == "1\n2\n3"
    with resumable_lines(target) as (out, before):
        assert before == 2
        out.write("3\n")
    assert target.read_text() == "1\n2\n3\n" and not (tmp_path / "out.jsonl.partial").exists()
