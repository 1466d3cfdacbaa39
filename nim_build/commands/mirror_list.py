"""`nim-build mirror-list`: which NIM images to mirror, in the format a mirroring tool reads."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from nim_build.atomic import write_atomically
from nim_build.models import ModelEntry
from nim_build.outputs import OutputKind, check_output
from nim_build.registry import RegistryLocation
from nim_build.steps.mirror import (
    FORMATS,
    GENERATED_BY,
    RENDERERS,
    SOURCE_REGISTRY,
    MirrorPlan,
    plan_images,
    select_models,
)
from nim_build.wording import plural

from ._configmaps import read_configmap
from ._stdio import input_name, is_stdio, write_stdout

log = logging.getLogger("nim_build")
# What --output may replace: a mirror list in any format, named so in its first line.
MIRROR_LIST_OUTPUT = OutputKind(
    "a mirror list from nim-build mirror-list",
    lambda head: head.startswith("# ") and GENERATED_BY in head.partition("\n")[0],
)


def registry_location(text: str) -> RegistryLocation:
    """argparse type for `MIRROR[/PREFIX]`: a bad value is a one-line usage error."""
    try:
        return RegistryLocation.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The ConfigMap read, the mirror, and where the result goes: shared by mirror-*."""
    parser.add_argument(
        "configmap",
        type=Path,
        metavar="CONFIGMAP",
        help="a nim-models-data ConfigMap; - reads stdin",
    )
    parser.add_argument(
        "--registry",
        type=registry_location,
        required=True,
        metavar="MIRROR[/PREFIX]",
        help="the mirror registry, host[:port] and an optional path prefix",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="write here (atomically); default (or -): stdout",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        required=True,
        help="mapping (oc image mirror -f), oc-mirror (ImageSetConfiguration v2), "
        "skopeo (skopeo sync --src yaml) or itms (ImageTagMirrorSet)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATTERN",
        help="shell-style pattern on model names; repeatable (default: every model)",
    )
    parser.add_argument(
        "--tags",
        choices=("latest", "all"),
        default="latest",
        help="each model's latestTag, or every tag (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-eu-restricted", action="store_true", help="leave out models marked euRestricted"
    )
    parser.add_argument(
        "--source-registry",
        type=registry_location,
        default=RegistryLocation(SOURCE_REGISTRY),
        metavar="HOST",
        help="where the images come from (default: %(default)s)",
    )


def read_entries(path: Path) -> tuple[ModelEntry, ...]:
    """The entries of a ConfigMap that passes validation (`-`: from stdin); an EU list or a
    broken file is one line naming it, in the words of `nim-build validate`."""
    return tuple(read_configmap(path).entries.values())


def checked_output(args: argparse.Namespace, kind: OutputKind) -> Path | None:
    """--output, checked before any work like every command's (a missing folder: exit 2):
    nothing or a `kind` file, and none of the files the command reads; None for stdout
    (no --output, or `-`)."""
    output: Path | None = args.output
    if output is None or is_stdio(output):
        return None
    inputs = {
        "CONFIGMAP": None if is_stdio(args.configmap) else args.configmap,
        "--authfile": getattr(args, "authfile", None),
        "--ca-file": getattr(args, "ca_file", None),
    }
    return check_output(output, "--output", kind=kind, inputs=inputs)


def emit(text: str, output: Path | None) -> str:
    """`text` to stdout, or atomically to `output`; says where it went."""
    if output is None:
        write_stdout(text)
        return "stdout"
    written = write_atomically(output, text)
    return f"{output}" if written else f"{output} (unchanged)"


def run(args: argparse.Namespace) -> int:
    output = checked_output(args, MIRROR_LIST_OUTPUT)
    entries = read_entries(args.configmap)
    chosen = select_models(
        entries,
        args.model,
        skip_eu_restricted=args.skip_eu_restricted,
        source=input_name(args.configmap),
    )
    plan = MirrorPlan(
        source=str(args.source_registry),
        target=args.registry,
        images=plan_images(chosen, all_tags=args.tags == "all"),
        models=len(chosen),
        origin=input_name(args.configmap) if is_stdio(args.configmap) else args.configmap.name,
    )
    where = emit(RENDERERS[args.format](plan), output)
    log.info(
        "mirror-list: %s of %s (%s tags) as %s to %s",
        plural(len(plan.images), "image"),
        plural(plan.models, "model"),
        args.tags,
        args.format,
        where,
    )
    return 0
