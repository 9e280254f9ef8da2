"""The procedure's "Testing rollback procedures", run for real in an isolated clone.

1. Clone the working copy's committed history (a local clone, hard links) into a scratch
   folder, with a scratch bare remote of its own: the live working copy and its remote are
   only ever read.
2. Create the test branch, commit the intentional break, tag it (``test-broken``).
3. Roll it back with the real rollback code: the plan, the backup branch pushed, the reset,
   the leased push, all against the scratch remote.
4. Verify: the caller runs the checklist against a scratch service when it has one; this
   module checks the git level (the clone and its remote at the target, the backup holding the
   break).

The caller removes the scratch folder, whatever happens.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git

from actions.errors import GitError
from actions.gitrun import NETWORK_ENV, git_ok, identity_config, run_git
from actions.refs import require_ref_name
from actions.rollback_plan import RollbackPlan, plan_rollback
from actions.rollback_push import push_backup_branch, push_with_lease
from actions.rollback_steps import create_backup_branch, reset_to_target

TEST_BRANCH = "test/rollback-procedure"
BROKEN_TAG = "test-broken"
BROKEN_LINE = "BROKEN\n"
#: The procedure breaks server/routes.ts; a repository without it gets a file of its own.
BROKEN_FILES = ("server/routes.ts",)
FALLBACK_FILE = "ROLLBACK_DRILL_BROKEN"


@dataclass(frozen=True)
class ScratchRepo:
    clone: Path
    remote: Path
    drilled: str  # the live commit the drill started from


def clone_for_drill(*, source: Path, branch: str, scratch: Path, timeout_s: float) -> ScratchRepo:
    """A local clone of ``branch`` in ``scratch``, its origin a scratch bare repository.

    Both are local clones (objects hard-linked, never copied or pushed), so a long history
    costs the drill little more than the rollback it practises.
    """
    require_ref_name(branch, what="branch name")
    live = git.Repo(source)
    drilled = git_ok(live, ["rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}"], timeout_s)
    remote, clone = scratch / "remote.git", scratch / "clone"
    one_branch = ["--local", "--single-branch", "--branch", branch, "--", str(source)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="drill-clone") as pool:
        bare = pool.submit(
            git_ok, live, ["clone", "--quiet", "--bare", *one_branch, str(remote)], timeout_s
        )
        work = pool.submit(git_ok, live, ["clone", "--quiet", *one_branch, str(clone)], timeout_s)
        bare.result(), work.result()
    repo = git.Repo(clone)
    git_ok(repo, ["remote", "set-url", "origin", str(remote)], timeout_s)
    git_ok(repo, ["checkout", "--quiet", "-B", branch, drilled], timeout_s)
    return ScratchRepo(clone, remote, drilled)


def break_on_test_branch(*, scratch: ScratchRepo, timeout_s: float) -> str:
    """The procedure's step: the test branch, its intentional break committed and tagged."""
    repo = git.Repo(scratch.clone)
    git_ok(repo, ["checkout", "--quiet", "-b", TEST_BRANCH], timeout_s)
    broken = next((name for name in BROKEN_FILES if (scratch.clone / name).is_file()), None)
    path = scratch.clone / (broken or FALLBACK_FILE)
    with path.open("a", encoding="utf-8") as out:
        out.write(BROKEN_LINE)
    git_ok(repo, ["add", "--", path.name if broken is None else broken], timeout_s)
    identity = identity_config(repo, timeout_s)
    git_ok(
        repo,
        ["commit", "--quiet", "--no-verify", "-m", "test: intentional break"],
        timeout_s,
        config=identity,
    )
    git_ok(repo, ["tag", "--end-of-options", BROKEN_TAG], timeout_s, config=identity)
    # On the remote too, as a broken commit that needs rolling back is.
    git_ok(
        repo,
        ["push", "--quiet", "origin", f"refs/heads/{TEST_BRANCH}:refs/heads/{TEST_BRANCH}"],
        timeout_s,
        env=NETWORK_ENV,
    )
    return git_ok(repo, ["rev-parse", "HEAD"], timeout_s)


def roll_back_test_branch(
    *, scratch: ScratchRepo, now: datetime, phase: str, timeout_s: float
) -> RollbackPlan:
    """`git reset --hard HEAD~1` of the test branch, as the bot does it."""
    return roll_back_one_commit(
        repo=git.Repo(scratch.clone), branch=TEST_BRANCH, now=now, phase=phase, timeout_s=timeout_s
    )


def roll_back_one_commit(
    *, repo: git.Repo, branch: str, now: datetime, phase: str, timeout_s: float
) -> RollbackPlan:
    """HEAD~1 on ``branch``, by the rollback's own git steps against ``origin``: the plan, the
    backup branch pushed, the reset, the leased push."""
    target = git_ok(repo, ["rev-parse", "--verify", "HEAD~1"], timeout_s)
    plan = plan_rollback(
        repo=repo,
        remote="origin",
        branch=branch,
        phase=phase,
        target=target,
        now=now,
        timeout_s=timeout_s,
    )
    create_backup_branch(repo=repo, name=plan.backup_branch, sha=plan.head_sha, timeout_s=timeout_s)
    push_backup_branch(
        repo=repo, remote="origin", name=plan.backup_branch, sha=plan.head_sha, timeout_s=timeout_s
    )
    reset_to_target(
        repo=repo,
        branch=branch,
        expected_head=plan.head_sha,
        target_sha=plan.target_sha,
        backup_branch=plan.backup_branch,
        timeout_s=timeout_s,
    )
    push_with_lease(
        repo=repo,
        remote="origin",
        branch=branch,
        target_sha=plan.target_sha,
        expected_remote_sha=plan.remote_head,
        timeout_s=timeout_s,
        backup_branch=plan.backup_branch,
    )
    return plan


def verify_at_git_level(*, scratch: ScratchRepo, plan: RollbackPlan, timeout_s: float) -> str:
    """What the rollback must have left: raise GitError naming the first thing that is off."""
    clone, remote = git.Repo(scratch.clone), git.Repo(scratch.remote)
    head = git_ok(clone, ["rev-parse", "HEAD"], timeout_s)
    pushed = git_ok(remote, ["rev-parse", f"refs/heads/{TEST_BRANCH}"], timeout_s)
    backup = run_git(remote, ["rev-parse", f"refs/heads/{plan.backup_branch}"], timeout_s)
    dirty = git_ok(clone, ["status", "--porcelain"], timeout_s)
    problems = [
        f"HEAD is {head[:7]}, not the target {plan.target_sha[:7]}"
        if head != plan.target_sha
        else "",
        f"the remote branch is {pushed[:7]}" if pushed != plan.target_sha else "",
        "the backup branch is not on the remote" if backup.out != plan.head_sha else "",
        "the working tree is not clean" if dirty else "",
    ]
    found = [problem for problem in problems if problem]
    if found:
        raise GitError(f"The drill's rollback did not hold: {'; '.join(found)}.")
    return (
        f"verified at git level: {TEST_BRANCH} is back at {plan.target_sha[:7]} here and on the "
        f"scratch remote, and {plan.backup_branch} holds the break"
    )
