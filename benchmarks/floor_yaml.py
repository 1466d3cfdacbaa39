"""The offline floor: read ConfigMaps with PyYAML's C loader and decode every value.

    python benchmarks/floor_yaml.py CONFIGMAP...

What any tool must at least do to look at every entry: libyaml (yaml.CSafeLoader) and
json.loads, with no checks. benchmarks/run_all.py times `nim-build validate` and `diff`
against it as whole processes. PyYAML is a test dependency of nim-build, not a runtime one.
"""

from __future__ import annotations

import json
import sys

import yaml

for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as stream:  # noqa: PTH123 - no pathlib: a floor
        document = yaml.load(stream, Loader=yaml.CSafeLoader)
    for value in document["data"].values():
        json.loads(value)
