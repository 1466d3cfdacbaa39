"""Paths inside a manifests checkout: `..`, absolute paths and symlinks leading out are refused.

Every path `place` reads or writes goes through `inside`, before anything is written, so a
hostile checkout (a symlink to ~/.ssh, `../../etc`) cannot make it touch a file outside it.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nim_build.errors import UsageError

# The names kustomize looks for in a folder, in its order.
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Checkout:
    """The manifests checkout (`--repo`): its folder, as given and with links resolved."""

    root: Path
    real: Path

    @classmethod
    def open(cls, root: Path) -> Checkout:
        if not root.is_dir():
            raise UsageError(f"--repo {root}: not a folder")
        return cls(root, Path(os.path.realpath(root)))

    def inside(self, relative: str, option: str) -> Path:
        """`root/relative`, refused (UsageError naming `option`) unless it stays inside root,
        through every symlink on the way, the last component included."""
        where = f"{option} {relative}"
        if not relative or PurePosixPath(relative).is_absolute() or Path(relative).is_absolute():
            raise UsageError(f"{where}: name a path relative to --repo, not an absolute one")
        normal = posixpath.normpath(relative)
        if normal == ".." or normal.startswith("../"):
            raise UsageError(f"{where}: leads out of --repo {self.root}")
        path = self.root / normal
        real = Path(os.path.realpath(path))
        if real != self.real and self.real not in real.parents:
            raise UsageError(f"{where}: a symlink leads out of --repo {self.root} (to {real})")
        if real.is_symlink():  # realpath stops at a loop: writing through it would fail late
            raise UsageError(f"{where}: a symlink loop")
        return path

    def relative(self, path: Path) -> str:
        """`path` as given relative to the checkout: how messages name it."""
        return path.relative_to(self.root).as_posix()

    def kustomization_in(self, folder: str, option: str) -> Path:
        """The kustomization file of `folder` (inside the checkout): the one that exists, or
        `kustomization.yaml` to create."""
        for name in KUSTOMIZATION_NAMES:
            path = self.inside(posixpath.join(folder, name), option)
            if path.exists() or path.is_symlink():
                return path
        return self.inside(posixpath.join(folder, KUSTOMIZATION_NAMES[0]), option)
