"""Checkpoint prechecks that survived mutation (scripts/mutants actions/checkpoint_precheck.py).

Each refusal is what the person reads on Slack before anything changes, so each is checked
whole, on a real repository with a real bare origin; and the one time the prechecks may talk to
the remote twice (to fetch a head we lack) is checked by counting what the remote serves.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from git import Repo

from actions.checkpoint_precheck import precheck
from actions.errors import GitError, OutOfTime
from actions.gitrun import Deadline
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, clone_origin, git, git_try, push_from

pytestmark = pytest.mark.usefixtures("no_global_git_config")

TAG = "phase2-checkpoint-T+8h"
NOTHING = "Nothing was changed."


def _refusal(repo: PhaseRepo | Path, *, remote: str = "origin", tag: str = TAG) -> str:
    work = repo.work if isinstance(repo, PhaseRepo) else repo
    with pytest.raises(GitError) as refused:
        precheck(Repo(work), remote=remote, branch=BRANCH, tag=tag, deadline=Deadline(30))
    return refused.value.user_message


# -- the working copy -----------------------------------------------------------------------------


def test_precheck_missing_remote_lists_the_configured_ones(phase_repo: PhaseRepo) -> None:
    tail = f"{NOTHING} Add it with `git remote add` or fix the remote in the bot's config."
    assert _refusal(phase_repo, remote="upstream") == (
        f"No remote named 'upstream' is configured in this repository (configured: origin). {tail}"
    )
    git(phase_repo.work, "remote", "add", "backup", str(phase_repo.origin))
    assert "(configured: backup, origin)." in _refusal(phase_repo, remote="upstream")
    git(phase_repo.work, "remote", "remove", "backup")
    git(phase_repo.work, "remote", "remove", "origin")
    assert _refusal(phase_repo) == (
        f"No remote named 'origin' is configured in this repository (configured: none). {tail}"
    )


def test_precheck_detached_head_says_where_it_is(phase_repo: PhaseRepo) -> None:
    head = phase_repo.head()
    git(phase_repo.work, "checkout", "-q", "--detach")
    assert _refusal(phase_repo) == (
        f"HEAD is detached at {head[:12]}, not on {BRANCH}. {NOTHING} "
        f"Switch to {BRANCH} in the working copy (`git switch {BRANCH}`), then try again."
    )


def test_precheck_detached_head_at_a_missing_commit_says_so(phase_repo: PhaseRepo) -> None:
    # A damaged working copy: HEAD names a commit the object store does not have.
    (phase_repo.work / ".git" / "HEAD").write_text("1" * 40 + "\n")
    assert _refusal(phase_repo).startswith(f"HEAD is detached with no commit, not on {BRANCH}.")


def test_precheck_wrong_branch_names_both(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "checkout", "-q", "main")
    assert _refusal(phase_repo) == (
        f"The working copy is on branch 'main', not '{BRANCH}'. {NOTHING} "
        f"Switch to {BRANCH} (`git switch {BRANCH}`), then try again."
    )


def test_precheck_branch_without_commits_says_to_make_one(tmp_path: Path) -> None:
    work = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", BRANCH, str(work))
    git(work, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    assert _refusal(work) == f"{BRANCH} has no commits yet. {NOTHING} Make a first commit by hand."


def test_precheck_counts_each_conflicted_file_once_whatever_its_name(
    phase_repo: PhaseRepo,
) -> None:
    # Two files whose names hold a tab and end alike: each is counted, once for its 3 stages.
    names = ["one\tx.ts", "two\tx.ts"]
    for name in names:
        phase_repo.commit(name, "base\n", f"add {name!r}")
    for name in names:
        (phase_repo.work / name).write_text("stashed\n")
    git(phase_repo.work, "stash")
    for name in names:
        phase_repo.commit(name, "committed\n", f"change {name!r}")
    assert git_try(phase_repo.work, "stash", "pop").returncode != 0
    assert _refusal(phase_repo) == (
        f"2 file(s) have unresolved conflicts. {NOTHING} Resolve them "
        "(`git status` lists them), then try again."
    )


# -- the tag ----------------------------------------------------------------------------------------

TAG_EXISTS = "Checkpoints are never moved or overwritten."


@pytest.mark.parametrize("annotated", [True, False], ids=["annotated", "lightweight"])
def test_precheck_existing_local_tag_names_the_commit_it_points_at(
    phase_repo: PhaseRepo, annotated: bool
) -> None:
    commit = phase_repo.head()
    phase_repo.commit("later.ts", "later\n", "a later commit")
    git(phase_repo.work, "tag", *(["-a", "-m", "theirs"] if annotated else []), TAG, commit)
    assert _refusal(phase_repo) == (
        f"Checkpoint tag {TAG} already exists here, pointing at {commit[:12]}. {TAG_EXISTS} "
        f"{NOTHING} Use another label (e.g. a later T+Nh), or `/checkpoint list` to see the "
        "existing ones."
    )


def test_precheck_tag_only_on_the_remote_says_how_to_fetch_it(phase_repo: PhaseRepo) -> None:
    # Lightweight, so the id shown is the commit's (see the report on annotated tags).
    commit = phase_repo.remote_head()
    git(phase_repo.origin, "tag", TAG, commit)
    assert _refusal(phase_repo) == (
        f"Checkpoint tag {TAG} already exists on origin (pointing at {commit[:12]}) but not "
        f"here. {TAG_EXISTS} {NOTHING} Fetch it (`git fetch origin tag {TAG}`) and use another "
        "label."
    )


# -- the remote -------------------------------------------------------------------------------------


def test_precheck_unreachable_remote_says_what_to_check(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "remote", "set-url", "origin", str(phase_repo.work.parent / "gone.git"))
    said = _refusal(phase_repo)
    assert said.startswith(f"Could not ask origin about {BRANCH}: ")
    assert said.endswith(
        f". {NOTHING} Check that origin is reachable and the credentials work, then try again."
    )


def _count_uploads(repo: PhaseRepo, *, fail_after: int = 99) -> Path:
    """Serve the working copy's origin through a script that logs each upload-pack (ls-remote
    and fetch both start one) and refuses those after the first ``fail_after``."""
    log = repo.work.parent / "uploads.log"
    script = repo.work.parent / "upload-pack"
    script.write_text(
        "#!/bin/sh\n"
        f'echo served >> "{log}"\n'
        f'[ "$(wc -l < "{log}")" -le {fail_after} ] || exit 1\n'
        'exec git upload-pack "$@"\n'
    )
    script.chmod(0o755)
    git(repo.work, "config", "remote.origin.uploadpack", str(script))
    return log


def _behind(remote: str, how_many: str) -> str:
    return (
        f"{remote} has {how_many} on {BRANCH} that you don't have; pull or rebase first, then "
        f"create the checkpoint again. {NOTHING}"
    )


def test_precheck_remote_ahead_by_one_commit_we_lack_fetches_to_count(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    push_from(clone_origin(phase_repo, tmp_path / "other"), "theirs.ts", "x\n", "their work")
    log = _count_uploads(phase_repo)
    assert _refusal(phase_repo) == _behind("origin", "1 commit")
    assert log.read_text().splitlines() == ["served", "served"]  # asked, then fetched


def test_precheck_remote_head_we_already_have_is_not_fetched_again(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    other = clone_origin(phase_repo, tmp_path / "other")
    for n in range(2):
        push_from(other, f"theirs{n}.ts", "x\n", f"their work {n}")
    git(phase_repo.work, "fetch", "-q", "origin")  # we have their commits, not on our branch
    phase_repo.commit("ours.ts", "y\n", "our work")
    log = _count_uploads(phase_repo)
    assert _refusal(phase_repo) == _behind("origin", "2 commits")
    # The module's one exception to reading only: fetch a head we do not have. This one we have.
    assert log.read_text().splitlines() == ["served"]


def test_precheck_remote_ahead_that_cannot_be_fetched_shows_its_head(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    theirs = push_from(clone_origin(phase_repo, tmp_path / "other"), "t.ts", "x\n", "theirs")
    _count_uploads(phase_repo, fail_after=1)  # the ls-remote answers, the fetch fails
    assert _refusal(phase_repo) == _behind("origin", f"commits (its head is {theirs[:12]})")


# -- the time budget --------------------------------------------------------------------------------


class SpentAfter(Deadline):
    """A budget spent after ``steps`` steps: real time cannot be stopped at a chosen step."""

    def __init__(self, steps: int) -> None:
        super().__init__(60)
        self.steps = steps

    def left(self, what: str) -> float:
        if self.steps == 0:
            self.end = time.monotonic()
        self.steps -= 1
        return super().left(what)


STEPS = [
    "reading the remotes",
    "reading HEAD",
    "reading the current branch",
    "reading the index",
    "looking for the tag",
    f"asking origin for {BRANCH}",
    "comparing with the remote",
    f"fetching {BRANCH} from origin",
    "counting the remote's commits",
]


@pytest.mark.parametrize("step", range(len(STEPS)), ids=STEPS)
def test_precheck_out_of_time_says_before_which_step(
    phase_repo: PhaseRepo, tmp_path: Path, step: int
) -> None:
    # The remote is ahead with a commit we lack, so every step runs, the fetch included.
    push_from(clone_origin(phase_repo, tmp_path / "other"), "theirs.ts", "x\n", "their work")
    with pytest.raises(OutOfTime) as spent:
        precheck(
            Repo(phase_repo.work),
            remote="origin",
            branch=BRANCH,
            tag=TAG,
            deadline=SpentAfter(step),
        )
    assert spent.value.user_message == f"Ran out of time before {STEPS[step]}."
