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
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import git

from actions.errors import GitError
from actions.gitrun import DEFAULT_EMAIL, DEFAULT_NAME, NETWORK_ENV, git_ok, run_git
from actions.refs import require_ref_name
from actions.rollback_git import find_ref, resolve_ref
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
#: The intentional break is the bot's own commit, so it bears the bot's name, whoever runs it.
_BREAK_AUTHOR = ("-c", f"user.name={DEFAULT_NAME}", "-c", f"user.email={DEFAULT_EMAIL}")
#: For the scratch remote: no gc after a push, and no advertising the tips of the clone it
#: borrows objects from, which costs a git process per push (twice: the advertisement and the
#: connectivity check). Every push of the drill's is of commits the remote's own refs already
#: reach; were one not, git would send the objects, slower but as correct. The clone shares
#: the template and ignores both: nothing pushes to it, and it borrows from no one.
_SCRATCH_REMOTE_CONFIG = (("receive.autogc", "false"), ("core.alternateRefsCommand", "true"))
_CLONE_DIR, _REMOTE_DIR = "clone", "remote.git"


@dataclass(frozen=True)
class ScratchRepo:
    clone: Path
    remote: Path
    drilled: str  # the live commit the drill started from
    whole_tree: bool = True  # False: only the files the break touches are checked out
    branched_off: str | None = None  # the branch checked out at ``drilled``, if any
    #: GitPython's handle on the clone, made once: making one reads git's config files.
    clone_git: git.Repo = field(repr=False, compare=False, kw_only=True)

    @cached_property
    def remote_git(self) -> git.Repo:
        return git.Repo(self.remote)


def clone_for_drill(
    *,
    source: Path,
    branch: str,
    scratch: Path,
    timeout_s: float,
    whole_tree: bool = True,
    branch_off: str | None = None,
) -> ScratchRepo:
    """A local clone of ``branch`` in ``scratch``, its origin a scratch bare repository.

    The clone hard-links the live objects (copies them only across filesystems) and writes
    nothing in the live repository. Neither scratch repository runs hooks, the user's global
    ``core.hooksPath`` included: a drill starts nothing of the live repository's. The bare
    remote borrows the clone's objects through ``objects/info/alternates``, so setting it up
    costs no second clone and no push; the rollback's own pushes to it are real pushes.
    Without ``whole_tree`` (a drill verified at git level, with no scratch service to serve
    the files) the checkout is sparse: only the files the break touches, so a large tree costs
    the drill nothing it does not use. With ``branch_off``, that new branch is checked out at
    the cloned commit; without it nothing is checked out, and the caller checks out what it
    judges.
    """
    require_ref_name(branch, what="branch name")
    if branch_off is not None:
        require_ref_name(branch_off, what="branch name")
    live = git.Repo(source)
    # Absolute: the remote's alternates file names the clone's objects by path.
    remote, clone = scratch.resolve() / _REMOTE_DIR, scratch.resolve() / _CLONE_DIR
    template = _write_template(scratch.resolve() / "template", whole_tree)
    taking = [
        *("clone", "--quiet", f"--template={template}", "--no-checkout", "--local"),
        *("--single-branch", "--branch", branch, "--", str(source), str(clone)),
    ]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-remote") as pool:
        made = pool.submit(_init_remote, live, remote, template, timeout_s)
        git_ok(live, taking, timeout_s)
        made.result()
    repo = git.Repo(clone)
    # Read from the clone, not the live branch: exactly the commit that was cloned, even if
    # the live branch has moved on since.
    drilled = resolve_ref(repo, f"refs/heads/{branch}", timeout_s)
    _lend_objects(clone / ".git", remote)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-origin") as pool:
        # Side by side, on separate files: set-url writes only the config; the checkout
        # writes the index, HEAD and the new branch (--no-track: no config).
        repointed = pool.submit(
            git_ok, repo, ["remote", "set-url", "origin", str(remote)], timeout_s
        )
        if branch_off is not None:
            _branch_off(repo, branch_off, drilled, timeout_s)
        repointed.result()
    return ScratchRepo(clone, remote, drilled, whole_tree, branch_off, clone_git=repo)


def _branch_off(repo: git.Repo, name: str, sha: str, timeout_s: float) -> None:
    """``name`` made at ``sha`` and checked out; --no-track, so the config is never written
    (set-url may be writing it beside this)."""
    git_ok(repo, ["checkout", "--quiet", "--no-track", "-b", name, sha], timeout_s)


def _write_template(template: Path, whole_tree: bool) -> Path:
    """The template both scratch repositories start from: their config (constants only),
    and for a sparse clone its patterns, in place before git reads them. No sample hooks."""
    keys = [*_SCRATCH_CONFIG, *_SCRATCH_REMOTE_CONFIG]
    if not whole_tree:
        keys += [("core.sparseCheckout", "true"), ("core.sparseCheckoutCone", "false")]
    (template / "info").mkdir(parents=True, exist_ok=True)
    # Sections of their own for each key: git reads repeated sections as one.
    lines = "".join(f"[{k.split('.')[0]}]\n\t{k.split('.')[1]} = {v}\n" for k, v in keys)
    (template / "config").write_text(lines, encoding="utf-8")
    if not whole_tree:
        patterns = "".join(f"/{name}\n" for name in (*BROKEN_FILES, FALLBACK_FILE))
        (template / "info" / "sparse-checkout").write_text(patterns, encoding="utf-8")
    return template


def _lend_objects(clone_git_dir: Path, remote: Path) -> None:
    """The remote borrows the clone's objects."""
    (remote / "objects" / "info").mkdir(exist_ok=True)
    (remote / "objects" / "info" / "alternates").write_text(f"{clone_git_dir / 'objects'}\n")


def _init_remote(live: git.Repo, remote: Path, template: Path, timeout_s: float) -> None:
    """The scratch remote made, while the clone is taken."""
    git_ok(live, ["init", "--quiet", "--bare", f"--template={template}", str(remote)], timeout_s)


def break_on_test_branch(*, scratch: ScratchRepo, timeout_s: float) -> str:
    """The procedure's step: the test branch, its intentional break committed and tagged."""
    repo = scratch.clone_git
    if scratch.branched_off != TEST_BRANCH:
        _branch_off(repo, TEST_BRANCH, scratch.drilled, timeout_s)
    broken = next((name for name in BROKEN_FILES if (scratch.clone / name).is_file()), None)
    with (scratch.clone / (broken or FALLBACK_FILE)).open("a", encoding="utf-8") as out:
        out.write(BROKEN_LINE)
    # The procedure's `commit -am`; a repository without the file gets it added.
    if broken is None:
        git_ok(repo, ["add", "--", FALLBACK_FILE], timeout_s)
    # Unsigned whatever the user's commit.gpgSign says: a throwaway commit must not wait on a
    # passphrase prompt that nobody will see.
    commit = [
        *("commit", "--quiet", "--no-verify", "--no-gpg-sign", "--all"),
        *("-m", "test: intentional break"),
    ]
    git_ok(repo, commit, timeout_s, config=_BREAK_AUTHOR)
    sha = resolve_ref(repo, f"refs/heads/{TEST_BRANCH}", timeout_s)
    test_ref, tag_ref = f"refs/heads/{TEST_BRANCH}", f"refs/tags/{BROKEN_TAG}"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-break") as pool:
        # On the remote too, as a broken commit that needs rolling back is; the remote already
        # sees the commit through its alternates, so the ref is all it needs.
        pushed = pool.submit(
            lambda: git_ok(scratch.remote_git, ["update-ref", test_ref, sha, ""], timeout_s)
        )
        # A lightweight tag, as `git tag` makes one; "" : only if no such tag is there yet.
        git_ok(repo, ["update-ref", tag_ref, sha, ""], timeout_s)
        pushed.result()
    return sha


def remove_scratch(scratch: Path) -> None:
    """The scratch folder removed with all it holds, its two repositories side by side
    (removing files is mostly waiting on the disk). Never raises: what is left of a temporary
    folder must not turn a verdict into an error."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drill-cleanup") as pool:
        remote = pool.submit(shutil.rmtree, scratch / _REMOTE_DIR, ignore_errors=True)
        shutil.rmtree(scratch / _CLONE_DIR, ignore_errors=True)
        remote.result()
    shutil.rmtree(scratch, ignore_errors=True)


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
        repo=scratch.clone_git, branch=TEST_BRANCH, now=now, phase=phase, timeout_s=timeout_s
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
    status = git_ok(
        scratch.clone_git, ["status", "--porcelain=v2", "--branch", "--no-ahead-behind"], timeout_s
    ).splitlines()
    head = next((line.split()[2] for line in status if line.startswith("# branch.oid ")), "")
    dirty = [line for line in status if not line.startswith("#")]
    # The remote's refs, as its own receive-pack left them.
    pushed = find_ref(scratch.remote_git, f"refs/heads/{TEST_BRANCH}", timeout_s) or ""
    backup = find_ref(scratch.remote_git, f"refs/heads/{plan.backup_branch}", timeout_s)
    problems = [
        f"HEAD is {head[:7]}, not the target {plan.target_sha[:7]}"
        if head != plan.target_sha
        else "",
        f"the remote branch is {pushed[:7] or 'missing'}" if pushed != plan.target_sha else "",
        "the backup branch is not on the remote" if backup != plan.head_sha else "",
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
