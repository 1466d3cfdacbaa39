"""The floor: a bare pooled `requests` client making the requests nim-build makes.

    python benchmarks/floor_client.py ngc API_URL API_KEY OUTPUT [--concurrency 16]
    python benchmarks/floor_client.py registry REGISTRY_URL OUTPUT REPOSITORY... [--concurrency 16]

`ngc` does what `nim-build generate` asks of NGC: the key check and catalog page 0 at once,
the other pages at once, then every model's metadata, N in flight over one connection pool,
and writes the eight contract fields of each answer as JSON. `registry` does what
`nim-build mirror-configmap` asks of an anonymous registry: one tags/list per repository.
No retries, caps, checks or YAML: the least a whole Python process does for the same
answers, to measure nim-build against in the same run (benchmarks/run_all.py).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

FIELDS = ("name", "displayName", "shortDescription", "namespace", "tags", "latestTag")
CATALOG = "/v2/search/catalog/resources/CONTAINER"


def _session(concurrency: int) -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=concurrency))
    return session


def ngc(args: argparse.Namespace) -> None:
    session = _session(args.concurrency)
    auth = {"Authorization": f"Bearer {args.api_key}"}

    def key_check() -> int:
        answer = session.post(
            args.api_url + "/v3/keys/get-caller-info",
            headers=auth,
            data={"credentials": args.api_key},
        )
        return answer.status_code

    def page(number: int) -> Any:
        query = json.dumps({"query": "orgName:nim", "page": number, "pageSize": 1000})
        answer = session.get(args.api_url + CATALOG, params={"q": query})
        answer.raise_for_status()
        return answer.json()

    def metadata(resource_id: str) -> dict[str, Any]:
        org, team, repo = resource_id.split("/")
        url = f"{args.api_url}/v2/org/{org}/team/{team}/repos/{repo}"
        answer = session.get(url, params={"resolve-labels": "true"}, headers=auth)
        answer.raise_for_status()
        body = answer.json()
        return {name: body[name] for name in (*FIELDS, "updatedDate")}

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        key = pool.submit(key_check)
        first = page(0)
        if key.result() != 200:
            raise SystemExit("key refused")
        pages = [first, *pool.map(page, range(1, first["resultPageTotal"]))]
        ids = [
            resource["resourceId"]
            for body in pages
            for group in body["results"]
            if group["groupValue"] == "CONTAINER"
            for resource in group["resources"]
            if any(a.get("key") == "latestTag" for a in resource.get("attributes", ()))
        ]
        entries = list(pool.map(metadata, ids))
    text = json.dumps(sorted(entries, key=lambda e: e["name"]), indent=2, ensure_ascii=False)
    args.output.write_text(text + "\n", encoding="utf-8")


def registry(args: argparse.Namespace) -> None:
    session = _session(args.concurrency)

    def tags(repository: str) -> list[str]:
        answer = session.get(f"{args.registry_url}/v2/{repository}/tags/list")
        return list(answer.json().get("tags") or []) if answer.status_code == 200 else []

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        held = dict(zip(args.repositories, pool.map(tags, args.repositories), strict=True))
    args.output.write_text(json.dumps(held, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("ngc", "registry"):
        mode = modes.add_parser(name)
        if name == "ngc":
            mode.add_argument("api_url")
            mode.add_argument("api_key")
            mode.add_argument("output", type=Path)
        else:
            mode.add_argument("registry_url")
            mode.add_argument("output", type=Path)
            mode.add_argument("repositories", nargs="+")
        mode.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    ngc(args) if args.mode == "ngc" else registry(args)


if __name__ == "__main__":
    main()
