"""Uploads into a dataset: image files (folders become classes), a .zip, a .lst with its images, a .rec.

Every file is checked on its own; a bad one is reported with its reason and the rest are kept. A
.lst or .rec is all-or-nothing for the whole upload: it is read whole before any image is stored, and
a bad row (a label that is not a finite number of 0 or more, say) or a bad record refuses the upload
with the file and the line or record named (UploadRefused: a 400), nothing kept.
Archives are read one member at a time, so memory stays flat whatever their size. A file already in
the dataset is reported as a duplicate, and gives its folder's class to the stored copy if that copy
has none (so re-uploading a folder brings back labels that were cleared or deleted).
"""
from __future__ import annotations

import posixpath
import tempfile
import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction

from classifier import archives, lst, recordio
from classifier.errors import ClassifierError
from webapp.core import media
from webapp.datasets.models import Dataset, Image
from webapp.datasets.services.classes import class_get_or_create, class_name_problem
from webapp.datasets.services.images import Rejected, check_image, storage_paths, too_large, write_atomically

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class UploadReport:
    accepted: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)

    def reject(self, name: str, reason: str) -> None:
        self.rejected.append({"file": name, "reason": reason})

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected, "duplicates": self.duplicates}


@dataclass
class Upload:
    """One uploaded file: its name (possibly with folders) and a readable, seekable file."""

    name: str
    file: BinaryIO


def _safe_name(name: str) -> str | None:
    """The name with forward slashes, or None when it is absolute or climbs out with '..'."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    if ".." in name.split("/"):
        return None
    return posixpath.normpath(name)


def _folder_class(name: str) -> str | None:
    folder = posixpath.dirname(name)
    return posixpath.basename(folder) or None


def _is_junk(name: str) -> bool:
    """What file managers and archivers add beside the files: hidden files (.DS_Store, macOS's ._
    copies), __MACOSX, Windows' Thumbs.db and desktop.ini. Skipped without a word."""
    base = posixpath.basename(name)
    return (base.startswith(".") or base.lower() in ("thumbs.db", "desktop.ini")
            or name.startswith("__MACOSX/") or "/__MACOSX/" in name)


def _wrapping_folder(names: list[str]) -> str | None:
    """The one folder every member sits in, when it holds class folders: zipping a folder (not its
    contents) adds it, and like the folder chooser's chosen folder it is no class: its sub-folders
    are, and its loose files stay unlabeled. ``cats/1.jpg`` alone stays a class ``cats``."""
    tops = {name.split("/", 1)[0] if "/" in name else None for name in names}
    if len(tops) == 1 and None not in tops and any(name.count("/") >= 2 for name in names):
        return tops.pop()
    return None


class _Ingestor:
    def __init__(self, dataset: Dataset, report: UploadReport, class_names: list[str] | None):
        self.dataset = dataset
        self.report = report
        self.class_names = class_names or []
        self.media = media.root()
        self.known = dict(dataset.images.values_list("sha256", "file_name"))

    def label_name(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)

    def add(self, name: str, data: bytes, labels: Iterable[str] = ()) -> Image | None:
        labels = [label.strip() for label in labels]
        if problem := next(filter(None, map(class_name_problem, labels)), None):
            self.report.reject(name, problem)  # a folder name (or .lst label) no class may have
            return None
        try:
            checked = check_image(data)
        except Rejected as reason:
            self.report.reject(name, str(reason))
            return None
        if checked.sha256 in self.known:
            duplicate = {"file": name, "duplicate_of": self.known[checked.sha256]}
            labels = list(labels)
            if labels and self.label_if_unlabeled(checked.sha256, labels):
                duplicate["labeled"] = ", ".join(labels)
            self.report.duplicates.append(duplicate)
            return None
        stored, thumbnail = storage_paths(self.dataset.id, checked.sha256, checked.format)
        write_atomically(self.media / stored, checked.data)
        write_atomically(self.media / thumbnail, checked.thumbnail)
        try:
            with transaction.atomic():
                image = Image.objects.create(
                    dataset=self.dataset, sha256=checked.sha256, file_name=name, stored=stored, thumbnail=thumbnail,
                    format=checked.format, width=checked.width, height=checked.height, size=len(checked.data),
                )
                classes = [class_get_or_create(dataset=self.dataset, name=label) for label in labels]
                if classes:
                    image.labels.set(classes if self.dataset.multi_label else classes[:1])
        except IntegrityError:  # the same image uploaded at the same moment by another request
            self.report.duplicates.append({"file": name, "duplicate_of": name})
            return None
        self.known[checked.sha256] = name
        self.report.accepted += 1
        return image

    def label_if_unlabeled(self, sha256: str, labels: list[str]) -> bool:
        """Give the stored copy the upload's class when it has none; never replaces a label."""
        image = self.dataset.images.filter(sha256=sha256, labels__isnull=True).first()
        if image is None:
            return False
        classes = [class_get_or_create(dataset=self.dataset, name=label) for label in labels]
        image.labels.set(classes if self.dataset.multi_label else classes[:1])
        return True

    def add_image_file(self, upload: Upload) -> None:
        name = _safe_name(upload.name)
        if name is None:
            self.report.reject(upload.name, "unsafe path: absolute, or climbing out with '..'")
            return
        folder = _folder_class(name)
        self.add(name, upload.file.read(), [folder] if folder else [])

    def add_zip(self, upload: Upload) -> None:
        try:
            archive = zipfile.ZipFile(upload.file)
        except zipfile.BadZipFile:
            self.report.reject(upload.name, "damaged zip: it is not a complete zip archive")
            return
        with archive:
            members = []
            for member in archive.infolist():
                if member.is_dir():
                    continue
                name = _safe_name(member.filename)
                if name is None:
                    self.report.reject(member.filename, "unsafe path: absolute, or climbing out with '..'")
                elif not _is_junk(name):
                    members.append((member, name))
            wrapper = _wrapping_folder([name for _, name in members])
            for member, name in members:
                if wrapper:
                    name = name[len(wrapper) + 1:]
                if not name.lower().endswith(IMAGE_SUFFIXES):
                    self.report.reject(name, "not an image file: only .jpg, .jpeg and .png are read from a zip")
                    continue
                if member.file_size > settings.IMAGE_MAX_BYTES:
                    self.report.reject(name, too_large(member.file_size))
                    continue
                try:  # in chunks, stopping at the limit: the header's size may be a lie
                    data = archives.read_zip_member(archive, member, settings.IMAGE_MAX_BYTES)
                except archives.ArchiveError as error:
                    self.report.reject(name, error.reason)
                    continue
                folder = _folder_class(name)
                self.add(name, data, [folder] if folder else [])

    def read_list(self, upload: Upload) -> list[lst.ListEntry]:
        with _copy(upload, ".lst") as copy:
            try:
                return lst.read_lst(copy.name, multi_label=self.dataset.multi_label)
            except ClassifierError as error:
                raise UploadRefused(upload.name, str(error).replace(copy.name, upload.name)) from None

    def add_lst(self, upload: Upload, entries: list[lst.ListEntry], images: dict[str, Upload]) -> None:
        by_tail = {}
        for name, image in images.items():
            by_tail[name] = image
            by_tail.setdefault(posixpath.basename(name), image)
        for entry in entries:
            image = by_tail.get(entry.path) or by_tail.get(posixpath.basename(entry.path))
            if image is None:
                self.report.reject(entry.path, f"listed in {upload.name} but not uploaded")
                continue
            images.pop(image.name, None)
            self.add(entry.path, image.file.read(), self._labels(entry.labels))

    def _labels(self, values: tuple[float, ...]) -> list[str]:
        if self.dataset.multi_label and len(values) > 1:
            return [self.label_name(i) for i, value in enumerate(values) if value >= 0.5]
        return [self.label_name(int(value)) for value in values]

    def check_rec(self, upload: Upload, copy: Path) -> None:
        """Every record framed, headed and labeled (finite labels of 0 or more), before any is kept."""
        try:
            with recordio.RecordReader(copy) as reader:
                for number, payload in enumerate(reader, start=1):
                    header, _ = recordio.unpack_record(payload)
                    recordio.record_labels(header, f"{upload.name}: record {number}")
        except ClassifierError as error:
            raise UploadRefused(upload.name, str(error).replace(str(copy), upload.name)) from None

    def add_rec(self, upload: Upload, copy: Path) -> None:
        with recordio.RecordReader(copy) as reader:
            for number, payload in enumerate(reader, start=1):
                header, data = recordio.unpack_record(payload)
                labels = recordio.record_labels(header, f"{upload.name}: record {number}")
                self.add(f"{upload.name}#{header.id or number - 1}", data, self._labels(labels))


class UploadRefused(Exception):
    """A .lst or .rec that cannot be read whole: the upload is refused, and nothing of it is kept."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(reason)


def _copy(upload: Upload, suffix: str):
    """A named copy of ``upload`` (the readers take paths), among the upload temp files that
    webapp.operations.upload_leftovers removes if this process is killed before deleting it."""
    copy = tempfile.NamedTemporaryFile(suffix=".upload" + suffix, dir=settings.FILE_UPLOAD_TEMP_DIR)
    upload.file.seek(0)
    while chunk := upload.file.read(1 << 20):
        copy.write(chunk)
    copy.flush()
    return copy


def uploads_ingest(*, dataset: Dataset, uploads: list[Upload], class_names: list[str] | None = None) -> UploadReport:
    """Add every good image among ``uploads`` to ``dataset`` and report the rest.

    Raises UploadRefused, having kept nothing, when a .lst has a bad row or a .rec a bad record (both are
    read whole before any image is stored); its reason names the file and the line or record.
    """
    report = UploadReport()
    ingestor = _Ingestor(dataset, report, class_names)
    uploads = [u for u in uploads if not _is_junk(u.name.replace("\\", "/"))]
    images = {(_safe_name(u.name) or u.name): u for u in uploads if u.name.lower().endswith(IMAGE_SUFFIXES)}
    with ExitStack() as copies:
        lists = [(u, ingestor.read_list(u)) for u in uploads if u.name.lower().endswith(".lst")]
        recs = {}
        for upload in uploads:
            if upload.name.lower().endswith(".rec"):
                recs[upload.name] = Path(copies.enter_context(_copy(upload, ".rec")).name)
                ingestor.check_rec(upload, recs[upload.name])
        for upload, entries in lists:
            ingestor.add_lst(upload, entries, images)
        for upload in uploads:
            lowered = upload.name.lower()
            if lowered.endswith(".zip"):
                ingestor.add_zip(upload)
            elif lowered.endswith(".rec"):
                ingestor.add_rec(upload, recs[upload.name])
            # an .idx is not needed to read a .rec sequentially; lists were read above
    for upload in images.values():
        ingestor.add_image_file(upload)
    for upload in uploads:
        if not upload.name.lower().endswith((".zip", ".rec", ".idx", ".lst", *IMAGE_SUFFIXES)):
            suffix = posixpath.splitext(upload.name)[1] or "no extension"
            report.reject(upload.name, f"unsupported file type ({suffix}): send .jpg, .jpeg, .png, .zip, .lst or .rec")
    return report


def uploads_from_request(files: list, paths: list[str]) -> list[Upload]:
    """Django keeps only a file's base name, so a folder's relative path (a browser's
    ``webkitRelativePath``) arrives in a parallel ``paths`` field, one per file."""
    return [Upload(paths[i] if i < len(paths) and paths[i] else uploaded.name, uploaded)
            for i, uploaded in enumerate(files)]
