"""``python manage.py cleanup [--days 30] [--dry-run]``: free the disk of old job files."""
from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from tqdm import tqdm

from webapp.operations.cleanup import candidates


class Command(BaseCommand):
    help = ("Delete checkpoints of finished training jobs, inputs of finished batch transforms and unused "
            "uploaded base models, older than --days. Models, datasets and outputs are never touched.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="only what finished this many days ago or more")
        parser.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")

    def handle(self, *args, days: int, dry_run: bool, **options):
        found = list(candidates(finished_before=timezone.now() - timedelta(days=days)))
        freed = 0
        for candidate in tqdm(found, unit="item", disable=dry_run or not found, desc="cleaning"):
            size = candidate.size
            freed += size
            if dry_run:
                self.stdout.write(f"would delete {candidate.path} ({filesizeformat(size)}): {candidate.why}")
            else:
                candidate.remove()
        verb = "would free" if dry_run else "freed"
        self.stdout.write(self.style.SUCCESS(f"{len(found)} items, {verb} {filesizeformat(freed)}"))
