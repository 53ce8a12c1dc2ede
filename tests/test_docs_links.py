"""The project's own documents hold what its users need: every link in README.md and docs/ points at a
file inside the repository that exists (and at a heading that exists), never outside the checkout."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\./[^`]+)`")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_readme_and_docs_link_only_to_files_in_the_repository():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    problems = []
    for document in documents:
        text = document.read_text()
        problems += [f"{document.name}: names {path}, outside the repository" for path in CODE_PATH.findall(text)]
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # a web address, not a file
            file_part, _, anchor = target.partition("#")
            path = (document.parent / file_part).resolve() if file_part else document
            if ROOT not in path.parents and path != ROOT:
                problems.append(f"{document.name}: {target} is outside the repository")
            elif not path.exists():
                problems.append(f"{document.name}: {target} does not exist")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                problems.append(f"{document.name}: {target} has no such heading")
    assert not problems, problems


def test_the_sagemaker_contract_is_in_the_repository():
    contract = (ROOT / "docs" / "sagemaker-contract.md").read_text()
    for must in ("num_training_samples", "IRHeader", "model-shapes.json", "application/jsonlines",
                 "x-amzn-ErrorType", "ModelError"):
        assert must in contract, must
    assert "docs/sagemaker-contract.md" in (ROOT / "README.md").read_text()
