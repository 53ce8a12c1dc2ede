"""Bad input gets a 400 in plain words and leaves nothing behind (issue 11, item 10). Today's code answered 500
to a .lst or .rec label of NaN, -3 or inf (keeping the images before it), and to a model.tar.gz whose symbol is
a JSON list or whose fc1 num_hidden is not a number; a web server killed mid-upload left its temp file."""
from __future__ import annotations

import os
import signal
import threading
import time
import zipfile

import pytest

from tests.hostile.crafted import SHAPES, SYMBOL, model_tar
from tests.hostile.webprocess import folder_bytes, start_web


def _dataset(web, session) -> int:
    return session.post(f"{web.url}/api/datasets/", json={"name": "plain"}, timeout=30).json()["id"]


def _images(web, session, dataset: int) -> int:
    return session.get(f"{web.url}/api/datasets/{dataset}/images/", timeout=30).json()["count"]


def test_a_lst_or_rec_label_that_names_no_class_refuses_the_upload_and_keeps_nothing(web, tmp_path):
    from classifier import recordio
    from tests.support.images import jpeg_bytes

    session = web.session("mallory")
    dataset = _dataset(web, session)
    uploads = f"{web.url}/api/datasets/{dataset}/uploads/"
    for bad in ("nan", "-3"):
        listed = f"0\t1\ta.jpg\n1\t{bad}\tb.jpg\n".encode()
        answer = session.post(uploads, timeout=60, files=[("files", ("bad.lst", listed)),
                                                          ("files", ("a.jpg", jpeg_bytes(seed=1))),
                                                          ("files", ("b.jpg", jpeg_bytes(seed=2)))])
        assert answer.status_code == 400, answer.text
        assert answer.json()["rejected"] == [{"file": "bad.lst", "reason": "bad.lst:2: labels must be finite numbers "
                                              f"of 0 or more (a class index, or 0/1 per class), not '{bad}'"}]
        assert answer.json()["error"].endswith("(nothing of this upload was kept)")
    for bad in (float("nan"), float("inf")):
        with recordio.RecordWriter(tmp_path / "bad.rec") as writer:
            writer.write(recordio.pack_record(recordio.IRHeader(0, 1.0, 0), jpeg_bytes(seed=3)))
            writer.write(recordio.pack_record(recordio.IRHeader(0, bad, 7), jpeg_bytes(seed=4)))
        answer = session.post(uploads, timeout=60, files=[("files", ("bad.rec", (tmp_path / "bad.rec").read_bytes()))])
        assert answer.status_code == 400, answer.text
        assert answer.json()["rejected"] == [{"file": "bad.rec", "reason": f"bad.rec: record 2 (id 7): label {bad:g} "
                                              "names no class; labels are finite numbers of 0 or more"}]
    assert _images(web, session, dataset) == 0
    assert folder_bytes(web.media) == 0 and folder_bytes(web.tmp) == 0
    assert web.alive()


@pytest.mark.parametrize("symbol, reason", [
    ([SYMBOL], "model.tar.gz: image-classification-symbol.json must hold a JSON object"),
    ({**SYMBOL, "nodes": [{**node, "attrs": {"num_hidden": "many"}} if node["name"] == "fc1" else node
                          for node in SYMBOL["nodes"]]},
     "model.tar.gz: image-classification-symbol.json: fc1's num_hidden must be a whole number (the number of "
     "classes), not 'many'"),
], ids=["symbol-is-a-list", "num-hidden-is-a-word"])
def test_a_model_with_a_malformed_symbol_is_refused_and_leaves_no_file(web, tmp_path, symbol, reason):
    artifact = model_tar(tmp_path / "model.tar.gz", symbol=symbol, shapes=SHAPES)
    session = web.session("mallory")
    answer = session.post(f"{web.url}/api/models/", files={"artifact": ("model.tar.gz", artifact.read_bytes())},
                          timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.json()["fields"]["artifact"] == [reason]
    assert session.get(f"{web.url}/api/models/", timeout=30).json() == []
    assert folder_bytes(web.media) == 0 and folder_bytes(web.tmp) == 0


def _aged(path, minutes: float) -> None:
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


def test_the_temp_file_of_an_upload_cut_by_a_killed_server_is_removed_at_the_next_start(settings, media, users,
                                                                                           tmp_path):
    from tests.support.images import jpeg_bytes

    archive = tmp_path / "photos.zip"  # slow enough to ingest that the server is caught holding its temp file
    with zipfile.ZipFile(archive, "w") as out:
        for n in range(400):
            out.writestr(f"red/{n}.jpg", jpeg_bytes(seed=n))
        out.writestr("padding.bin", os.urandom(15 << 20))
    web = start_web(settings, tmp_path)
    session = web.session("mallory")
    dataset = _dataset(web, session)

    def send() -> None:
        try:
            with open(archive, "rb") as payload:
                session.post(f"{web.url}/api/datasets/{dataset}/uploads/", files={"files": ("photos.zip", payload)},
                             timeout=60)
        except Exception:  # noqa: BLE001 - the server is killed under it
            pass

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while not (leftovers := list(web.tmp.glob("tmp*.upload*"))):
        assert time.monotonic() < deadline and web.alive(), "the upload never reached its temp file"
        time.sleep(0.005)
    os.kill(web.process.pid, signal.SIGKILL)
    web.process.wait(timeout=20)
    sender.join(timeout=60)
    assert [path.exists() for path in leftovers] == [True]  # what today's code leaves for good
    _aged(leftovers[0], minutes=11)
    fresh = web.tmp / "tmpfresh.upload.zip"  # an upload another server process is receiving: spared
    fresh.write_bytes(b"x")

    again = start_web(settings, tmp_path)
    try:
        assert not leftovers[0].exists() and fresh.exists()
    finally:
        again.process.terminate()
        again.process.wait(timeout=20)


@pytest.mark.django_db
def test_cleanup_removes_upload_temp_files_older_than_a_few_minutes(settings, tmp_path):
    from django.core.management import call_command

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    old, fresh, other = tmp_path / "tmpold.upload.rec", tmp_path / "tmpnew.upload.zip", tmp_path / "tmpkept.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x" * 100)
        _aged(path, minutes=11 if path != fresh else 0)
    call_command("cleanup")
    assert not old.exists() and fresh.exists() and other.exists()
