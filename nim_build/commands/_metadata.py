"""--name, --namespace and --label: the ConfigMap's metadata, shared by generate, run and
mirror-configmap. Each value is checked as Kubernetes checks it, so a bad one is a one-line
usage error naming the option, before any request."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from nim_build.errors import UsageError
from nim_build.steps.configmap import CONFIGMAP_NAME, MANAGED_LABEL

_DNS_LABEL_TEXT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_TEXT = rf"{_DNS_LABEL_TEXT}(\.{_DNS_LABEL_TEXT})*"
_DNS_SUBDOMAIN = re.compile(_DNS_SUBDOMAIN_TEXT)
_DNS_LABEL = re.compile(_DNS_LABEL_TEXT)
# A label key's name part and a label value, as k8s.io/apimachinery validation checks them.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(rf"({_LABEL_NAME.pattern})?")


def _kubernetes_name(pattern: re.Pattern[str], limit: int, what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) > limit or not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a Kubernetes {what}")
        return text

    return check


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a Kubernetes label key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"its prefix {prefix!r} is not a DNS subdomain"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            f"its name {name!r} is not 1-63 characters of letters, digits, '-', '_', '.' "
            "starting and ending with a letter or digit"
        )
    return None


def label(text: str) -> tuple[str, str]:
    """argparse type for `KEY=VALUE`, both checked as Kubernetes label key and value."""
    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    problem = label_key_problem(key)
    if problem:
        raise argparse.ArgumentTypeError(f"{key!r} is not a Kubernetes label key: {problem}")
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Kubernetes label value (at most 63 characters of letters, "
            "digits, '-', '_', '.', starting and ending with a letter or digit)"
        )
    return key, value


def add_metadata_arguments(parser: argparse.ArgumentParser, *, default_name: str) -> None:
    parser.add_argument(
        "--name",
        type=_kubernetes_name(_DNS_SUBDOMAIN, 253, "object name"),
        default=default_name,
        help="the ConfigMap's metadata.name (default: %(default)s)",
    )
    parser.add_argument(
        "--namespace",
        type=_kubernetes_name(_DNS_LABEL, 63, "namespace"),
        metavar="NS",
        help="the ConfigMap's metadata.namespace (default: none)",
    )
    parser.add_argument(
        "--label",
        type=label,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a metadata label; repeatable",
    )


OPERATOR_LABELS = "opendatahub.io/"  # the operator's label prefix


def labels(args: argparse.Namespace, *, shipped: bool | None = None) -> dict[str, str]:
    """The --label pairs; one key given twice is refused rather than silently dropped, and a
    custom ConfigMap (not `shipped`: by default, any --name but the shipped one) may carry no
    opendatahub.io label: the operator's."""
    if shipped is None:
        shipped = args.name == CONFIGMAP_NAME
    chosen: dict[str, str] = {}
    for key, value in args.label:
        if not shipped and key.startswith(OPERATOR_LABELS):
            raise UsageError(
                f"--label {key}: {OPERATOR_LABELS}* labels are the operator's; a custom "
                f"ConfigMap ({args.name}) carries none"
            )
        if shipped and key == MANAGED_LABEL and value != "true":
            raise UsageError(
                f"--label {key}={value}: the shipped ConfigMap ({args.name}) is the operator's "
                f'and carries {key}: "true"; give another --name for a custom one'
            )
        if key in chosen and chosen[key] != value:
            raise UsageError(f"--label {key} is given twice, as {chosen[key]!r} and {value!r}")
        chosen[key] = value
    return chosen
