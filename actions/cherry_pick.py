"""The procedure's "cherry-pick good commits back" after a rollback: the plan.

A plan names exact commits (full ids from the backup branch, oldest first), HEAD and the remote's
head, with a fingerprint over them. :mod:`actions.cherry_pick_apply` picks them one at a time with
`git cherry-pick -x`, whose "(cherry picked from commit …)" line is how a run repeated after a
crash recognises the picks already made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import git

from actions.errors import GitError, InputError, OutOfTime
from actions.git import require_no_operation
from actions.gitrun import (
    Deadline,
    git_ok,
    run_git,
)
from actions.refs import require_ref_name
from actions.rollback_git import (
    NOTHING,
    is_ancestor,
    local_ref,
    remote_branch_head,
    require_on_branch,
    result_within,
    short,
)

__all__ = [
    "CherryPickPlan",
    "CherryPickResult",
    "PickedCommit",
    "pick_fingerprint",
    "plan_cherry_pick",
]

MAX_PICKS = 50
# How far back on the backup branch (past the branch's HEAD) a pick may come from.
MAX_WALK = 10_000
# How far back on the branch an earlier pick (by its -x line) is looked for.
MAX_PICKED_SCAN = 1_000
_ID_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")
_PICKED_RE = re.compile(r"^\(cherry picked from commit ([0-9a-f]{40})\)$", re.MULTILINE)
_VALID = ("a commit id of 7 to 40 hex digits, of a commit on the backup branch",)
_SHOWN_PATHS = 10
_ORDER = ("rev-list", "--reverse", "--topo-order", f"--max-count={MAX_WALK}")
_FORMAT = "--format=%H%x00%P%x00%an <%ae>%x00%s"
_ABOUT = ("log", "--no-walk=unsorted", "--no-show-signature", _FORMAT)
_EARLIER = (f"--max-count={MAX_PICKED_SCAN}", "--fixed-strings", "--grep=(cherry picked from")


@dataclass(frozen=True)
class PickedCommit:
    sha: str  # full id on the backup branch
    author: str  # "Name <email>"
    subject: str


@dataclass(frozen=True)
class CherryPickPlan:
    branch: str
    remote: str
    head_sha: str  # branch HEAD when planned
    remote_head: str | None  # ls-remote answer when planned
    backup_branch: str
    backup_sha: str
    commits: tuple[PickedCommit, ...]  # in the order they will be applied: oldest first
    fingerprint: str


@dataclass(frozen=True)
class CherryPickResult:
    head_sha: str  # branch HEAD after the picks
    applied: tuple[tuple[str, str], ...]  # (source sha, new sha) per pick, in order
    already_applied: int  # how many were found done by an earlier (crashed) run


def pick_fingerprint(
    branch: str, head_sha: str, remote_head: str | None, backup_sha: str, commits: Sequence[str]
) -> str:
    """What an approval is bound to: any other HEAD, remote head, backup or pick changes it."""
    text = "\x00".join((branch, head_sha, remote_head or "", backup_sha, *commits))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_cherry_pick(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    backup_branch: str,
    commits: Sequence[str],
    timeout_s: float = 60.0,
) -> CherryPickPlan:
    """Which of ``commits`` (on ``backup_branch``) would be picked onto ``branch``, read-only."""
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    require_ref_name(backup_branch, what="backup branch name")
    if backup_branch == branch:
        raise InputError(f"The backup branch cannot be {branch} itself. {NOTHING}")
    ids = _check_ids(commits)
    deadline = Deadline(timeout_s)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cherry-pick-plan") as pool:
            asked = pool.submit(_ask_remote, repo, remote, branch, deadline)
            head = require_on_branch(repo, branch, deadline, NOTHING)
            require_no_operation(repo, NOTHING)
            require_clean_tree(repo, deadline)
            backup_sha = _backup_tip(repo, remote, backup_branch, deadline)
            picks = _resolve_picks(repo, ids, head, backup_sha, branch, backup_branch, deadline)
            remote_head = result_within(asked, deadline)
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {NOTHING} Try again.") from None
    shas = [pick.sha for pick in picks]
    return CherryPickPlan(
        branch=branch,
        remote=remote,
        head_sha=head,
        remote_head=remote_head,
        backup_branch=backup_branch,
        backup_sha=backup_sha,
        commits=picks,
        fingerprint=pick_fingerprint(branch, head, remote_head, backup_sha, shas),
    )


def _check_ids(commits: Sequence[str]) -> list[str]:
    """The ids, lower-cased, once each; InputError before any of them reaches git."""
    if isinstance(commits, str):
        commits = [commits]  # one id given bare, not a sequence of characters
    if not commits:
        raise InputError(f"No commits were named to pick. {NOTHING}", valid_forms=_VALID)
    if len(commits) > MAX_PICKS:
        many = f"{len(commits)} commits were named; at most {MAX_PICKS} are picked at once."
        raise InputError(f"{many} {NOTHING} Pick them in batches.", valid_forms=_VALID)
    ids: list[str] = []
    for given in commits:
        if not _ID_RE.match(given):
            raise InputError(
                f"{given[:60]!r} is not a commit id (7 to 40 hex digits). {NOTHING}",
                valid_forms=_VALID,
            )
        if given.lower() in ids:
            raise InputError(f"{given} is named twice. {NOTHING}", valid_forms=_VALID)
        ids.append(given.lower())
    return ids


def _ask_remote(repo: git.Repo, remote: str, branch: str, deadline: Deadline) -> str | None:
    try:
        return remote_branch_head(repo, remote, f"refs/heads/{branch}", deadline)
    except GitError as error:
        raise GitError(
            f"{error.user_message} {NOTHING} The picks are pushed with a lease on where "
            f"{remote} has {branch}; check that {remote} is reachable, then plan again."
        ) from None


def require_clean_tree(repo: git.Repo, deadline: Deadline) -> None:
    """GitError when tracked files have changes (staged or not). Untracked files may stay: a
    pick never takes them in, and git refuses to overwrite one."""
    paths = changed_tracked_paths(repo, deadline)
    if paths:
        raise GitError(
            f"The working copy has uncommitted changes ({listed_paths(paths)}); a cherry-pick "
            f"would mix them in. {NOTHING} Commit or stash them first (`git stash`), then "
            "try again."
        )


def changed_tracked_paths(repo: git.Repo, deadline: Deadline) -> list[str]:
    output = git_ok(
        repo,
        ["status", "--porcelain=v1", "-z", "--untracked-files=no"],
        deadline.left("reading uncommitted changes"),
        config=("--no-optional-locks",),  # only reading: the index must not be rewritten
    )
    entries, paths = iter(output.split("\x00")), []
    for entry in entries:
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":
                next(entries, None)  # -z puts a rename's source after its target
    return paths


def listed_paths(paths: Sequence[str]) -> str:
    more = f" and {len(paths) - _SHOWN_PATHS} more" if len(paths) > _SHOWN_PATHS else ""
    return ", ".join(paths[:_SHOWN_PATHS]) + more


def _backup_tip(repo: git.Repo, remote: str, backup: str, deadline: Deadline) -> str:
    """The local backup branch, else the remote-tracking one; never fetched here."""
    for ref in (f"refs/heads/{backup}", f"refs/remotes/{remote}/{backup}"):
        sha = local_ref(repo, ref, deadline)
        if sha is not None:
            return sha
    raise InputError(
        f"There is no backup branch {backup} here (nor {remote}/{backup}). {NOTHING} Name a "
        f"backup branch that exists, or fetch it first (`git fetch {remote} {backup}`).",
        valid_forms=("the backup branch a rollback created, e.g. phase2-broken-20251121-143000",),
    )


def _resolve_one(repo: git.Repo, given: str, deadline: Deadline) -> str:
    call = run_git(
        repo,
        ["rev-parse", "--verify", "--end-of-options", f"{given}^{{commit}}"],
        deadline.left(f"resolving {given}"),
    )
    # A branch or tag named like the id would win in git's lookup: only the id itself counts.
    if call.ok and call.out.startswith(given):
        return call.out
    if call.ok:
        why = "it is also the name of a branch or tag, at another commit"
    elif "ambiguous" in call.err:
        why = "more than one commit starts with it"
    else:
        why = "no such commit"
    raise InputError(
        f"{given} does not name exactly one commit here ({why}). {NOTHING} Give more hex "
        "digits, or a commit id from the backup branch.",
        valid_forms=_VALID,
    )


def _resolve_picks(
    repo: git.Repo,
    ids: list[str],
    head: str,
    backup_sha: str,
    branch: str,
    backup: str,
    deadline: Deadline,
) -> tuple[PickedCommit, ...]:
    named: dict[str, str] = {}
    for given in ids:
        sha = _resolve_one(repo, given, deadline)
        if sha in named:
            raise InputError(
                f"{named[sha]} and {given} are the same commit, named twice. {NOTHING}",
                valid_forms=_VALID,
            )
        named[sha] = given
    # The backup's commits that HEAD lacks, oldest first: the order the picks are applied in.
    listed = git_ok(
        repo, [*_ORDER, "--end-of-options", backup_sha, f"^{head}"], deadline.left("listing")
    ).split()
    order = {sha: index for index, sha in enumerate(listed)}
    for sha, given in named.items():
        if sha in order:
            continue
        if is_ancestor(repo, sha, head, deadline):
            why = f"it is already on {branch}"
        elif is_ancestor(repo, sha, backup_sha, deadline):
            why = f"it is more than {MAX_WALK} commits back on {backup}"
        else:
            why = f"it is not on {backup}"
        raise InputError(
            f"{given} cannot be picked: {why}. {NOTHING} Pick from the commits on {backup} "
            f"that {branch} lacks (`git log {branch}..{backup}`).",
            valid_forms=_VALID,
        )
    about = git_ok(repo, [*_ABOUT, "--end-of-options", *named], deadline.left("reading commits"))
    picks = []
    for line in about.splitlines():
        sha, parents, author, subject = line.split("\x00")
        if len(parents.split()) != 1:
            raise InputError(
                f"{named[sha]} is a merge commit (or has no parent), which is not picked. "
                f"{NOTHING} Pick the commits it merged instead.",
                valid_forms=_VALID,
            )
        picks.append(PickedCommit(sha=sha, author=author, subject=subject))
    earlier = _picked_before(repo, head, backup_sha, deadline)
    for pick in picks:
        if pick.sha in earlier:
            raise InputError(
                f"{named[pick.sha]} was already picked onto {branch} (as "
                f"{short(earlier[pick.sha])}). {NOTHING} Leave it out.",
                valid_forms=_VALID,
            )
    return tuple(sorted(picks, key=lambda pick: order[pick.sha]))


def _picked_before(
    repo: git.Repo, head: str, backup_sha: str, deadline: Deadline
) -> dict[str, str]:
    """{source: pick} for the -x picks on HEAD since it parted from the backup branch."""
    found = log_picks(
        repo,
        [*_EARLIER, "--end-of-options", head, f"^{backup_sha}"],
        deadline.left("earlier picks"),
    )
    return {source: sha for sha, _, source in reversed(found) if source}


def log_picks(
    repo: git.Repo, args: list[str], timeout_s: float
) -> list[tuple[str, list[str], str | None]]:
    """(commit, parents, the commit it says it was picked from) for each commit git log lists.

    The source is the message's last ``(cherry picked from commit …)`` line: picking a pick
    with -x adds one more line after the first one.
    """
    output = git_ok(repo, ["log", "-z", "--format=%H%n%P%n%B", *args], timeout_s)
    found = []
    for record in filter(None, output.split("\x00")):
        sha, _, rest = record.partition("\n")
        parents, _, body = rest.partition("\n")
        sources = _PICKED_RE.findall(body)
        found.append((sha, parents.split(), sources[-1] if sources else None))
    return found
