"""The project's one exception tree.

Every operation that breaks (as opposed to a check that merely fails, which is data with
``ok=False``) raises one of these. The bot's error handler turns any of them into a clear
ephemeral message from ``user_message``; nothing else about the failure is shown to users.

    RollbackBotError
     ├── ConfigError        the config file or environment is unusable (start-up stops)
     ├── InputError         something a person typed is not valid (nothing was changed)
     ├── GitError           a git operation failed
     │    ├── RefNameError  a ref name from outside does not pass git's rules
     │    └── OutOfTime     an operation's time budget ran out before a step could start
     ├── DatabaseError      the database step (backup, down SQL, restore) could not be done
     └── StoreError         the store could not be read or written
          └── StoreBusyError  another writer held the database past the busy timeout
"""

from __future__ import annotations


class RollbackBotError(Exception):
    """Base of every error the project raises on purpose.

    ``user_message`` is safe to show in Slack or a terminal: it never carries a secret.
    """

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ConfigError(RollbackBotError):
    """The configuration cannot be used; the message names the key and what is expected."""


class InputError(RollbackBotError):
    """A person's input is not valid; ``valid_forms`` lists what would have been accepted."""

    def __init__(self, user_message: str, *, valid_forms: tuple[str, ...] = ()) -> None:
        super().__init__(user_message)
        self.valid_forms = valid_forms


class GitError(RollbackBotError):
    """A git operation failed; the repository is as it was unless the message says otherwise."""


class RefNameError(GitError):
    """A ref name (tag, branch, commit-ish) from outside was refused before it reached git."""


class OutOfTime(GitError):
    """The operation's time budget was spent before a step could start."""


class DatabaseError(RollbackBotError):
    """The database step could not be planned or done; the message says what was changed
    (nothing, unless it says otherwise) and never holds the URL or its password."""


class StoreError(RollbackBotError):
    """The store could not be read or written."""


class StoreBusyError(StoreError):
    """Another writer kept the database locked for longer than the busy timeout."""
