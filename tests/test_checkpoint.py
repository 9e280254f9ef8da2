"""create_checkpoint on real repositories with a real bare origin: success and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from git import Repo

import actions.checkpoint as checkpoint_module
from actions.checkpoint import CheckpointNames, create_checkpoint
from actions.checkpoint_precheck import precheck
from actions.errors import GitError, InputError
from tests.checkpointhelp import create, make_changes, names_for
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, clone_origin, git, git_try, install_hook, repo_state

pytestmark = pytest.mark.usefixtures("no_global_git_config")


# -- creating ------------------------------------------------------------------------------------


def test_create_checkpoint_with_changes_commits_them_and_pushes(phase_repo: PhaseRepo) -> None:
    remote_before = phase_repo.remote_head()
    make_changes(phase_repo)
    previous = phase_repo.head()
    names = names_for(8, "All backends wired and tested")

    result = create(phase_repo, names)

    work, origin, tag = phase_repo.work, phase_repo.origin, names.tag
    assert result.committed
    assert result.previous_head == previous
    assert sorted(result.committed_paths) == [
        "A notes/plan.md",
        "D server/routes.ts",
        "M server/email.ts",
    ]
    changed = git(work, "diff-tree", "-r", "--no-commit-id", "--name-status", result.commit)
    assert sorted(changed.split("\n")) == [
        "A\tnotes/plan.md",
        "D\tserver/routes.ts",
        "M\tserver/email.ts",
    ]
    assert "debug.log" not in git(work, "ls-tree", "-r", "--name-only", result.commit)
    assert git(work, "log", "-1", "--format=%P", result.commit) == previous
    assert git(work, "log", "-1", "--format=%B", result.commit) == (
        "stabilize(phase2): T+8h checkpoint - All backends wired and tested"
    )
    assert git(work, "log", "-1", "--format=%an <%ae>", result.commit) == (
        "rollback-bot <rollback-bot@localhost>"
    )
    # The bare origin, not only the local repo: branch moved, tag annotated and right.
    assert phase_repo.remote_head() == result.commit
    assert git(origin, "cat-file", "-t", f"refs/tags/{tag}") == "tag"
    assert git(origin, "rev-parse", f"refs/tags/{tag}^{{commit}}") == result.commit
    assert git(origin, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}") == (
        "Phase 2 Checkpoint: 8 hours"
    )
    assert git(origin, "rev-parse", f"refs/tags/{tag}") == git(
        work, "rev-parse", f"refs/tags/{tag}"
    )
    assert f"{remote_before[:7]}..{result.commit[:7]}" in result.push_summary
    assert result.push_summary.endswith(f"and tag {tag} to origin")
    # The working tree was only read: the ignored file is still there, nothing is left over.
    assert (work / "debug.log").read_text() == "noise\n"
    assert git(work, "status", "--porcelain") == ""


def test_create_checkpoint_clean_tree_tags_head_without_commit(phase_repo: PhaseRepo) -> None:
    head = phase_repo.head()
    names = names_for(8)

    result = create(phase_repo, names)

    assert not result.committed
    assert result.committed_paths == ()
    assert result.commit == head
    assert phase_repo.head() == head
    assert git(phase_repo.origin, "rev-parse", f"refs/tags/{names.tag}^{{commit}}") == head
    assert git(phase_repo.origin, "cat-file", "-t", f"refs/tags/{names.tag}") == "tag"
    assert "already up to date" in result.push_summary


def test_create_checkpoint_local_commits_are_pushed_with_it(phase_repo: PhaseRepo) -> None:
    local = phase_repo.commit("server/deals.ts", "export {}\n", "wire deals")

    result = create(phase_repo, names_for(8))

    assert not result.committed
    assert phase_repo.remote_head() == local
    assert f"..{local[:7]})" in result.push_summary


def test_create_checkpoint_uses_configured_identity(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "config", "user.name", "Dana Ops")
    git(phase_repo.work, "config", "user.email", "dana@example.com")
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 3\n")

    result = create(phase_repo, names_for(8))

    assert git(phase_repo.work, "log", "-1", "--format=%an <%ae>|%cn", result.commit) == (
        "Dana Ops <dana@example.com>|Dana Ops"
    )
    tagger = git(phase_repo.work, "for-each-ref", "--format=%(taggername)", "refs/tags/")
    assert "Dana Ops" in tagger.split("\n")


def test_create_checkpoint_complete_and_before_kinds(phase_repo: PhaseRepo) -> None:
    complete = create(phase_repo, names_for(24, "All modules operational", kind="complete"))
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 4\n")
    before = create(phase_repo, names_for(25, "removing email-config.ts", kind="before"))

    tags = git(phase_repo.origin, "tag", "--list").split("\n")
    assert "phase2-complete-T+24h" in tags
    assert before.names.tag in tags
    assert before.names.tag.startswith("checkpoint-2025112")
    assert git(phase_repo.work, "log", "-1", "--format=%s", before.commit) == (
        "stabilize(phase2): checkpoint before removing email-config.ts"
    )
    assert complete.commit == before.previous_head


# -- refusals: each leaves the repository and the remote exactly as they were -------------------


def assert_refused(repo: PhaseRepo, names: CheckpointNames, match: str, **kwargs: str) -> None:
    before = repo_state(repo)
    with pytest.raises(GitError, match=match) as caught:
        create(repo, names, **kwargs)
    assert repo_state(repo) == before
    assert "Nothing was changed" in caught.value.user_message


def test_create_checkpoint_existing_local_tag_refused(phase_repo: PhaseRepo) -> None:
    (phase_repo.work / "server" / "email.ts").write_text("dirty\n")
    assert_refused(phase_repo, names_for(4), "already exists here.*never moved or overwritten")


def test_create_checkpoint_tag_only_on_remote_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.origin, "tag", "-a", "phase2-checkpoint-T+8h", "-m", "theirs", BRANCH)
    (phase_repo.work / "server" / "email.ts").write_text("dirty\n")
    assert_refused(phase_repo, names_for(8), "already exists on origin")


def test_create_checkpoint_detached_head_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "checkout", "-q", "--detach")
    assert_refused(phase_repo, names_for(8), "HEAD is detached at")


def test_create_checkpoint_wrong_branch_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "checkout", "-q", "main")
    assert_refused(phase_repo, names_for(8), "on branch 'main', not 'feature/phase2")


def test_create_checkpoint_missing_remote_refused(phase_repo: PhaseRepo) -> None:
    assert_refused(phase_repo, names_for(8), "No remote named 'upstream'", remote="upstream")


def test_create_checkpoint_mid_merge_refused(phase_repo: PhaseRepo) -> None:
    work = phase_repo.work
    git(work, "checkout", "-q", "-b", "side", "HEAD~1")
    phase_repo.commit("server/email.ts", "export const email = 'side'\n", "side email")
    git(work, "checkout", "-q", BRANCH)
    phase_repo.commit("server/email.ts", "export const email = 'ours'\n", "our email")
    merge = git_try(work, "merge", "side")
    assert merge.returncode != 0
    assert "CONFLICT" in merge.stdout
    assert (work / ".git" / "MERGE_HEAD").exists()
    assert_refused(phase_repo, names_for(8), "merge is in progress")


def test_create_checkpoint_unresolved_conflict_without_merge_refused(
    phase_repo: PhaseRepo,
) -> None:
    work = phase_repo.work
    (work / "server" / "email.ts").write_text("export const email = 'stashed'\n")
    git(work, "stash")
    phase_repo.commit("server/email.ts", "export const email = 'committed'\n", "email")
    pop = git_try(work, "stash", "pop")
    assert pop.returncode != 0
    assert "CONFLICT" in pop.stdout
    assert_refused(phase_repo, names_for(8), "1 file\\(s\\) have unresolved conflicts")


def test_create_checkpoint_remote_ahead_refused(phase_repo: PhaseRepo, tmp_path: Path) -> None:
    other = clone_origin(phase_repo, tmp_path / "other")
    for n in range(2):
        (other / f"theirs{n}.ts").write_text("export {}\n")
        git(other, "add", "--", f"theirs{n}.ts")
        git(other, "commit", "-q", "-m", f"their work {n}")
    git(other, "push", "-q", "origin", BRANCH)
    (phase_repo.work / "server" / "email.ts").write_text("dirty\n")

    assert_refused(phase_repo, names_for(8), "origin has 2 commits on .* pull or rebase first")
    assert not (phase_repo.work / ".git" / "FETCH_HEAD").exists()


def test_create_checkpoint_unreachable_remote_refused_without_secret(
    phase_repo: PhaseRepo,
) -> None:
    git(phase_repo.work, "remote", "set-url", "origin", "http://ops:s3cret-pw@127.0.0.1:9/x.git")
    before = repo_state(phase_repo)
    with pytest.raises(GitError, match="Could not ask origin") as caught:
        create(phase_repo, names_for(8))
    assert "s3cret-pw" not in caught.value.user_message
    assert repo_state(phase_repo) == before


def test_create_checkpoint_push_refused_by_hook_undoes_everything(phase_repo: PhaseRepo) -> None:
    install_hook(phase_repo.origin, "pre-receive", "echo 'phase 2 is frozen' >&2\nexit 1\n")
    # Partly staged work: the index must come back holding version 5, the file version 6.
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 5\n")
    git(phase_repo.work, "add", "--", "server/email.ts")
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 6\n")
    (phase_repo.work / "notes.md").write_text("untracked work\n")
    before = repo_state(phase_repo)

    with pytest.raises(GitError) as caught:
        create(phase_repo, names_for(8, "will be refused"))

    message = caught.value.user_message
    assert "origin refused the push" in message
    assert "phase 2 is frozen" in message
    assert "Nothing was changed" in message
    after = repo_state(phase_repo)
    assert after == before  # HEAD, every ref (no tag), index bytes, files, origin
    assert after.files["server/email.ts"] == b"export const email = 6\n"
    staged = git(phase_repo.work, "show", ":server/email.ts")
    assert staged == "export const email = 5"
    assert after.files["notes.md"] == b"untracked work\n"
    assert git(phase_repo.work, "tag", "--list", "phase2-checkpoint-T+8h") == ""


def test_create_checkpoint_remote_moves_after_prechecks_undone(
    phase_repo: PhaseRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = clone_origin(phase_repo, tmp_path / "other")
    real_precheck = precheck

    def precheck_then_race(*args: Any, **kwargs: Any) -> str:
        head = real_precheck(*args, **kwargs)
        # Someone pushes between our pre-checks and our push.
        (other / "theirs.ts").write_text("export {}\n")
        git(other, "add", "--", "theirs.ts")
        git(other, "commit", "-q", "-m", "their work")
        git(other, "push", "-q", "origin", BRANCH)
        return head

    monkeypatch.setattr(checkpoint_module, "precheck", precheck_then_race)
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 10\n")
    before = repo_state(phase_repo)

    with pytest.raises(GitError, match="origin has commits you don't have") as caught:
        create(phase_repo, names_for(8))

    assert "Nothing was changed" in caught.value.user_message
    after = repo_state(phase_repo)
    assert (after.head, after.refs, after.index, after.files) == (
        before.head,
        before.refs,
        before.index,
        before.files,
    )
    assert phase_repo.remote_head() == git(other, "rev-parse", "HEAD")
    assert git(phase_repo.origin, "tag", "--list", "phase2-checkpoint-T+8h") == ""


def test_create_checkpoint_push_timeout_undone_and_says_unconfirmed(
    phase_repo: PhaseRepo,
) -> None:
    install_hook(phase_repo.origin, "pre-receive", "sleep 6\nexit 1\n")
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 11\n")
    before = repo_state(phase_repo)

    with pytest.raises(GitError, match="did not finish in time") as caught:
        create_checkpoint(
            repo=Repo(phase_repo.work),
            remote="origin",
            branch=BRANCH,
            names=names_for(8),
            timeout_s=2.0,
        )

    assert "could not be confirmed" in caught.value.user_message
    assert repo_state(phase_repo) == before


def test_create_checkpoint_hand_built_multiline_names_refused(phase_repo: PhaseRepo) -> None:
    good = names_for(8, "fine")
    bad = CheckpointNames(
        tag=good.tag,
        tag_message=good.tag_message,
        commit_message="stabilize(phase2): T+8h\n\nSigned-off-by: someone else",
        label=good.label,
    )
    before = repo_state(phase_repo)
    with pytest.raises(InputError, match="single line"):
        create(phase_repo, bad)
    assert repo_state(phase_repo) == before


def test_create_checkpoint_branch_missing_on_remote_is_created(phase_repo: PhaseRepo) -> None:
    git(phase_repo.origin, "update-ref", "-d", f"refs/heads/{BRANCH}")

    result = create(phase_repo, names_for(8))

    assert phase_repo.remote_head() == result.commit
    assert result.push_summary == (
        f"pushed {BRANCH} (new branch) and tag phase2-checkpoint-T+8h to origin"
    )
