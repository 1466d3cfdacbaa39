"""`nim-build mirror-configmap`: the custom ConfigMap listing only what a mirror holds."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nim_build.errors import NimBuildError, itemize
from nim_build.http import HttpLimits
from nim_build.models import ModelEntry
from nim_build.progress import StepTimes
from nim_build.registry import RegistryError, RegistryWideError, load_credentials
from nim_build.registry.auth import AuthFileError, Credentials
from nim_build.steps.configmap import configmap_labels, render_configmap
from nim_build.steps.mirror import mirrored_catalog
from nim_build.steps.pool import map_bounded
from nim_build.steps.validate import ValidationFailed
from nim_build.wording import plural

from ._configmaps import CONFIGMAP_OUTPUT, configmap_to_replace
from ._metadata import add_metadata_arguments, labels
from ._source import add_request_arguments
from ._stdio import input_name
from .mirror_list import add_input_arguments, checked_output, emit, read_entries

if TYPE_CHECKING:
    from nim_build.registry import RegistryClient

log = logging.getLogger("nim_build")
AUTH_FILE_ENV = "REGISTRY_AUTH_FILE"
# A name of its own: the shipped nim-models-data is the operator's, not the admin's.
MIRROR_CONFIGMAP_NAME = "nim-models-data-mirror"


class MirrorEmpty(NimBuildError):
    """The mirror holds none of the models: most likely a wrong --registry prefix."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the mirror"
    )
    parser.add_argument(
        "--ca-file", type=Path, metavar="PATH", help="CA bundle to verify the mirror's TLS"
    )
    parser.add_argument(
        "--authfile",
        type=Path,
        metavar="PATH",
        help="containers auth.json / Docker config.json (default: $REGISTRY_AUTH_FILE, "
        "${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, "
        "~/.docker/config.json)",
    )
    add_metadata_arguments(parser, default_name=MIRROR_CONFIGMAP_NAME)
    add_request_arguments(parser)


def _ask(client: RegistryClient, entry: ModelEntry) -> tuple[str, ...] | RegistryError | None:
    try:
        # Only the model's own tags are kept while paging: a repository may hold any number.
        return client.tags(f"{entry.namespace}/{entry.name}", wanted=frozenset(entry.tags))
    except RegistryWideError:
        raise  # the registry itself failed: one message for the run, not one per model
    except RegistryError as error:
        return error  # reported with the others: one bad repository does not hide the rest


def _credentials(args: argparse.Namespace) -> Credentials | None:
    """The mirror's credentials; a bad auth file is named with the option that chose it."""
    try:
        return load_credentials(args.registry, args.authfile)
    except AuthFileError as error:
        if args.authfile is not None:
            raise AuthFileError(f"--authfile {error}") from error
        if os.environ.get(AUTH_FILE_ENV):
            raise AuthFileError(f"${AUTH_FILE_ENV}: {error}") from error
        raise


def run(args: argparse.Namespace) -> int:
    output = checked_output(args, CONFIGMAP_OUTPUT)  # before the first request
    if output is not None:
        configmap_to_replace(output, args.name)  # a ConfigMap of another name is not ours
    # Never the operator's opendatahub.io labels: only what --label asks for.
    chosen_labels = configmap_labels(args.name, labels(args, shipped=False), shipped=False)
    times = StepTimes()
    entries = read_entries(args.configmap)
    credentials = _credentials(args)
    from nim_build.registry import RegistryClient  # requests: not for --help

    client = RegistryClient(  # checks --ca-file (a PEM bundle) before any request
        args.registry,
        credentials=credentials,
        plain_http=args.plain_http,
        ca_file=args.ca_file,
        concurrency=args.concurrency,
        limits=HttpLimits(attempts=args.attempts, timeout=args.timeout),
    )
    try:
        with times.step("tags"):
            answers = map_bounded(
                lambda entry: _ask(client, entry),
                entries,
                concurrency=args.concurrency,
                label="mirror tags",
            )
    finally:
        client.close()
    failed = [answer for answer in answers if isinstance(answer, RegistryError)]
    if failed:
        listed, details = itemize(sorted(str(error) for error in failed), "; ")
        raise RegistryError(
            f"{plural(len(failed), 'repository', 'repositories')} could not be read, "
            f"nothing written: {listed}",
            details,
        )
    held = {
        entry.name: answer
        for entry, answer in zip(entries, answers, strict=True)
        if not isinstance(answer, RegistryError)
    }
    catalog = mirrored_catalog(entries, held)
    if not catalog.entries:
        raise MirrorEmpty(
            f"{args.registry} holds none of the {len(entries)} models of "
            f"{input_name(args.configmap)} "
            "(is the path prefix right?); nothing written"
        )
    text = render_configmap(
        catalog.entries,
        name=args.name,
        namespace=args.namespace,
        labels=chosen_labels,
        origin=f"the tags the mirror registry {args.registry} holds",
    )
    from nim_build.steps.validate import validate_configmap_text  # ruamel: not for --help

    problems = validate_configmap_text(text, args.name)
    if problems:
        raise ValidationFailed(problems)
    with times.step("write"):
        where = emit(text, output)
    if catalog.missing:
        log.info("not in the mirror, left out: %s", ", ".join(catalog.missing))
    if catalog.untagged:
        log.info("none of their tags in the mirror, left out: %s", ", ".join(catalog.untagged))
    log.info(
        "mirror-configmap: kept %d of %d models (%d tags) in %s to %s; %d left out; "
        "%d requests, %d retries; %s",
        len(catalog.entries),
        len(entries),
        catalog.tags,
        args.name,
        where,
        len(catalog.missing) + len(catalog.untagged),
        client.stats.requests,
        client.stats.retries,
        times.summary(),
    )
    return 0
