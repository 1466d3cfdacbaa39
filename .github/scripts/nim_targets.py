"""Read and check .github/nim-targets.yaml; print the nim-metadata workflow's target matrix.

    python .github/scripts/nim_targets.py [--file F] [--repository OWNER/NAME] [--branch B]

Prints a JSON list, one object per target repository and base branch, in file order: id
(artifact-safe), repository, owner, name, path, kustomization, render, namespace (the last
three as given for `nim-build place`, "" when not given), branch, pr-branch (the head branch of
its pull request) and primary (true for the first branch of the first target).
--repository / --branch keep only the matching entries and must match at least one. Inside
GitHub Actions it also sets the step outputs `targets` (that list) and `primary` (the primary
entry's id, empty when filtered out) and lists the targets in the job summary. A bad file or
filter: one `nim-targets: error: ...` line (and an error annotation), exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from nim_build import github

GITHUB_DIR = Path(__file__).resolve().parents[1]
TARGETS_FILE = GITHUB_DIR / "nim-targets.yaml"
SCHEMA_FILE = GITHUB_DIR / "nim-targets.schema.json"
PR_BRANCH_PREFIX = "nim-build/nim-models-data-"


class TargetsError(Exception):
    """The targets file or a filter is unusable."""


@dataclass(frozen=True)
class Target:
    id: str
    repository: str
    owner: str
    name: str
    path: str
    kustomization: str
    render: str
    namespace: str
    branch: str
    pr_branch: str
    primary: bool

    @classmethod
    def of(cls, entry: dict[str, Any], branch: str, *, primary: bool) -> Target:
        repository = entry["repository"]
        owner, name = repository.split("/")
        # Branch names may hold "/", which neither artifact names nor one branch level allow.
        slug = branch.replace("/", "-")
        return cls(
            id=f"{owner}-{name}-{slug}",
            repository=repository,
            owner=owner,
            name=name,
            path=entry["path"],
            kustomization=entry.get("kustomization", ""),
            render=entry.get("render", ""),
            namespace=entry.get("namespace", ""),
            branch=branch,
            pr_branch=f"{PR_BRANCH_PREFIX}{slug}",
            primary=primary,
        )

    def as_matrix_entry(self) -> dict[str, str | bool]:
        return {key.replace("_", "-"): value for key, value in asdict(self).items()}


def _where(path: Sequence[Any]) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return where.lstrip(".") or "(top level)"


def load_targets(file: Path, schema_file: Path = SCHEMA_FILE) -> list[Target]:
    try:
        document = YAML(typ="safe", pure=True).load(file.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as error:
        raise TargetsError(f"{file}: cannot read: {error}".splitlines()[0]) from error
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    problems = sorted(
        Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path)
    )
    if problems:
        first = problems[0]
        raise TargetsError(f"{file}: {_where(first.absolute_path)}: {first.message}")
    pairs = [(entry, branch) for entry in document["targets"] for branch in entry["branches"]]
    targets = [Target.of(*pair, primary=index == 0) for index, pair in enumerate(pairs)]
    seen: dict[str, Target] = {}
    for target in targets:
        # Two entries with one pull request branch would overwrite each other's pull request.
        key = f"{target.repository.lower()} {target.pr_branch}"
        if key in seen:
            raise TargetsError(
                f"{file}: {target.repository} branch {target.branch!r} is listed twice"
                f" (pull request branch {target.pr_branch})"
            )
        seen[key] = target
    return targets


def select(targets: Sequence[Target], repository: str | None, branch: str | None) -> list[Target]:
    chosen = [
        t
        for t in targets
        if (not repository or t.repository.lower() == repository.lower())
        and (not branch or t.branch == branch)
    ]
    if not chosen:
        raise TargetsError(
            f"no target matches repository {repository or '(any)'} and branch"
            f" {branch or '(any)'}; targets come from {TARGETS_FILE.name}"
        )
    return chosen


def describe(target: Target) -> str:
    """One summary line: where the ConfigMap goes and how it is proven to deploy."""
    line = f"`{target.repository}` `{target.path}` (base `{target.branch}`)"
    if target.kustomization:
        line += f", wired into `{target.kustomization}`"
    if target.render:
        line += f", rendered from `{target.render}`"
    if target.namespace:
        line += f" into `{target.namespace}`"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nim-targets", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=TARGETS_FILE)
    parser.add_argument("--repository", help="keep only this owner/name")
    parser.add_argument("--branch", help="keep only this base branch")
    args = parser.parse_args(argv)
    try:
        targets = select(load_targets(args.file), args.repository, args.branch)
    except TargetsError as error:
        github.annotate("error", f"invalid targets: {error}")
        print(f"nim-targets: error: {error}", file=sys.stderr)
        return 1
    matrix = json.dumps([t.as_matrix_entry() for t in targets])
    primary = next((t.id for t in targets if t.primary), "")
    github.set_outputs({"targets": matrix, "primary": primary})
    github.append_summary("\n".join(f"- target: {describe(t)}" for t in targets))
    print(matrix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
