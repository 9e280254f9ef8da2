"""The `rollback-bot demo` sandbox: a repo with a Phase 2 history, its bare origin, a config.

Everything lives under one root directory and nothing outside it is touched::

    root/origin.git           bare "remote", all branches and tags pushed
    root/app/                 working copy on feature/phase2-module-integration (the service's DIR)
    root/rollback-bot.toml    SPEC section 5 config pointing at the two above
    root/rollback-bot.db      the store (created later by the bot)

The history follows the procedure's git strategy: main -> phase1 branch -> phase2 branch with the
T+4h and T+8h checkpoint tags, then, after T+8h, the commits that break things: a phase2 schema
migration, the removal of the old email system (scenario 3: email routes answer 500) and a slow
customer search (scenario 4). ``git reset --hard phase2-checkpoint-T+8h`` plus a restart fixes both.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from bot.local.demo.control import HOST, LOG_RELPATH

PROJECT = "autolytiq"
PHASE = "phase2"
MAIN_BRANCH = "main"
PHASE1_BRANCH = "feature/phase1-foundation-migration"
PHASE_BRANCH = "feature/phase2-module-integration"
TAG_T4 = "phase2-checkpoint-T+4h"
TAG_T8 = "phase2-checkpoint-T+8h"
PHASE_HOURS_SO_FAR = 10  # the sandbox's "now" is T+10h into the phase
ORCHESTRATOR = "U0ORCH"
CHANNEL = "C0INCIDENTS"
SERVICE_SCRIPT = Path(__file__).resolve().with_name("service.py")
GIT_TIMEOUT_S = 30
SERVICE_TIMEOUT_S = 15.0


class SandboxError(Exception):
    """Building or driving the sandbox failed; the message says what and why."""


@dataclass(frozen=True)
class Sandbox:
    root: Path
    repo: Path
    origin: Path
    config_path: Path
    log_file: Path
    store_path: Path
    service_port: int
    base_url: str


@dataclass(frozen=True)
class _Author:
    name: str
    email: str


DANA = _Author("Dana Ortiz", "dana@autolytiq.example")  # tech lead, takes the checkpoints
SAM = _Author("Sam Lee", "sam@autolytiq.example")
PRIYA = _Author("Priya Raman", "priya@autolytiq.example")
OPERATOR = _Author("Demo Engineer", "demo@autolytiq.example")  # the repo's local identity


@dataclass(frozen=True)
class _Step:
    """One commit, `hours` after the phase start (negative: before it)."""

    hours: float
    author: _Author
    message: str
    write: Mapping[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    branch: str | None = None  # create and switch to this branch first
    tag: tuple[str, str] | None = None  # annotated tag (name, message) on the commit


_ROUTES_V1 = (
    'import { sendLegacy } from "./email/legacy-sender";\n'
    'export const routes = ["/api/customers", "/api/email/messages", "/api/email/send"];\n'
)
_ROUTES_V2 = _ROUTES_V1.replace('"/api/email/send"]', '"/api/email/send", "/api/deals"]')
_STATUS = "# Migration status\n\n- Phase 1: foundation migration complete\n"

_HISTORY: tuple[_Step, ...] = (
    _Step(-62, DANA, "chore: initial Autolytiq app skeleton", {
        ".gitignore": "logs/\n.demo-service.pid\nnode_modules/\n",
        "package.json": '{\n  "name": "autolytiq",\n  "private": true,\n  "scripts": {\n'
        '    "dev": "tsx server/index.ts",\n    "validate:phase2": "tsx scripts/validate.ts"\n'
        "  }\n}\n",
        "README.md": "# Autolytiq\n\nDealer CRM. `npm run dev` serves the API and the client.\n",
        "server/index.ts": 'import { routes } from "./routes";\nconsole.log("serving", routes);\n',
        "server/routes.ts": _ROUTES_V1,
        "server/email-config.ts": 'export const emailConfig = { transport: "smtp", port: 587 };\n',
        "server/email/legacy-sender.ts": 'import { emailConfig } from "../email-config";\n'
        "export function sendLegacy(to: string) { return { to, via: emailConfig.transport }; }\n",
        "client/src/pages/inbox.tsx":
        "export default function Inbox() { return <h1>Inbox</h1>; }\n",
        "migrations/0001_init.sql": "CREATE TABLE customers (id serial PRIMARY KEY, name text);\n"
        "CREATE TABLE deals (id serial PRIMARY KEY, title text, amount numeric);\n"
        "CREATE TABLE email_messages (id serial PRIMARY KEY, subject text, body text);\n",
    }),
    _Step(-40, SAM, "feat(phase1): shared database client and module registry", {
        "server/db.ts": 'import { drizzle } from "drizzle-orm/node-postgres";\n'
        "export const db = drizzle(process.env.DATABASE_URL!);\n",
        "server/modules/registry.ts": "export const modules: string[] = [];\n",
    }, branch=PHASE1_BRANCH),
    _Step(-20, DANA, "stabilize(phase1): foundation migration complete", {
        "migrations/0002_module_registry.sql": "CREATE TABLE modules (name text PRIMARY KEY);\n",
        "docs/migration-status.md": _STATUS,
    }),
    _Step(0.5, SAM, "feat(phase2): wire customer module to shared db client", {
        "server/modules/customers.ts": 'import { db } from "../db";\n'
        'export const listCustomers = () => db.execute("SELECT * FROM customers");\n',
    }, branch=PHASE_BRANCH),
    _Step(2, PRIYA, "feat(phase2): customer search validation and index", {
        "migrations/phase2_0001_customer_search_index.sql":
        "CREATE INDEX customers_name_idx ON customers (lower(name));\n",
    }),
    _Step(3, PRIYA, "test(phase2): email module send/list integration tests", {
        "server/email/email-module.ts": 'import { emailConfig } from "../email-config";\n'
        "export const emailModule = { transport: emailConfig.transport };\n",
        "tests/email.test.ts": 'test("lists messages", () => expect(true).toBe(true));\n',
    }),
    _Step(4, DANA, "stabilize(phase2): T+4h checkpoint - Customer validation, email testing", {
        "docs/migration-status.md": _STATUS + "- Phase 2 T+4h: customers validated, email tested\n",
    }, tag=(TAG_T4, "Phase 2 Checkpoint: 4 hours")),
    _Step(5, SAM, "feat(phase2): wire deals module backend", {
        "server/modules/deals.ts": 'import { db } from "../db";\n'
        'export const listDeals = () => db.execute("SELECT * FROM deals");\n',
        "server/routes.ts": _ROUTES_V2,
    }),
    _Step(6.5, PRIYA, "feat(phase2): inbox page reads from the new email module", {
        "client/src/pages/inbox.tsx": 'import { useQuery } from "@tanstack/react-query";\n'
        'export default function Inbox() { useQuery({ queryKey: ["/api/email/messages"] });'
        " return <h1>Inbox</h1>; }\n",
    }),
    _Step(8, DANA, "stabilize(phase2): T+8h checkpoint - All backends wired and tested", {
        "docs/migration-status.md": _STATUS + "- Phase 2 T+4h: customers validated, email tested\n"
        "- Phase 2 T+8h (Day 1): all backends wired and tested\n",
    }, tag=(TAG_T8, "Phase 2 Checkpoint: Day 1 Complete")),
    _Step(8.5, SAM, "feat(phase2): add deal stage column", {
        "migrations/phase2_0002_add_deal_stage.sql":
        "ALTER TABLE deals ADD COLUMN stage text NOT NULL DEFAULT 'qualified';\n",
        # Scenario 5's down SQL, beside the migration it takes back.
        "migrations/rollback/phase2_0002_add_deal_stage.down.sql":
        "-- Takes phase2_0002_add_deal_stage back: the stage column and its values go.\n"
        "ALTER TABLE deals DROP COLUMN stage;\n",
    }),
    _Step(9, PRIYA, "stabilize(phase2): remove legacy email sender", {
        "server/routes.ts": _ROUTES_V2.split("\n", 1)[1],
    }, delete=("server/email/legacy-sender.ts",)),
    # The procedure's scenario 3: the new email module still imports this file.
    _Step(9.4, PRIYA, "stabilize(phase2): remove old email config",
          delete=("server/email-config.ts",)),
    # Scenario 4: the service sleeps 2.5 s per customer search while this file exists.
    _Step(9.7, SAM, "perf(phase2): search customers across merged contact tables", {
        "server/slow-query.ts": 'export const searchSql = "SELECT * FROM customers c JOIN '
        'contacts k ON lower(k.name) LIKE lower(c.name) || \'%\'";\n',
    }),
)  # fmt: skip


def _git_env() -> dict[str, str]:
    # Hermetic: the user's global/system git config (hooks, signing, templates) and any GIT_*
    # variables from a calling git process must not shape or break the demo history.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def _git(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"git {args[0]} could not run: {exc}") from exc
    if done.returncode != 0:
        raise SandboxError(f"git {shlex.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _commit(repo: Path, base_env: Mapping[str, str], step: _Step, started: datetime) -> None:
    when = (started + timedelta(hours=step.hours)).isoformat()
    ident = {"NAME": step.author.name, "EMAIL": step.author.email, "DATE": when}
    env = {
        **base_env,
        **{f"GIT_{who}_{k}": v for who in ("AUTHOR", "COMMITTER") for k, v in ident.items()},
    }
    if step.branch:
        _git(repo, env, "checkout", "-q", "-b", step.branch)
    for rel, text in step.write.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    if step.delete:
        _git(repo, env, "rm", "-q", "--", *step.delete)
    _git(repo, env, "add", "-A")
    _git(repo, env, "commit", "-q", "-m", step.message)
    if step.tag:
        _git(repo, env, "tag", "-a", step.tag[0], "-m", step.tag[1])


def _init_repos(repo: Path, origin: Path, env: Mapping[str, str]) -> None:
    _git(repo.parent, env, "init", "-q", "--bare", "-b", MAIN_BRANCH, str(origin))
    _git(repo.parent, env, "init", "-q", "-b", MAIN_BRANCH, str(repo))
    local = {
        "user.name": OPERATOR.name,  # the bot's checkpoints need an identity on any machine
        "user.email": OPERATOR.email,
        "commit.gpgsign": "false",  # the bot later runs with the user's global config
        "tag.gpgsign": "false",
    }
    for key, value in local.items():
        _git(repo, env, "config", key, value)
    _git(repo, env, "remote", "add", "origin", str(origin))


def _toml_str(value: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    escaped = "".join(
        "\\" + ch if ch in '"\\' else f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ch == "\x7f" else ch
        for ch in value
    )
    return f'"{escaped}"'


# TOML 1.0 inline tables must fit on one line.
# The procedure's test email (Scenario 3, step 2); TOML keeps an inline table on one line.
EMAIL_SEND_STEP = (
    '{ method = "POST", path = "/api/email/send", json = { to = "test@example.com", '
    'subject = "Rollback Test", body = "Testing email after rollback" } }'
)
NEW_DEAL_STEP = (
    '{ method = "POST", path = "/api/deals", expect_status = 201, '
    'json = { title = "Validation deal", amount = 1 } }'
)


# The demo's tip is broken on purpose: a watch that is on would open an incident of its own
# a minute or two in. `/rollback watch on` (as U0ORCH) shows it doing so.
WATCH_SECTION = "[watch]\nenabled = false\ninterval_s = 60\n"


ENDPOINTS = (("customers", "/api/customers"), ("email-messages", "/api/email/messages"),
             ("deals", "/api/deals"))  # fmt: skip


def _config_text(sb: Sandbox, started: datetime) -> str:
    q = _toml_str
    checks = "".join(
        f"\n[[checks.endpoints]]\nname = {q(n)}\npath = {q(p)}\n" for n, p in ENDPOINTS
    )
    return f"""# rollback-bot demo sandbox, generated by bot.local.demo.sandbox.
[project]
name = {q(PROJECT)}
phase = {q(PHASE)}
started_at = {q(started.strftime("%Y-%m-%dT%H:%M:%SZ"))}

[git]
path = {q(str(sb.repo))}
remote = "origin"
branch = {q(PHASE_BRANCH)}

[service]
restart = {q(shlex.join(service_command(sb, "restart")))}
base_url = {q(sb.base_url)}
health_path = "/healthz"
ready_timeout_s = {int(SERVICE_TIMEOUT_S)}
log_file = {q(LOG_RELPATH.as_posix())}
clear_cache = ["node_modules/.cache"]
{checks}
[[checks.frontend]]
name = "frontend"
path = "/"

# The procedure's critical user flows: login, view inbox, create deal, search customers.
[[checks.flows]]
name = "login, inbox, new deal, search"
steps = [
  {{ method = "POST", path = "/login", json = {{ username = "demo" }} }},
  {{ path = "/inbox" }},
  {NEW_DEAL_STEP},
  {{ path = "/api/customers?search=a" }},
]

# The procedure's Scenario 3, step 2, after the email rollback: send, list, the inbox page.
[[checks.email_flows]]
name = "email: send, list, inbox"
steps = [
  {{ method = "POST", path = "/login", json = {{ username = "demo" }} }},
  {EMAIL_SEND_STEP},
  {{ path = "/api/email/messages" }},
  {{ path = "/inbox" }},
]

[database]
url_env = "DATABASE_URL"

{WATCH_SECTION}
[slack]
channel = {q(CHANNEL)}
orchestrators = [{q(ORCHESTRATOR)}]

[store]
path = {q(str(sb.store_path))}
"""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def service_command(sandbox: Sandbox, action: Literal["restart", "stop"]) -> list[str]:
    """argv of the demo service's restart/stop for this sandbox (the config's restart, unquoted)."""
    argv = [sys.executable, "-P", str(SERVICE_SCRIPT), action, "--root", str(sandbox.repo)]
    return [*argv, "--port", str(sandbox.service_port)] if action == "restart" else argv


def build_sandbox(
    root: Path, *, service_port: int | None = None, now: datetime | None = None
) -> Sandbox:
    """Create the sandbox under root, which must be missing or empty. Takes well under 3 s."""
    root = root.resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SandboxError(f"{root} must be a missing or empty directory")
    root.mkdir(parents=True, exist_ok=True)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    started = now - timedelta(hours=PHASE_HOURS_SO_FAR)
    port = service_port if service_port is not None else free_port()
    repo = root / "app"
    sb = Sandbox(
        root=root,
        repo=repo,
        origin=root / "origin.git",
        config_path=root / "rollback-bot.toml",
        log_file=repo / LOG_RELPATH,
        store_path=root / "rollback-bot.db",
        service_port=port,
        base_url=f"http://{HOST}:{port}",
    )
    env = _git_env()
    repo.mkdir()
    _init_repos(repo, sb.origin, env)
    for step in _HISTORY:
        _commit(repo, env, step, started)
    # --follow-tags: every tag is annotated and on a pushed branch; -u makes each branch track.
    _git(repo, env, "push", "-q", "-u", "--follow-tags", "origin",
         MAIN_BRANCH, PHASE1_BRANCH, PHASE_BRANCH)  # fmt: skip
    cache = repo / "node_modules" / ".cache"  # something for clear_cache to clear (git-ignored)
    cache.mkdir(parents=True)
    (cache / "schema.json").write_text('{"tables": ["customers", "deals"]}\n', encoding="utf-8")
    sb.config_path.write_text(_config_text(sb, started), encoding="utf-8")
    return sb


def _run_service(sandbox: Sandbox, action: Literal["restart", "stop"]) -> None:
    argv = service_command(sandbox, action)
    if action == "restart":
        argv += ["--ready-timeout", str(SERVICE_TIMEOUT_S)]
    try:
        # The detached server's output goes to its log, so these pipes close when the command ends.
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=SERVICE_TIMEOUT_S + 15, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"demo service {action} timed out after {exc.timeout:g}s") from exc
    if done.returncode != 0:
        raise SandboxError(done.stderr.strip() or f"demo service {action} failed")


def start_service(sandbox: Sandbox) -> None:
    """(Re)start the demo service on the sandbox's working copy; returns once it answers."""
    _run_service(sandbox, "restart")


def stop_service(sandbox: Sandbox) -> None:
    """Stop the sandbox's demo service, if it is running."""
    _run_service(sandbox, "stop")
