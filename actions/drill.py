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

The caller removes the scratch folder, whatever happens. The same scratch clone serves the
bisect (each commit checked out clean) and the watch's look at the remote branch (its head
fetched into the clone).
"""

from __future__ import annotations

import os
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
#: Both scratch repositories: no hooks (a missing file is no hook), no housekeeping.
_SCRATCH_CONFIG = (("core.hooksPath", os.devnull), ("maintenance.auto", "false"), ("gc.auto", "0"))


@dataclass(frozen=True)
class ScratchRepo:
    clone: Path
    remote: Path
    drilled: str  # the live commit the drill started from
    whole_tree: bool = True  # False: only the files the break touches are checked out


def clone_for_drill(
    *, source: Path, branch: str, scratch: Path, timeout_s: float, whole_tree: bool = True
) -> ScratchRepo:
    """A local clone of ``branch`` in ``scratch``, its origin a scratch bare repository.

    The clone hard-links the live objects (copies them only across filesystems) and writes
    nothing in the live repository. Neither scratch repository runs hooks, the user's global
    ``core.hooksPath`` included: a drill starts nothing of the live repository's. The bare
    remote borrows the clone's objects through ``objects/info/alternates`` and is given the
    branch directly, so setting it up costs no second clone and no push; the rollback's own
    pushes to it are real pushes. Without ``whole_tree`` (a drill verified at git level, with no
    scratch service to serve the files) the checkout is sparse: only the files the break
    touches, so a large tree costs the drill nothing it does not use. Nothing is checked out
    yet: the break's checkout of the test branch is the one that writes the tree.
    """
    require_ref_name(branch, what="branch name")
    live = git.Repo(source)
    # Absolute: the remote's alternates file names the clone's objects by path.
    remote, clone = scratch.resolve() / "remote.git", scratch.resolve() / "clone"
    sparse = ["--config", "core.sparseCheckout=true", "--config", "core.sparseCheckoutCone=false"]
    # --template= (none): no sample hooks or other template files to write, and later remove.
    quiet = [f"--config={key}={value}" for key, value in _SCRATCH_CONFIG]
    taking = [
        *("clone", "--quiet", "--template=", "--no-checkout", "--local", "--single-branch"),
        *("--branch", branch, *quiet, *([] if whole_tree else sparse)),
        *("--", str(source), str(clone)),
    ]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-remote") as pool:
        bare = pool.submit(_init_remote, live, remote, branch, timeout_s)
        git_ok(live, taking, timeout_s)
        drilled = bare.result()
    (remote / "objects" / "info").mkdir(exist_ok=True)
    (remote / "objects" / "info" / "alternates").write_text(f"{clone / '.git' / 'objects'}\n")
    if not whole_tree:
        patterns = "".join(f"/{name}\n" for name in (*BROKEN_FILES, FALLBACK_FILE))
        (clone / ".git" / "info").mkdir(exist_ok=True)
        (clone / ".git" / "info" / "sparse-checkout").write_text(patterns)
    repo = git.Repo(clone)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-remote") as pool:
        # The scratch remote has the branch, as the live one does; the objects it borrows.
        mirrored = pool.submit(
            git_ok, git.Repo(remote), ["update-ref", f"refs/heads/{branch}", drilled, ""], timeout_s
        )
        git_ok(repo, ["remote", "set-url", "origin", str(remote)], timeout_s)
        mirrored.result()
    return ScratchRepo(clone, remote, drilled, whole_tree)


def _init_remote(live: git.Repo, remote: Path, branch: str, timeout_s: float) -> str:
    """The scratch remote made, while the clone is taken; the live commit to drill.

    The clone hard-links every object, so this commit is in it even if the branch moves on
    meanwhile (the repository lock keeps the bot's own operations away)."""
    drilled = git_ok(live, ["rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}"], timeout_s)
    git_ok(live, ["init", "--quiet", "--bare", "--template=", str(remote)], timeout_s)
    # Appended as sections of their own (git reads repeated sections as one): one write
    # instead of a `git config` process for each key. The keys and values are constants.
    settings = (*_SCRATCH_CONFIG, ("receive.autogc", "false"))
    with (remote / "config").open("a", encoding="utf-8") as config:
        for key, value in settings:
            section, name = key.split(".")
            config.write(f"[{section}]\n\t{name} = {value}\n")
    return drilled


def break_on_test_branch(*, scratch: ScratchRepo, timeout_s: float) -> str:
    """The procedure's step: the test branch, its intentional break committed and tagged."""
    repo, remote = git.Repo(scratch.clone), git.Repo(scratch.remote)
    # Independent commands (another file, or another repository) run side by side.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-break") as pool:
        asked = pool.submit(identity_config, repo, timeout_s)
        # The clone has no checkout yet: this one writes the tree, at the drilled commit.
        git_ok(repo, ["checkout", "--quiet", "-b", TEST_BRANCH, scratch.drilled], timeout_s)
        identity = asked.result()
    broken = next((name for name in BROKEN_FILES if (scratch.clone / name).is_file()), None)
    with (scratch.clone / (broken or FALLBACK_FILE)).open("a", encoding="utf-8") as out:
        out.write(BROKEN_LINE)
    if broken is None:
        git_ok(repo, ["add", "--", FALLBACK_FILE], timeout_s)
    # The procedure's `commit -am`, limited to the broken file.
    only = ["--", broken] if broken else []
    commit = ["commit", "--quiet", "--no-verify", "-m", "test: intentional break", *only]
    git_ok(repo, commit, timeout_s, config=identity)
    sha = git_ok(repo, ["rev-parse", "HEAD"], timeout_s)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-break") as pool:
        # On the remote too, as a broken commit that needs rolling back is; the remote already
        # sees the commit through its alternates, so the ref is all it needs.
        pushed = pool.submit(
            git_ok, remote, ["update-ref", f"refs/heads/{TEST_BRANCH}", sha, ""], timeout_s
        )
        git_ok(repo, ["tag", "--end-of-options", BROKEN_TAG, sha], timeout_s, config=identity)
        pushed.result()
    return sha


def check_out_clean(*, clone: Path, sha: str, timeout_s: float) -> bool:
    """The clone's tree at ``sha`` for judging it (a bisect's step), nothing an earlier commit
    built left over (build output, generated files). False when it cannot be checked out, or
    what was left cannot be cleaned: a commit that cannot be judged cleanly, which a bisect
    skips."""
    repo = git.Repo(clone)
    if not run_git(repo, ["checkout", "--quiet", "--force", "--detach", sha], timeout_s).ok:
        return False
    return run_git(repo, ["clean", "-ffdxq"], timeout_s).ok


def remote_url(*, source: Path, remote: str, timeout_s: float) -> str:
    """Where the live repository fetches ``remote`` from (``insteadOf`` applied), read from its
    config: no network."""
    asked = ["ls-remote", "--get-url", "--end-of-options", remote]
    return git_ok(git.Repo(source), asked, timeout_s)


def fetch_commit(*, clone: Path, url: str, ref: str, sha: str, timeout_s: float) -> bool:
    """``ref`` fetched from ``url`` into the scratch clone; whether ``sha`` is now in it (False:
    the remote moved on since ``sha`` was read). The URL reaches git through the environment,
    never the command line, since it may carry a credential."""
    require_ref_name(ref.removeprefix("refs/heads/"), what="branch name")
    repo = git.Repo(clone)
    env = {
        **NETWORK_ENV,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "remote.watched.url",
        "GIT_CONFIG_VALUE_0": url,
    }
    fetch = ["fetch", "--quiet", "--no-tags", "watched", f"+{ref}:refs/watched/head"]
    call = run_git(repo, fetch, timeout_s, env=env)
    if not call.ok:
        raise GitError(f"Could not fetch {ref.removeprefix('refs/heads/')}: {call.complaint()}")
    return run_git(repo, ["cat-file", "-e", f"{sha}^{{commit}}"], timeout_s).ok


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
    wanted = (f"refs/heads/{TEST_BRANCH}", f"refs/heads/{plan.backup_branch}")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-verify") as pool:
        listing = pool.submit(
            git_ok,
            remote,
            ["for-each-ref", "--format=%(refname) %(objectname)", *wanted],
            timeout_s,
        )
        status = git_ok(
            clone, ["status", "--porcelain=v2", "--branch", "--no-ahead-behind"], timeout_s
        ).splitlines()
        listed = listing.result()
    head = next((line.split()[2] for line in status if line.startswith("# branch.oid ")), "")
    dirty = [line for line in status if not line.startswith("#")]
    on_remote = dict(line.split(" ", 1) for line in listed.splitlines())
    pushed = on_remote.get(wanted[0], "")
    problems = [
        f"HEAD is {head[:7]}, not the target {plan.target_sha[:7]}"
        if head != plan.target_sha
        else "",
        f"the remote branch is {pushed[:7] or 'missing'}" if pushed != plan.target_sha else "",
        "the backup branch is not on the remote"
        if on_remote.get(wanted[1]) != plan.head_sha
        else "",
        "the working tree is not clean" if dirty else "",
    ]
    found = [problem for problem in problems if problem]
    if found:
        raise GitError(f"The drill's rollback did not hold: {'; '.join(found)}.")
    checked_out = (
        "" if scratch.whole_tree else " (a sparse clone: only the broken file checked out)"
    )
    return (
        f"verified at git level{checked_out}: {TEST_BRANCH} is back at {plan.target_sha[:7]} "
        f"here and on the scratch remote, and {plan.backup_branch} holds the break"
    )
