"""The checks a checkpoint passes before anything is changed; each refusal says what to do.

Everything here only reads, with one exception: when the remote's branch head is a commit we do
not have, it is fetched (no ref written, not even FETCH_HEAD) just to count how far behind we are.
"""

from __future__ import annotations

import git

from actions.errors import GitError
from actions.git import require_no_operation
from actions.gitrun import NETWORK_ENV, Deadline, GitCall, git_ok, run_git

_NOTHING = "Nothing was changed."


def precheck(repo: git.Repo, *, remote: str, branch: str, tag: str, deadline: Deadline) -> str:
    """The commit HEAD is at, once every check has passed; GitError naming the first that fails."""
    _check_remote_configured(repo, remote, deadline)
    head = _check_on_branch(repo, branch, deadline)
    _check_no_operation(repo, deadline)
    _check_tag_absent_locally(repo, tag, deadline)
    remote_head = _check_remote(repo, remote, branch, tag, deadline)
    if remote_head is not None and remote_head != head:
        _check_remote_behind(repo, remote, branch, head, remote_head, deadline)
    return head


def _check_remote_configured(repo: git.Repo, remote: str, deadline: Deadline) -> None:
    configured = git_ok(repo, ["remote"], deadline.left("reading the remotes")).splitlines()
    if remote not in configured:
        known = ", ".join(configured) or "none"
        raise GitError(
            f"No remote named '{remote}' is configured in this repository (configured: {known}). "
            f"{_NOTHING} Add it with `git remote add` or fix the remote in the bot's config."
        )


def _check_on_branch(repo: git.Repo, branch: str, deadline: Deadline) -> str:
    head = run_git(
        repo,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD^{commit}"],
        deadline.left("reading HEAD"),
    )
    symbolic = run_git(
        repo, ["symbolic-ref", "--quiet", "HEAD"], deadline.left("reading the current branch")
    )
    if not symbolic.ok:
        at = f"at {head.out[:12]}" if head.ok else "with no commit"
        raise GitError(
            f"HEAD is detached {at}, not on {branch}. {_NOTHING} "
            f"Switch to {branch} in the working copy (`git switch {branch}`), then try again."
        )
    current = symbolic.out.removeprefix("refs/heads/")
    if symbolic.out != f"refs/heads/{branch}":
        raise GitError(
            f"The working copy is on branch '{current}', not '{branch}'. {_NOTHING} "
            f"Switch to {branch} (`git switch {branch}`), then try again."
        )
    if not head.ok:
        raise GitError(f"{branch} has no commits yet. {_NOTHING} Make a first commit by hand.")
    return head.out


def _check_no_operation(repo: git.Repo, deadline: Deadline) -> None:
    require_no_operation(repo, _NOTHING)
    unmerged = git_ok(repo, ["ls-files", "--unmerged", "-z"], deadline.left("reading the index"))
    if unmerged:
        paths = {entry.split("\t", 1)[-1] for entry in unmerged.split("\x00") if entry}
        raise GitError(
            f"{len(paths)} file(s) have unresolved conflicts. {_NOTHING} Resolve them "
            "(`git status` lists them), then try again."
        )


def _check_tag_absent_locally(repo: git.Repo, tag: str, deadline: Deadline) -> None:
    ref = f"refs/tags/{tag}"
    output = git_ok(
        repo,
        ["for-each-ref", "--format=%(refname)%00%(*objectname)%00%(objectname)", ref],
        deadline.left("looking for the tag"),
    )
    for line in output.splitlines():
        name, peeled, target = line.split("\x00")
        if name == ref:
            raise GitError(
                f"Checkpoint tag {tag} already exists here, pointing at {(peeled or target)[:12]}. "
                f"Checkpoints are never moved or overwritten. {_NOTHING} Use another label "
                "(e.g. a later T+Nh), or `/checkpoint list` to see the existing ones."
            )


def _check_remote(
    repo: git.Repo, remote: str, branch: str, tag: str, deadline: Deadline
) -> str | None:
    """The remote's branch head (None: it has no such branch); refuses if it has the tag."""
    branch_ref, tag_ref = f"refs/heads/{branch}", f"refs/tags/{tag}"
    call = run_git(
        repo,
        ["ls-remote", "--end-of-options", remote, branch_ref, tag_ref],
        deadline.left(f"asking {remote} for {branch}"),
        env=NETWORK_ENV,
    )
    if not call.ok:
        raise GitError(
            f"Could not ask {remote} about {branch}: {call.complaint()}. {_NOTHING} "
            f"Check that {remote} is reachable and the credentials work, then try again."
        )
    heads = dict(_ls_remote_lines(call))
    if tag_ref in heads:
        raise GitError(
            f"Checkpoint tag {tag} already exists on {remote} (pointing at {heads[tag_ref][:12]}) "
            f"but not here. Checkpoints are never moved or overwritten. {_NOTHING} Fetch it "
            f"(`git fetch {remote} tag {tag}`) and use another label."
        )
    return heads.get(branch_ref)


def _ls_remote_lines(call: GitCall) -> list[tuple[str, str]]:
    pairs = []
    for line in call.out.splitlines():
        sha, _, ref = line.partition("\t")
        pairs.append((ref, sha))
    return pairs


def _check_remote_behind(
    repo: git.Repo, remote: str, branch: str, head: str, remote_head: str, deadline: Deadline
) -> None:
    """Refuses unless the remote's head is an ancestor of ours (then the push fast-forwards)."""
    ancestor = run_git(
        repo,
        ["merge-base", "--is-ancestor", "--end-of-options", remote_head, head],
        deadline.left("comparing with the remote"),
    )
    if ancestor.ok:
        return
    if ancestor.status != 1:
        # We do not have that commit: fetch it (into no ref at all) so we can count.
        run_git(
            repo,
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--refmap=",
                "--no-auto-gc",
                "--no-recurse-submodules",
                "--end-of-options",
                remote,
                f"refs/heads/{branch}",
            ],
            deadline.left(f"fetching {branch} from {remote}"),
            env=NETWORK_ENV,
        )
    counted = run_git(
        repo,
        ["rev-list", "--count", "--end-of-options", remote_head, f"^{head}"],
        deadline.left("counting the remote's commits"),
    )
    how_many = (
        f"{counted.out} commit{'s' if counted.out != '1' else ''}"
        if counted.ok
        else f"commits (its head is {remote_head[:12]})"
    )
    raise GitError(
        f"{remote} has {how_many} on {branch} that you don't have; pull or rebase first, then "
        f"create the checkpoint again. {_NOTHING}"
    )
