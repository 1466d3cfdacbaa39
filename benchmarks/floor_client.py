"""The floor: a bare pooled `requests` client making the requests `nim-build generate` makes.

Key check and catalog page 0 at once, the other catalog pages at once, then every model's
metadata with N in flight over one connection pool; the eight contract fields of each answer
written as JSON. No retries, no caps, no validation, no YAML: the least a whole Python process
can do for the same answers, to measure nim-build against in the same run.

    python benchmarks/floor_client.py API_URL API_KEY OUTPUT [--concurrency 16]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("api_url")
    parser.add_argument("api_key")
    parser.add_argument("output", type=Path)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=args.concurrency))
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


if __name__ == "__main__":
    main()
