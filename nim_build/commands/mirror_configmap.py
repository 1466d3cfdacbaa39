"""`nim-build mirror-configmap`: the custom ConfigMap listing only what a mirror holds."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable
from pathlib import Path

from nim_build.errors import NimBuildError, itemize
from nim_build.http import HttpLimits
from nim_build.models import ModelEntry
from nim_build.progress import StepTimes
from nim_build.registry import (
    RegistryClient,
    RegistryError,
    RegistryWideError,
    load_credentials,
)
from nim_build.steps.configmap import CONFIGMAP_NAME, render_configmap
from nim_build.steps.mirror import mirrored_catalog
from nim_build.steps.pool import map_bounded
from nim_build.steps.validate import ValidationFailed, validate_configmap_text
from nim_build.wording import plural

from ._source import add_request_arguments
from .mirror_list import add_input_arguments, checked_output, emit, read_entries

log = logging.getLogger("nim_build")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class MirrorEmpty(NimBuildError):
    """The mirror holds none of the models: most likely a wrong --registry prefix."""


def _kubernetes_name(pattern: re.Pattern[str], limit: int, what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) > limit or not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a Kubernetes {what}")
        return text

    return check


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
    parser.add_argument(
        "--name",
        type=_kubernetes_name(_DNS_SUBDOMAIN, 253, "object name"),
        default=CONFIGMAP_NAME,
        help="the ConfigMap's metadata.name (default: %(default)s)",
    )
    parser.add_argument(
        "--namespace",
        type=_kubernetes_name(_DNS_LABEL, 63, "namespace"),
        metavar="NS",
        help="the ConfigMap's metadata.namespace (default: none)",
    )
    add_request_arguments(parser)


def _ask(client: RegistryClient, entry: ModelEntry) -> tuple[str, ...] | RegistryError | None:
    try:
        # Only the model's own tags are kept while paging: a repository may hold any number.
        return client.tags(f"{entry.namespace}/{entry.name}", wanted=frozenset(entry.tags))
    except RegistryWideError:
        raise  # the registry itself failed: one message for the run, not one per model
    except RegistryError as error:
        return error  # reported with the others: one bad repository does not hide the rest


def run(args: argparse.Namespace) -> int:
    output = checked_output(args)  # before the first request
    times = StepTimes()
    entries = read_entries(args.configmap)
    credentials = load_credentials(args.registry, args.authfile)
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
            f"{args.registry} holds none of the {len(entries)} models of {args.configmap} "
            "(is the path prefix right?); nothing written"
        )
    text = render_configmap(catalog.entries, name=args.name, namespace=args.namespace)
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
