"""Cache clearing: only inside the working copy, symlinks resolved, all checked before any goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import InputError
from actions.rollback_steps import clear_caches
from tests.gitrepo import PhaseRepo


def test_clear_caches_removes_inside_paths_and_skips_missing(phase_repo: PhaseRepo) -> None:
    cache = phase_repo.work / "node_modules" / ".cache"
    (cache / "deep").mkdir(parents=True)
    (cache / "deep" / "blob").write_text("x")
    (phase_repo.work / "build.tmp").write_text("y")

    removed = clear_caches(
        repo_root=phase_repo.work,
        paths=[Path("node_modules/.cache"), phase_repo.work / "build.tmp", Path("missing/dir")],
    )

    assert removed == ("node_modules/.cache", "build.tmp")
    assert not cache.exists() and not (phase_repo.work / "build.tmp").exists()
    assert (phase_repo.work / "node_modules").is_dir()


def test_clear_caches_symlink_inside_to_inside_clears_the_target(phase_repo: PhaseRepo) -> None:
    real = phase_repo.work / "var" / "cache"
    real.mkdir(parents=True)
    (real / "blob").write_text("x")
    (phase_repo.work / "cache-link").symlink_to(real)

    assert clear_caches(repo_root=phase_repo.work, paths=[Path("cache-link")]) == ("var/cache",)
    assert not real.exists()


def outside_paths(work: Path, tmp_path: Path) -> list[Path]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "keep").write_text("keep")
    link = work / "node_modules" / "linked"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(elsewhere)
    return [Path("../x"), elsewhere, Path("node_modules/linked"), Path("."), Path(".git/objects")]


@pytest.mark.parametrize("index", range(5))
def test_clear_caches_outside_or_git_paths_refused_and_nothing_removed(
    phase_repo: PhaseRepo, tmp_path: Path, index: int
) -> None:
    bad = outside_paths(phase_repo.work, tmp_path)[index]
    cache = phase_repo.work / "node_modules" / ".cache"
    cache.mkdir(parents=True)
    (phase_repo.work.parent / "x").write_text("outside")

    with pytest.raises(InputError):
        clear_caches(repo_root=phase_repo.work, paths=[Path("node_modules/.cache"), bad])

    assert cache.is_dir()  # the good path listed first was not removed either
    assert (tmp_path / "elsewhere" / "keep").read_text() == "keep"
    assert (phase_repo.work.parent / "x").read_text() == "outside"
    assert (phase_repo.work / ".git" / "objects").is_dir()
