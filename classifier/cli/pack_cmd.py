"""``python -m classifier pack``: the command line of MXNet's im2rec.py, same options and files."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from classifier.errors import ClassifierError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pack", help="make .lst files, or pack them into .rec/.idx (as im2rec.py)",
        description="With --list, write PREFIX.lst (or PREFIX_train.lst and PREFIX_val.lst) from the images "
                    "under ROOT. Without it, pack every PREFIX*.lst into a .rec and .idx beside it; image paths "
                    "in the lists are relative to ROOT.",
    )
    parser.add_argument("prefix", type=Path, help="prefix of the .lst files")
    parser.add_argument("root", type=Path, help="folder the image paths are relative to")
    listing = parser.add_argument_group("making lists")
    listing.add_argument("--list", action="store_true", help="write .lst files instead of .rec files")
    listing.add_argument("--recursive", action="store_true", help="each sub-folder is a class (sorted, labels 0..n-1)")
    listing.add_argument("--train-ratio", type=float, default=1.0, help="share of each class in PREFIX_train.lst")
    listing.add_argument("--seed", type=int, default=100, help="shuffle seed (im2rec.py uses 100)")
    listing.add_argument("--exts", nargs="+", default=[".jpeg", ".jpg", ".png"], help="image file extensions")
    packing = parser.add_argument_group("packing")
    packing.add_argument("--resize", type=int, default=0, help="resize the shorter side to this many pixels")
    packing.add_argument("--center-crop", action="store_true", help="crop the central square first")
    packing.add_argument("--quality", type=int, default=95, help="JPEG quality, or PNG compression level 1-9")
    packing.add_argument("--encoding", choices=(".jpg", ".png"), default=".jpg")
    packing.add_argument("--pass-through", action="store_true", help="store the original file bytes untouched")
    packing.add_argument("--num-thread", type=int, default=1, help="encoding processes")
    packing.add_argument("--pack-label", action="store_true", help="store every label column (multi-label)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from classifier import pack

    if not args.root.is_dir():
        raise ClassifierError(f"{args.root}: no such folder")
    if args.list:
        if not 0 < args.train_ratio <= 1:
            raise ClassifierError(f"--train-ratio must be in (0, 1], not {args.train_ratio}")
        written, class_names = pack.make_lists(args.prefix, args.root, recursive=args.recursive,
                                               train_ratio=args.train_ratio, seed=args.seed, exts=tuple(args.exts))
        for label, name in enumerate(class_names):
            print(f"{name} {label}")
        for path in written:
            print(f"wrote {path}")
        return 0
    lists = pack.lists_for(args.prefix)
    if not lists:
        raise ClassifierError(f"no {args.prefix}*.lst files to pack (make them with --list)")
    for lst_path in lists:
        report = pack.pack_list(
            lst_path, args.root, resize=args.resize, center_crop=args.center_crop, quality=args.quality,
            encoding=args.encoding, pass_through=args.pass_through, num_thread=max(1, args.num_thread or os.cpu_count()),
            pack_label=args.pack_label, progress=not args.no_progress,
        )
        print(f"wrote {report.rec_path}: {report.packed} images, {len(report.skipped)} skipped")
    return 0
