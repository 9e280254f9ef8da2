"""Scenario 3's target on a history like the procedure's: the commit before the email removal."""

from __future__ import annotations

import pytest
from git import Repo

from actions.errors import RefNameError
from actions.rollback_plan import find_commit_before_email_removal
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, git

pytestmark = pytest.mark.usefixtures("no_global_git_config")


def email_history(repo: PhaseRepo) -> dict[str, str]:
    """After "wire email module": a body-only mention, then the procedure's two removals."""
    repo.commit("docs/notes.md", "plan\n", "docs: new email module notes")
    (repo.work / "docs" / "notes.md").write_text("plan v2\n")
    # Only the body talks about the removal: this commit is not the removal itself.
    git(repo.work, "commit", "-q", "-a", "-m", "docs: notes", "-m", "email removal comes next")
    shas = {"parent": repo.head()}
    shas["first"] = repo.commit(
        "server/email-sender.ts", "", "stabilize(phase2): remove legacy email sender"
    )
    shas["second"] = repo.commit(
        "server/email-config.ts", "", "stabilize(phase2): remove old email config"
    )
    repo.commit("server/customers.ts", "x\n", "remove unused customer field")
    return shas


def test_find_commit_before_email_removal_returns_parent_of_first_removal(
    phase_repo: PhaseRepo,
) -> None:
    shas = email_history(phase_repo)

    found = find_commit_before_email_removal(repo=Repo(phase_repo.work), branch=BRANCH)

    assert found == (
        shas["parent"],
        f"{shas['first']} stabilize(phase2): remove legacy email sender",
    )


def test_find_commit_before_email_removal_after_base_takes_the_next(
    phase_repo: PhaseRepo,
) -> None:
    shas = email_history(phase_repo)

    found = find_commit_before_email_removal(
        repo=Repo(phase_repo.work), branch=BRANCH, base=shas["first"]
    )

    assert found == (
        shas["first"],
        f"{shas['second']} stabilize(phase2): remove old email config",
    )


@pytest.mark.parametrize(
    "subject",
    ["chore: Email templates CLEANUP", "Delete e-mail webhooks", "email: removal of inbox v1"],
)
def test_find_commit_before_email_removal_matches_other_wordings(
    phase_repo: PhaseRepo, subject: str
) -> None:
    parent = phase_repo.head()
    removal = phase_repo.commit("server/x.ts", "x\n", subject)

    found = find_commit_before_email_removal(repo=Repo(phase_repo.work), branch=BRANCH)

    assert found == (parent, f"{removal} {subject}")


def test_find_commit_before_email_removal_none_without_one(phase_repo: PhaseRepo) -> None:
    phase_repo.commit("server/a.ts", "", "remove unused customer field")
    phase_repo.commit("server/b.ts", "", "email: retry sends")

    assert find_commit_before_email_removal(repo=Repo(phase_repo.work), branch=BRANCH) is None


def test_find_commit_before_email_removal_option_like_base_refused(phase_repo: PhaseRepo) -> None:
    with pytest.raises(RefNameError):
        find_commit_before_email_removal(repo=Repo(phase_repo.work), branch=BRANCH, base="-p")
