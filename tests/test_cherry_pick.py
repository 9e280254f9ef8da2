"""Cherry-picking good commits back after a real rollback, on a working copy and its bare origin.

The scene: the phase branch had commits A, B, C after its checkpoint; a rollback put them (and
a snapshot of uncommitted work) on the backup branch and reset the branch to the checkpoint,
where a hotfix then changed the file B changes. Picking A and C is clean; B conflicts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from git import Repo

from actions.cherry_pick import (
    CherryPickPlan,
    PickedCommit,
    pick_fingerprint,
    plan_cherry_pick,
)
from actions.cherry_pick_apply import apply_cherry_pick
from actions.errors import GitError, InputError, RefNameError
from actions.gitrun import GitCall, run_git
from actions.rollback_push import push_with_lease
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import (
    BRANCH,
    IDENTITY,
    PhaseRepo,
    clone_origin,
    commit_as,
    git,
    git_try,
    push_from,
    repo_state,
)
from tests.rollbackhelp import BACKUP, backup_and_reset, lease, plan

pytestmark = pytest.mark.usefixtures("no_global_git_config")
OTHER = "Other Dev <other@example.com>"
HOTFIX = "export const customers = ['hotfix']\n"


@dataclass(frozen=True)
class Scene:
    repo: PhaseRepo
    checkpoint: str
    email: str  # "wire email module", discarded by the rollback too
    a: str
    b: str  # conflicts with the hotfix
    c: str
    snapshot: str  # the backup branch's tip: uncommitted work on top of C
    hotfix: str  # the branch's HEAD (and origin's) after the rollback


@pytest.fixture
def scene(phase_repo: PhaseRepo) -> Scene:
    repo = phase_repo
    email = repo.head()
    a = commit_as(repo, OTHER, "server/audit.ts", "export const audit = 1\n", "add audit log")
    b = repo.commit("server/customers.ts", "export const customers = ['b']\n", "seed customers")
    c = repo.commit("server/deals.ts", "export const deals = []\n", "wire deals")
    git(repo.work, "push", "-q", "origin", BRANCH)
    (repo.work / "server" / "deals.ts").write_text("export const deals = [1]\n")
    (repo.work / "notes").mkdir()
    (repo.work / "notes" / "todo.md").write_text("untracked notes\n")
    planned = plan(repo)
    snapshot = backup_and_reset(repo, planned)
    lease(repo, planned)
    hotfix = repo.commit("server/customers.ts", HOTFIX, "hotfix customers")
    git(repo.work, "push", "-q", "origin", BRANCH)
    return Scene(repo, planned.target_sha, email, a, b, c, snapshot, hotfix)


def pick_plan(scene: Scene, *commits: str, backup: str = BACKUP) -> CherryPickPlan:
    return plan_cherry_pick(
        repo=Repo(scene.repo.work),
        remote="origin",
        branch=BRANCH,
        backup_branch=backup,
        commits=list(commits),
        timeout_s=30.0,
    )


def apply(scene: Scene, planned: CherryPickPlan) -> object:
    return apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned, timeout_s=30.0)


def picked_from(work: Path, rev: str) -> str:
    return git(work, "log", "-1", "--format=%B", rev).splitlines()[-1]


def tracked_changes(work: Path) -> str:
    return git(work, "status", "--porcelain", "--untracked-files=no")


def colliding_commits(work: Path) -> tuple[str, str]:
    """Two real commit objects whose ids share their first 7 hex digits."""
    tree = git(work, "rev-parse", "HEAD^{tree}")
    seen: dict[str, bytes] = {}
    n = 0
    while True:
        body = (
            f"tree {tree}\nauthor A <a@example.com> 1700000000 +0000\n"
            f"committer A <a@example.com> 1700000000 +0000\n\nfiller {n}\n"
        ).encode()
        sha = hashlib.sha1(b"commit %d\x00" % len(body) + body, usedforsecurity=False)
        prefix = sha.hexdigest()[:7]
        if prefix in seen:
            break
        seen[prefix] = body
        n += 1
    env = {**os.environ, **IDENTITY}
    made = [
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
            cwd=work,
            env=env,
            input=data,
            capture_output=True,
            check=True,
            timeout=30,
        )
        .stdout.decode()
        .strip()
        for data in (seen[prefix], body)
    ]
    return made[0], made[1]


# -- planning ------------------------------------------------------------------------------------


def test_plan_cherry_pick_orders_picks_oldest_first(scene: Scene) -> None:
    planned = pick_plan(scene, scene.c, scene.a[:7].upper(), scene.email[:10])

    assert [pick.sha for pick in planned.commits] == [scene.email, scene.a, scene.c]
    assert planned.commits[1] == PickedCommit(scene.a, OTHER, "add audit log")
    assert planned.head_sha == scene.hotfix
    assert planned.remote_head == scene.repo.remote_head() == scene.hotfix
    assert planned.backup_sha == scene.snapshot
    assert planned.fingerprint == pick_fingerprint(
        BRANCH, scene.hotfix, scene.hotfix, scene.snapshot, [scene.email, scene.a, scene.c]
    )


def test_plan_cherry_pick_untracked_files_do_not_count_as_changes(scene: Scene) -> None:
    before = repo_state(scene.repo)

    planned = pick_plan(scene, scene.a)

    assert [pick.sha for pick in planned.commits] == [scene.a]
    assert (scene.repo.work / "notes" / "todo.md").read_text() == "untracked notes\n"
    assert repo_state(scene.repo) == before  # planning only reads


def test_plan_cherry_pick_backup_only_on_origin_uses_remote_tracking_ref(scene: Scene) -> None:
    git(scene.repo.work, "branch", "-q", "-D", BACKUP)
    assert git(scene.repo.work, "rev-parse", f"origin/{BACKUP}") == scene.snapshot

    planned = pick_plan(scene, scene.a)

    assert planned.backup_sha == scene.snapshot


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ("--upload-pack=touch x", "is not a commit id"),
        ("not-hex-at-all", "is not a commit id"),
        ("abc123", "is not a commit id"),  # 6 digits
        ("a" * 41, "is not a commit id"),
        ("deadbeefdeadbeef", "does not name exactly one commit"),
    ],
)
def test_plan_cherry_pick_bad_commit_id_refused(scene: Scene, given: str, match: str) -> None:
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match=match) as caught:
        pick_plan(scene, scene.a, given)

    assert "Nothing was changed." in caught.value.user_message
    assert caught.value.valid_forms
    assert repo_state(scene.repo) == before
    assert not (scene.repo.work / "x").exists()


def test_plan_cherry_pick_ambiguous_prefix_refused(scene: Scene) -> None:
    first, second = colliding_commits(scene.repo.work)
    assert first[:7] == second[:7] and first != second
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match="more than one commit starts with it"):
        pick_plan(scene, first[:7])

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_ref_named_like_the_id_is_not_taken_for_it(scene: Scene) -> None:
    # A branch named like A's prefix points at B: git would resolve the branch, not the id.
    git(scene.repo.work, "branch", "-q", scene.a[:7], scene.b)

    planned = pick_plan(scene, scene.a)
    with pytest.raises(InputError, match="also the name of a branch or tag"):
        pick_plan(scene, scene.a[:7])

    assert [pick.sha for pick in planned.commits] == [scene.a]


def test_plan_cherry_pick_commit_not_on_backup_refused(scene: Scene) -> None:
    stray = git(scene.repo.work, "commit-tree", "-p", "HEAD", "-m", "stray", "HEAD^{tree}")
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match=f"it is not on {BACKUP}") as caught:
        pick_plan(scene, scene.a, stray)

    assert "Nothing was changed." in caught.value.user_message
    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_commit_already_on_branch_refused(scene: Scene) -> None:
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match=f"it is already on {BRANCH}"):
        pick_plan(scene, scene.checkpoint)

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_commit_picked_before_refused(scene: Scene) -> None:
    done = apply_cherry_pick(repo=Repo(scene.repo.work), plan=pick_plan(scene, scene.a))
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match=f"already picked onto {BRANCH} \\(as {done.head_sha[:7]}"):
        pick_plan(scene, scene.c, scene.a)

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_merge_commit_refused(scene: Scene) -> None:
    merge = git(
        scene.repo.work, "commit-tree", "-p", scene.snapshot, "-p", scene.a, "-m", "merge",
        f"{scene.snapshot}^{{tree}}",
    )  # fmt: skip
    git(scene.repo.work, "update-ref", f"refs/heads/{BACKUP}", merge)
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match="is a merge commit"):
        pick_plan(scene, merge)

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_same_commit_twice_refused(scene: Scene) -> None:
    with pytest.raises(InputError, match="named twice"):
        pick_plan(scene, scene.a, scene.a.upper())
    with pytest.raises(InputError, match="are the same commit"):
        pick_plan(scene, scene.a[:8], scene.a)


@pytest.mark.parametrize(("count", "match"), [(0, "No commits"), (51, "at most 50")])
def test_plan_cherry_pick_commit_count_out_of_range_refused(
    scene: Scene, count: int, match: str
) -> None:
    before = repo_state(scene.repo)

    with pytest.raises(InputError, match=match):
        pick_plan(scene, *[f"{n:07x}" for n in range(count)])

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_backup_branch_missing_refused(scene: Scene) -> None:
    with pytest.raises(InputError, match="no backup branch phase2-broken-20990101-000000 here"):
        pick_plan(scene, scene.a, backup="phase2-broken-20990101-000000")


@pytest.mark.parametrize(
    ("switch", "match"), [(("--detach",), "HEAD is detached"), (("main",), "is on 'main'")]
)
def test_plan_cherry_pick_head_not_on_branch_refused(
    scene: Scene, switch: tuple[str, ...], match: str
) -> None:
    git(scene.repo.work, "switch", "-q", *switch)
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match=match):
        pick_plan(scene, scene.a)

    assert repo_state(scene.repo) == before


def test_plan_cherry_pick_operation_in_progress_refused(scene: Scene) -> None:
    assert git_try(scene.repo.work, "cherry-pick", scene.b).returncode != 0
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="A cherry-pick is in progress") as caught:
        pick_plan(scene, scene.a)

    assert "git cherry-pick --abort" in caught.value.user_message
    assert repo_state(scene.repo) == before


@pytest.mark.parametrize("staged", [False, True])
def test_plan_cherry_pick_uncommitted_changes_refused(scene: Scene, staged: bool) -> None:
    (scene.repo.work / "server" / "routes.ts").write_text("edited\n")
    if staged:
        git(scene.repo.work, "add", "--", "server/routes.ts")
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match=r"server/routes\.ts") as caught:
        pick_plan(scene, scene.a)

    assert "Commit or stash them first" in caught.value.user_message
    assert "Nothing was changed." in caught.value.user_message
    assert repo_state(scene.repo) == before


# -- applying ------------------------------------------------------------------------------------


def test_apply_cherry_pick_picks_in_order_with_x_trailers(scene: Scene) -> None:
    work = scene.repo.work
    planned = pick_plan(scene, scene.c, scene.a)

    result = apply_cherry_pick(repo=Repo(work), plan=planned)

    assert result.head_sha == scene.repo.head()
    assert result.already_applied == 0
    assert [source for source, _ in result.applied] == [scene.a, scene.c]
    first, second = (new for _, new in result.applied)
    assert git(work, "rev-parse", f"{second}^", f"{first}^") == f"{first}\n{scene.hotfix}"
    assert picked_from(work, first) == f"(cherry picked from commit {scene.a})"
    assert picked_from(work, second) == f"(cherry picked from commit {scene.c})"
    assert git(work, "log", "-1", "--format=%an <%ae>", first) == OTHER  # author kept
    assert (work / "server" / "audit.ts").read_text() == "export const audit = 1\n"
    assert (work / "server" / "deals.ts").read_text() == "export const deals = []\n"
    assert (work / "server" / "customers.ts").read_text() == HOTFIX
    assert tracked_changes(work) == ""
    assert scene.repo.remote_head() == scene.hotfix  # nothing pushed


def test_apply_cherry_pick_without_identity_commits_as_the_bot(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a)

    result = apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)

    committer = git(scene.repo.work, "log", "-1", "--format=%cn <%ce>", result.head_sha)
    assert committer == "rollback-bot <rollback-bot@localhost>"


def test_apply_cherry_pick_conflict_stops_at_last_good_pick(scene: Scene) -> None:
    work = scene.repo.work
    planned = pick_plan(scene, scene.a, scene.b, scene.c)

    with pytest.raises(GitError, match=r"conflicts with .* in server/customers\.ts") as caught:
        apply(scene, planned)

    message = caught.value.user_message
    assert scene.b[:7] in message and "seed customers" in message
    assert "1 of 3 picks applied" in message
    assert f"still on {BACKUP}" in message
    assert git(work, "rev-parse", "HEAD^") == scene.hotfix
    assert picked_from(work, "HEAD") == f"(cherry picked from commit {scene.a})"
    assert not (work / ".git" / "CHERRY_PICK_HEAD").exists()
    assert tracked_changes(work) == ""
    assert (work / "server" / "customers.ts").read_text() == HOTFIX
    assert not (work / "server" / "deals.ts").exists()  # C was not picked past the conflict


def test_apply_cherry_pick_changes_already_there_stops_cleanly(scene: Scene) -> None:
    work = scene.repo.work
    head = scene.repo.commit("server/audit.ts", "export const audit = 1\n", "audit, again")
    planned = pick_plan(scene, scene.a, scene.c)

    with pytest.raises(GitError, match=r"already on .* \(the pick would be empty\)") as caught:
        apply(scene, planned)

    assert "0 of 2 picks applied" in caught.value.user_message
    assert scene.repo.head() == head
    assert not (work / ".git" / "CHERRY_PICK_HEAD").exists()
    assert tracked_changes(work) == ""


def test_apply_cherry_pick_untracked_file_in_the_way_stops_cleanly(scene: Scene) -> None:
    planned = pick_plan(scene, scene.snapshot)  # adds notes/todo.md, which is here untracked

    with pytest.raises(GitError, match=r"would overwrite untracked files here \(notes/todo\.md\)"):
        apply(scene, planned)

    assert scene.repo.head() == scene.hotfix
    assert (scene.repo.work / "notes" / "todo.md").read_text() == "untracked notes\n"
    assert tracked_changes(scene.repo.work) == ""


def test_apply_cherry_pick_abort_that_fails_says_the_pick_is_in_progress(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = pick_plan(scene, scene.a, scene.b)

    def abort_fails(repo: Repo, args: list[str], timeout_s: float, **kw: Any) -> GitCall:
        if list(args) == ["cherry-pick", "--abort"]:
            return GitCall(status=128, out="", err="fatal: simulated abort failure")
        return run_git(repo, args, timeout_s, **kw)

    monkeypatch.setattr("actions.cherry_pick_apply.run_git", abort_fails)

    with pytest.raises(GitError, match=r"could not be undone cleanly \(fatal: simulated") as e:
        apply(scene, planned)

    assert "run `git cherry-pick --abort` by hand" in e.value.user_message
    assert "1 of 2 picks were applied" in e.value.user_message
    assert (scene.repo.work / ".git" / "CHERRY_PICK_HEAD").exists()  # told, not hidden


def test_apply_cherry_pick_after_crash_resumes_with_the_rest(scene: Scene) -> None:
    work = scene.repo.work
    planned = pick_plan(scene, scene.a, scene.c)
    git(work, "cherry-pick", "-x", scene.a)  # the first pick, made before a crash
    by_hand = scene.repo.head()

    result = apply_cherry_pick(repo=Repo(work), plan=planned)

    assert result.already_applied == 1
    assert result.applied[0] == (scene.a, by_hand)
    assert result.applied[1][0] == scene.c
    assert git(work, "rev-parse", "HEAD^") == by_hand
    assert result.head_sha == scene.repo.head()
    assert picked_from(work, "HEAD") == f"(cherry picked from commit {scene.c})"


def test_apply_cherry_pick_repeated_after_success_changes_nothing(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    first = apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)
    state = repo_state(scene.repo)
    reflog = git(scene.repo.work, "reflog", "--format=%H %gs", BRANCH)

    again = apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)

    assert again.head_sha == first.head_sha
    assert again.applied == first.applied
    assert (first.already_applied, again.already_applied) == (0, 2)
    assert repo_state(scene.repo) == state
    assert git(scene.repo.work, "reflog", "--format=%H %gs", BRANCH) == reflog


def test_apply_cherry_pick_head_moved_by_unrelated_commit_refused(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    scene.repo.commit("server/late.ts", "late\n", "unrelated commit")
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="HEAD moved since the plan") as caught:
        apply(scene, planned)

    assert "Nothing was changed. Plan again." in caught.value.user_message
    assert repo_state(scene.repo) == before


def test_apply_cherry_pick_commit_on_top_of_all_picks_refused(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)
    scene.repo.commit("server/late.ts", "late\n", "committed after the picks")
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="HEAD moved since the plan"):
        apply(scene, planned)

    assert repo_state(scene.repo) == before


def test_apply_cherry_pick_head_on_picks_out_of_order_refused(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    git(scene.repo.work, "cherry-pick", "-x", scene.c)  # not the plan's first commit
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="HEAD moved since the plan"):
        apply(scene, planned)

    assert repo_state(scene.repo) == before


def test_apply_cherry_pick_uncommitted_changes_refused(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a)
    (scene.repo.work / "server" / "routes.ts").write_text("edited\n")
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="Commit or stash them first"):
        apply(scene, planned)

    assert repo_state(scene.repo) == before


def test_apply_cherry_pick_tampered_plan_refused(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a)
    other = dataclasses.replace(planned, commits=(PickedCommit(scene.c, OTHER, "wire deals"),))
    option = dataclasses.replace(
        planned, commits=(PickedCommit("--upload-pack=touch x", OTHER, "x"),)
    )
    before = repo_state(scene.repo)

    with pytest.raises(GitError, match="does not match its own fingerprint"):
        apply(scene, other)
    with pytest.raises(RefNameError, match="not a full commit id"):
        apply(scene, option)

    assert repo_state(scene.repo) == before
    assert not (scene.repo.work / "x").exists()


# -- pushing the result --------------------------------------------------------------------------


def test_apply_cherry_pick_then_push_with_lease_lands_on_origin(scene: Scene) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    result = apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)

    summary = push_with_lease(
        repo=Repo(scene.repo.work),
        remote="origin",
        branch=BRANCH,
        target_sha=result.head_sha,
        expected_remote_sha=planned.remote_head,
    )

    assert scene.repo.remote_head() == result.head_sha
    assert summary == f"origin now has {BRANCH} at {result.head_sha[:7]} too"
    assert git(scene.repo.origin, "rev-parse", BACKUP) == scene.snapshot  # backup untouched


def test_apply_cherry_pick_then_push_refused_when_origin_moved(
    scene: Scene, tmp_path: Path
) -> None:
    planned = pick_plan(scene, scene.a, scene.c)
    other = clone_origin(scene.repo, tmp_path / "other")
    theirs = push_from(other, "server/other.ts", "1\n", "pushed behind the bot's back")
    result = apply_cherry_pick(repo=Repo(scene.repo.work), plan=planned)

    with pytest.raises(GitError, match="origin moved since the plan") as caught:
        push_with_lease(
            repo=Repo(scene.repo.work),
            remote="origin",
            branch=BRANCH,
            target_sha=result.head_sha,
            expected_remote_sha=planned.remote_head,
        )

    assert "nothing was overwritten" in caught.value.user_message
    assert scene.repo.remote_head() == theirs
    assert scene.repo.head() == result.head_sha
