"""RecordIO, .lst and packing, checked byte for byte against the spec and against MXNet itself."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from classifier import lst, pack, recordio
from classifier.errors import ListFileError, RecordIOError
from tests.support.cli import run_cli
from tests.classifier.synthetic import jpeg

IM2REC = Path(mx.__file__).parent / "tools" / "im2rec.py"
MAGIC = struct.pack("<I", 0xCED7230A)


def test_spec_worked_examples_byte_for_byte(tmp_path):
    # Spec 6.1: a payload holding the magic twice is split into three parts.
    with recordio.RecordWriter(tmp_path / "split.rec") as writer:
        writer.write(b"ABCD" + MAGIC + b"EFGH" + MAGIC + b"IJ")
    assert (tmp_path / "split.rec").read_bytes().hex() == (
        "0a23d7ce04000020414243440a23d7ce04000040454647480a23d7ce02000060494a0000")
    # Spec 6.3: single label 3.0, id 7, image FF D8 FF D9 00.
    with recordio.RecordWriter(tmp_path / "one.rec") as writer:
        writer.write(recordio.pack_record(recordio.IRHeader(0, 3.0, 7, 0), bytes.fromhex("ffd8ffd900")))
    assert (tmp_path / "one.rec").read_bytes().hex() == (
        "0a23d7ce1d000000" + "00000000" + "00004040" + "0700000000000000" + "0000000000000000" + "ffd8ffd900" + "000000")
    # Multi-label [1, 0, 1], id 8.
    record = recordio.pack_record(recordio.IRHeader(0, [1, 0, 1], 8, 0), b"")
    assert record.hex() == "03000000" + "00000000" + "08" + "00" * 7 + "00" * 8 + "0000803f000000000000803f"
    assert list(recordio.RecordReader(tmp_path / "split.rec")) == [b"ABCD" + MAGIC + b"EFGH" + MAGIC + b"IJ"]


def _write_mixed(tmp_path):
    images = {}
    with recordio.IndexedRecordWriter(tmp_path / "ours.rec", tmp_path / "ours.idx") as writer:
        for key in (5, 2, 9):
            pixels = np.full((20, 24, 3), key * 20, np.uint8)
            images[key] = jpeg(pixels)
            labels = [1.0, 0.0, float(key % 2)] if key == 9 else float(key)
            writer.write(key, recordio.pack_record(recordio.IRHeader(0, labels, key, 0), images[key] + MAGIC))
    return images


def test_mxnet_reads_what_we_write(tmp_path):
    images = _write_mixed(tmp_path)
    reader = mx.recordio.MXIndexedRecordIO(str(tmp_path / "ours.idx"), str(tmp_path / "ours.rec"), "r")
    assert reader.keys == [5, 2, 9]
    header, payload = mx.recordio.unpack(reader.read_idx(2))
    assert (header.flag, header.label, header.id) == (0, 2.0, 2) and payload == images[2] + MAGIC
    header, payload = mx.recordio.unpack(reader.read_idx(9))
    assert header.flag == 3 and list(header.label) == [1.0, 0.0, 1.0] and payload == images[9] + MAGIC
    _, pixels = mx.recordio.unpack_img(reader.read_idx(5))
    assert pixels.shape == (20, 24, 3) and abs(int(pixels.mean()) - 100) <= 2


def test_image_record_iter_reads_our_single_and_multi_label_records(tmp_path):
    with recordio.IndexedRecordWriter(tmp_path / "s.rec", tmp_path / "s.idx") as single, \
            recordio.IndexedRecordWriter(tmp_path / "m.rec", tmp_path / "m.idx") as multi:
        for key in range(6):
            image = jpeg(np.full((16, 16, 3), 40 * key, np.uint8))
            single.write(key, recordio.pack_record(recordio.IRHeader(0, float(key % 3), key, 0), image))
            multi.write(key, recordio.pack_record(recordio.IRHeader(0, [key % 2, 1, 0, (key + 1) % 2], key, 0), image))
    batches = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / "s.rec"), data_shape=(3, 16, 16), batch_size=6)
    batch = next(iter(batches))
    assert batch.label[0].asnumpy().tolist() == [0, 1, 2, 0, 1, 2]
    assert abs(batch.data[0][3].asnumpy().mean() - 120) < 3
    batches = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / "m.rec"), data_shape=(3, 16, 16), batch_size=6,
                                    label_width=4)
    labels = next(iter(batches)).label[0].asnumpy()
    assert labels.tolist()[:2] == [[0, 1, 0, 1], [1, 1, 0, 0]]


def test_random_access_by_key_and_damaged_files(tmp_path):
    images = _write_mixed(tmp_path)
    with recordio.IndexedRecordReader(tmp_path / "ours.rec", tmp_path / "ours.idx") as reader:
        assert len(reader) == 3
        header, payload = recordio.unpack_record(reader.read(9))
        assert header.label == (1.0, 0.0, 1.0) and payload == images[9] + MAGIC
        with pytest.raises(KeyError):
            reader.read(4)
    damaged = tmp_path / "damaged.rec"
    damaged.write_bytes((tmp_path / "ours.rec").read_bytes()[:-9])
    with pytest.raises(RecordIOError, match="truncated record"):
        list(recordio.RecordReader(damaged))
    (tmp_path / "bad.rec").write_bytes(b"\0" * 16)
    with pytest.raises(RecordIOError, match="magic"):
        list(recordio.RecordReader(tmp_path / "bad.rec"))


def test_build_index_matches_mxnet_s_index(tmp_path):
    _write_mixed(tmp_path)
    recordio.build_index(tmp_path / "ours.rec", tmp_path / "rebuilt.idx")
    assert (tmp_path / "rebuilt.idx").read_text() == (tmp_path / "ours.idx").read_text()


def _tree(root: Path, counts=(("cat", 6), ("dog", 4))) -> Path:
    rng = np.random.default_rng(0)
    for name, count in counts:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}{i}.jpg", quality=90)
    return root


def _im2rec(*args):
    subprocess.run([sys.executable, str(IM2REC), *map(str, args)], check=True, capture_output=True)


def test_we_read_lst_and_rec_made_by_im2rec(tmp_path):
    root = _tree(tmp_path / "images")
    _im2rec("--list", "--recursive", tmp_path / "ref", root)
    _im2rec("--num-thread", "2", tmp_path / "ref", root)
    entries = lst.read_lst(tmp_path / "ref.lst", num_classes=2, root=root)
    assert len(entries) == 10 and {e.label for e in entries} == {0, 1}
    with recordio.IndexedRecordReader(tmp_path / "ref.rec", tmp_path / "ref.idx") as reader:
        assert reader.keys == [e.index for e in entries]
        for entry in entries:
            header, payload = recordio.unpack_record(reader.read(entry.index))
            assert (header.id, header.label) == (entry.index, entry.labels[0])
            assert Image.open(__import__("io").BytesIO(payload)).size == (64, 48)


def test_we_read_im2rec_multi_label_records(tmp_path):
    root = _tree(tmp_path / "images", (("x", 3),))
    rows = [lst.ListEntry(i, (1.0, 0.0, float(i % 2)), f"x/x{i}.jpg") for i in range(3)]
    lst.write_lst(tmp_path / "multi.lst", rows)
    _im2rec("--pack-label", tmp_path / "multi", root)
    with recordio.IndexedRecordReader(tmp_path / "multi.rec", tmp_path / "multi.idx") as reader:
        labels = [recordio.unpack_record(reader.read(k))[0].label for k in reader.keys]
    assert labels == [(1.0, 0.0, 0.0), (1.0, 0.0, 1.0), (1.0, 0.0, 0.0)]


def test_our_lists_and_records_match_im2rec_s(tmp_path):
    root = _tree(tmp_path / "images")
    run_cli("pack", tmp_path / "ours", root, "--list", "--recursive")
    _im2rec("--list", "--recursive", tmp_path / "ref", root)
    ours = sorted((e.path, e.labels) for e in lst.read_lst(tmp_path / "ours.lst"))
    theirs = sorted((e.path, e.labels) for e in lst.read_lst(tmp_path / "ref.lst"))
    assert ours == theirs
    assert (tmp_path / "ours_classes.txt").read_text() == "cat\ndog\n"
    run_cli("pack", tmp_path / "ours", root, "--resize", "24", "--num-thread", "2", "--no-progress")
    with recordio.IndexedRecordReader(tmp_path / "ours.rec", tmp_path / "ours.idx") as reader:
        assert reader.keys == [e.index for e in lst.read_lst(tmp_path / "ours.lst")]  # .lst order kept
        header, payload = recordio.unpack_record(reader.read(reader.keys[0]))
        assert Image.open(__import__("io").BytesIO(payload)).size == (32, 24)  # shorter side 24, as im2rec


def test_stratified_split_is_fixed_by_its_seed(tmp_path):
    root = _tree(tmp_path / "images", (("a", 10), ("b", 20)))
    run_cli("pack", tmp_path / "one", root, "--list", "--recursive", "--train-ratio", "0.8", "--seed", "3")
    run_cli("pack", tmp_path / "two", root, "--list", "--recursive", "--train-ratio", "0.8", "--seed", "3")
    train = lst.read_lst(tmp_path / "one_train.lst")
    assert sorted(e.label for e in train).count(0) == 8 and len(train) == 24
    assert len(lst.read_lst(tmp_path / "one_val.lst")) == 6
    assert (tmp_path / "one_train.lst").read_text() == (tmp_path / "two_train.lst").read_text()


@pytest.mark.parametrize("row, message", [
    ("1\tcat.jpg", "at least one label"),
    ("x\t0\tcat.jpg", "index must be an integer"),
    ("1\tzero\tcat.jpg", "labels must be numbers"),
    ("1\t5\tcat.jpg", "outside 0..2"),
    ("1\tnan\tcat.jpg", "labels must be finite numbers of 0 or more .*, not 'nan'"),
    ("1\t-3\tcat.jpg", "labels must be finite numbers of 0 or more .*, not '-3'"),
    ("1\t0\tinf\tcat.jpg", "labels must be finite numbers of 0 or more .*, not 'inf'"),
    ("1\t0\tmissing.jpg", "not found"),
])
def test_bad_lst_rows_name_file_and_line(tmp_path, row, message):
    (tmp_path / "cat.jpg").write_bytes(b"")
    (tmp_path / "bad.lst").write_text(f"0\t1\tcat.jpg\n{row}\n")
    with pytest.raises(ListFileError, match=message) as error:
        lst.read_lst(tmp_path / "bad.lst", num_classes=3, root=tmp_path)
    assert error.value.line == 2 and str(error.value).startswith(f"{tmp_path / 'bad.lst'}:2:")


@pytest.mark.parametrize("label", [float("nan"), float("inf"), -3.0, (1.0, float("nan"))])
def test_record_labels_that_name_no_class_are_refused_with_the_record(label):
    header = recordio.IRHeader(len(label) if isinstance(label, tuple) else 0, label, 7)
    with pytest.raises(RecordIOError, match=r"^a\.rec: record 2 \(id 7\): label (nan|inf|-3) names no class"):
        recordio.record_labels(header, "a.rec: record 2")
    assert recordio.record_labels(recordio.IRHeader(2, (0.0, 1.0), 1), "a.rec: record 1") == (0.0, 1.0)


def test_duplicate_index_and_multi_label_width(tmp_path):
    (tmp_path / "dup.lst").write_text("4\t0\ta.jpg\n4\t1\tb.jpg\n")
    with pytest.raises(ListFileError, match="already used on line 1"):
        lst.read_lst(tmp_path / "dup.lst")
    (tmp_path / "multi.lst").write_text("0\t1\t0\ta.jpg\n")
    with pytest.raises(ListFileError, match="needs 3 label columns"):
        lst.read_lst(tmp_path / "multi.lst", num_classes=3, multi_label=True)


def test_corrupt_files_are_reported_and_skipped(tmp_path):
    root = _tree(tmp_path / "images", (("ok", 3),))
    good = (root / "ok" / "ok0.jpg").read_bytes()
    (root / "ok" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "ok" / "text.jpg").write_text("this is not an image")
    rows = [lst.ListEntry(i, (0.0,), f"ok/{name}") for i, name in
            enumerate(["ok0.jpg", "truncated.jpg", "text.jpg", "ok1.jpg", "gone.jpg"])]
    lst.write_lst(tmp_path / "set.lst", rows)
    for pass_through in (False, True):
        report = pack.pack_list(tmp_path / "set.lst", root, pass_through=pass_through, num_thread=2, progress=False)
        assert report.packed == 2
        assert [path for path, _ in report.skipped] == ["ok/truncated.jpg", "ok/text.jpg", "ok/gone.jpg"]
        assert "file not found" in report.skipped[2][1]
    with recordio.IndexedRecordReader(report.rec_path, report.idx_path) as reader:
        assert reader.keys == [0, 3]
        assert recordio.unpack_record(reader.read(0))[1] == good  # pass-through keeps the bytes


def test_pack_cli_errors_are_one_line(tmp_path):
    result = run_cli("pack", tmp_path / "none", tmp_path, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--list" in result.stderr
    (tmp_path / "bad.lst").write_text("0\tx\ta.jpg\n")
    result = run_cli("pack", tmp_path / "bad", tmp_path, check=False)
    assert result.returncode == 2 and "bad.lst:1:" in result.stderr and "Traceback" not in result.stderr


def test_center_crop_png_encoding_and_quality(tmp_path):
    root = _tree(tmp_path / "images", (("x", 2),))
    lst.write_lst(tmp_path / "set.lst", [lst.ListEntry(i, (0.0,), f"x/x{i}.jpg") for i in range(2)])
    report = pack.pack_list(tmp_path / "set.lst", root, center_crop=True, resize=16, encoding=".png",
                            quality=9, progress=False)
    with recordio.IndexedRecordReader(report.rec_path, report.idx_path) as reader:
        payload = recordio.unpack_record(reader.read(0))[1]
    image = Image.open(__import__("io").BytesIO(payload))
    assert (image.format, image.size) == ("PNG", (16, 16))
    sizes = []
    for quality in (20, 95):
        report = pack.pack_list(tmp_path / "set.lst", root, quality=quality, progress=False)
        sizes.append(report.rec_path.stat().st_size)
    assert sizes[0] < sizes[1]
