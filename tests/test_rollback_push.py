"""The rollback's pushes against a real bare origin and a second clone that pushes too.

A backup branch on the remote is never overwritten; the branch push is leased on the exact
commit the plan saw, so a remote that moved (before or during the push) keeps its commit.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from git import Repo

from actions.errors import GitError
from actions.gitrun import GitCall, run_git
from actions.rollback_steps import create_backup_branch, push_backup_branch
from tests.checkpointhelp import make_changes
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, clone_origin, git, install_hook, push_from
from tests.rollbackhelp import backup_and_reset, lease, plan

pytestmark = pytest.mark.usefixtures("no_global_git_config")


# -- the backup branch ---------------------------------------------------------------------------


def test_push_backup_branch_taken_on_origin_is_never_overwritten(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    planned = plan(phase_repo)
    other = clone_origin(phase_repo, tmp_path / "other")
    git(
        other,
        "push",
        "-q",
        "origin",
        f"phase2-checkpoint-T+4h^{{commit}}:refs/heads/{planned.backup_branch}",
    )
    theirs = git(phase_repo.origin, "rev-parse", planned.backup_branch)

    with pytest.raises(GitError, match="never overwritten"):
        push_backup_branch(
            repo=Repo(phase_repo.work),
            remote="origin",
            name=planned.backup_branch,
            sha=planned.head_sha,  # a descendant: a plain push would fast-forward it
        )

    assert git(phase_repo.origin, "rev-parse", planned.backup_branch) == theirs


# -- the lease -----------------------------------------------------------------------------------


def test_push_with_lease_origin_moved_after_plan_refuses(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    make_changes(phase_repo)
    planned = plan(phase_repo)
    other = clone_origin(phase_repo, tmp_path / "other")
    theirs = push_from(other, "server/other.ts", "1\n", "pushed behind the bot's back")
    backup_and_reset(phase_repo, planned)

    with pytest.raises(GitError, match=f"origin moved since the plan \\(now {theirs[:7]}\\)") as e:
        lease(phase_repo, planned)

    assert "nothing was overwritten" in e.value.user_message
    assert f"the backup branch {planned.backup_branch} is on origin" in e.value.user_message
    assert phase_repo.remote_head() == theirs
    assert git(phase_repo.origin, "rev-parse", f"{planned.backup_branch}^1") == planned.head_sha


def test_push_with_lease_race_after_check_is_refused_by_git(
    phase_repo: PhaseRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = plan(phase_repo)
    backup_and_reset(phase_repo, planned)
    other = clone_origin(phase_repo, tmp_path / "other")
    seen: list[list[str]] = []
    pushed: list[str] = []

    def push_first(repo: Repo, args: list[str], timeout_s: float, **kw: Any) -> GitCall:
        # The other engineer pushes between our ls-remote and our push: only the lease stops it.
        if args[0] == "push" and not pushed:
            pushed.append(push_from(other, "server/race.ts", "1\n", "racing push"))
        seen.append(list(args))
        return run_git(repo, args, timeout_s, **kw)

    monkeypatch.setattr("actions.rollback_push.run_git", push_first)

    with pytest.raises(GitError, match="origin moved since the plan"):
        lease(phase_repo, planned)

    assert phase_repo.remote_head() == pushed[0]
    push_args = next(args for args in seen if args[0] == "push")
    assert f"--force-with-lease=refs/heads/{BRANCH}:{planned.remote_head}" in push_args
    assert not {"--force", "-f", "--force-with-lease"} & set(push_args)


def test_push_with_lease_remote_without_branch_creates_it(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "push", "-q", "origin", "--delete", BRANCH)
    planned = plan(phase_repo)
    assert planned.remote_head is None
    backup_and_reset(phase_repo, planned)

    summary = lease(phase_repo, planned)

    assert phase_repo.remote_head() == planned.target_sha
    assert "new branch" in summary


def test_push_with_lease_hook_refusal_says_nothing_overwritten(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    backup_and_reset(phase_repo, planned)
    install_hook(
        phase_repo.origin,
        "pre-receive",
        f'while read old new ref; do [ "$ref" = refs/heads/{BRANCH} ] && '
        "{ echo 'rewinds need a ticket' >&2; exit 1; }; done; exit 0\n",
    )

    with pytest.raises(GitError, match="rewinds need a ticket") as caught:
        lease(phase_repo, planned)

    assert "nothing was overwritten" in caught.value.user_message
    assert phase_repo.remote_head() == planned.head_sha


# -- two at once ---------------------------------------------------------------------------------


def _race(repo: PhaseRepo, name: str, shas: tuple[str, str]) -> list[BaseException | None]:
    barrier = threading.Barrier(2, timeout=10)
    results: list[BaseException | None] = [None, None]

    def run(index: int) -> None:
        work = Repo(repo.work)
        try:
            barrier.wait()
            create_backup_branch(repo=work, name=name, sha=shas[index])
            push_backup_branch(repo=work, remote="origin", name=name, sha=shas[index])
        except BaseException as error:  # collected and asserted on below
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_backup_branch_two_threads_same_sha_both_succeed(phase_repo: PhaseRepo) -> None:
    head = phase_repo.head()
    for round_ in range(5):
        name = f"phase2-broken-same-{round_}"
        assert _race(phase_repo, name, (head, head)) == [None, None]
        assert git(phase_repo.origin, "rev-parse", name) == head
        assert git(phase_repo.work, "rev-parse", name) == head


def test_backup_branch_two_threads_different_shas_exactly_one_wins(
    phase_repo: PhaseRepo,
) -> None:
    shas = (phase_repo.head(), git(phase_repo.work, "rev-parse", "HEAD~1"))
    for round_ in range(5):
        name = f"phase2-broken-diff-{round_}"
        results = _race(phase_repo, name, shas)
        winners = [i for i, error in enumerate(results) if error is None]
        assert len(winners) == 1, results
        loser = results[1 - winners[0]]
        assert isinstance(loser, GitError) and "already exists" in loser.user_message
        assert git(phase_repo.origin, "rev-parse", name) == shas[winners[0]]
        assert git(phase_repo.work, "rev-parse", name) == shas[winners[0]]
