"""`nim-build place`: put a ConfigMap into a manifests checkout and prove that it deploys."""

from __future__ import annotations

import argparse
from pathlib import Path

from nim_build import github
from nim_build.commands._configmaps import read_configmap
from nim_build.errors import NimBuildError, UsageError
from nim_build.inputs import read_text
from nim_build.kustomize import RENDER_TIMEOUT
from nim_build.safe_text import escape_controls

from ._source import timeout_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configmap", type=Path, metavar="CONFIGMAP", help="the ConfigMap to place")
    parser.add_argument(
        "--repo", type=Path, required=True, metavar="DIR", help="the manifests checkout"
    )
    parser.add_argument(
        "--path",
        required=True,
        metavar="REL",
        help="where the ConfigMap goes, relative to DIR; its folder gets a kustomization.yaml",
    )
    parser.add_argument(
        "--kustomization",
        metavar="REL",
        help="a kustomization (file or folder, relative to DIR) that should include that folder",
    )
    parser.add_argument(
        "--render",
        metavar="OVERLAY",
        help="render this folder (relative to DIR) and check the ConfigMap is in it, once",
    )
    parser.add_argument(
        "--expect-namespace",
        metavar="NS",
        help="with --render: the namespace the ConfigMap must land in",
    )
    parser.add_argument(
        "--render-timeout",
        type=timeout_seconds,
        default=RENDER_TIMEOUT,
        metavar="SECONDS",
        help=f"stop kubectl kustomize after this long (default {RENDER_TIMEOUT:g})",
    )


def _outputs(deploys: bool, namespace: str, placement: str) -> None:
    github.set_outputs(
        {
            "deploys": "true" if deploys else "false",
            "namespace": namespace,
            "placement": escape_controls(placement),
        }
    )


def run(args: argparse.Namespace) -> int:
    if args.expect_namespace is not None and args.render is None:
        raise UsageError("--expect-namespace needs --render (the overlay that sets it)")
    # Appending step outputs to the ConfigMap read or placed would break it.
    github.check_files({"CONFIGMAP": args.configmap, "--path": args.repo / args.path})
    read_configmap(args.configmap)  # a ConfigMap that fails `validate` is never placed
    from nim_build.steps.place import Request, place  # ruamel, kubectl: not for --help

    request = Request(
        repo=args.repo,
        path=args.path,
        kustomization=args.kustomization,
        render=args.render,
        expect_namespace=args.expect_namespace,
        timeout=args.render_timeout,
    )
    try:
        placement = place(read_text(args.configmap), request)
    except UsageError:
        raise  # exit 2: a workflow stops, so no outputs
    except NimBuildError as error:
        # Exit 1 (not rendered, a kustomization it cannot wire, ...): a workflow still opens
        # the pull request, marked as not deploying, with this line saying why.
        _outputs(False, "", str(error))
        raise
    print(escape_controls(placement.sentence))
    _outputs(placement.deploys, placement.namespace or "", placement.sentence)
    return 0
