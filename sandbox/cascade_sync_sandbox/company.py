"""The sandbox company: seeded emulators of every API the sync talks to, on fixed loopback ports.

The demo, `dagster dev` on the sandbox and the benchmarks all start the same company, so what a
new user sees in the UI is what the tests and figures were measured on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_sandbox.classic import SANDBOX_TOKEN as CLASSIC_SANDBOX_TOKEN
from cascade_sync_sandbox.classic import ClassicEmulator
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup
from cascade_sync_sandbox.integrations import SANDBOX_TOKEN as INTEGRATIONS_SANDBOX_TOKEN
from cascade_sync_sandbox.integrations import IntegrationsEmulator
from cascade_sync_sandbox.integrations.generator import clickup_claims, seed_plans, wrike_claims
from cascade_sync_sandbox.server import EmulatorServer
from cascade_sync_sandbox.wrike import WrikeEmulator
from cascade_sync_sandbox.wrike import generate as generate_wrike

PORTS = {"clickup": 8701, "wrike": 8702, "cascade": 8703}
SEED = 7
CLICKUP_TASKS_PER_TEAM = 2500
# ClickUp's Business Plus limit: generous enough for a quick demo, still enforced.
CLICKUP_RATE_LIMIT_PER_MIN = 1000
WRIKE_TASKS = 2000
WRIKE_RATE_LIMIT_PER_MIN = 400  # Wrike's documented ~400 requests per minute per token
# Cascade documents no limit; the emulators enforce these so 429 handling stays exercised.
CASCADE_RATE_LIMIT_PER_MIN = 6000
CLASSIC_RATE_LIMIT_PER_MIN = 30_000  # the classic demo creates thousands of goals and tasks
INTEGRATION_EMAIL = "integration@acme.example"
# The classic instance's focus areas (the API has no endpoint for them): ids 201, 202, 203.
FOCUS_AREAS = ("Grow Revenue", "Operational Excellence", "Delight Customers")


@dataclass
class Sandbox:
    clickup: ClickUpEmulator
    servers: dict[str, EmulatorServer]
    clickup_team_tokens: dict[str, str] = field(default_factory=dict)
    wrike: WrikeEmulator | None = None
    cascade: ClassicEmulator | IntegrationsEmulator | None = None

    def env_for(self, config: SyncConfig) -> dict[str, str]:
        """Token env vars of every configured workspace that points at this sandbox."""
        env = {}
        for ws in config.workspaces_of("clickup"):
            if self._is_local(ws.base_url, "clickup") and ws.team_id in self.clickup_team_tokens:
                env[ws.token_env] = self.clickup_team_tokens[ws.team_id]
        for ws in config.workspaces_of("wrike"):
            if self.wrike is not None and ws.token_env and self._is_local(ws.base_url, "wrike"):
                env[ws.token_env] = self.wrike.dataset.permanent_token
        cascade = config.cascade
        if (
            self.cascade is not None
            and cascade is not None
            and cascade.token_env
            and self._is_local(cascade.base_url, "cascade")
        ):
            integrations = isinstance(self.cascade, IntegrationsEmulator)
            env[cascade.token_env] = INTEGRATIONS_SANDBOX_TOKEN if integrations else CLASSIC_SANDBOX_TOKEN
        return env

    def _is_local(self, base_url: str, api: str) -> bool:
        parsed = urlparse(base_url)
        return parsed.hostname in ("127.0.0.1", "localhost") and parsed.port == self.servers[api].port

    def export_env(self, config: SyncConfig) -> dict[str, str]:
        env = self.env_for(config)
        os.environ.update(env)
        return env

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(
    *,
    seed: int = SEED,
    clickup_tasks_per_team: int = CLICKUP_TASKS_PER_TEAM,
    ports: dict[str, int] | None = None,
    cascade_api: str = "integrations",
) -> Sandbox:
    """Generate the company's data and serve every emulator; ports of 0 pick free ones (tests).

    ``cascade_api`` picks the Cascade emulator: ``integrations`` (the plan seeded from the sources'
    Cascade ID fields) or ``classic`` (an empty classic instance whose users are the sources'
    people, see :func:`seed_classic`; the sources hold no Cascade IDs yet)."""
    if cascade_api not in ("integrations", "classic"):
        raise ValueError(f"cascade_api must be integrations or classic, not {cascade_api!r}")
    ports = {**PORTS, **(ports or {})}
    claims = 0.1 if cascade_api == "integrations" else 0.0
    dataset = generate_clickup(seed, teams=2, tasks_per_team=clickup_tasks_per_team, cascade_id_ratio=claims)
    clickup = ClickUpEmulator(dataset, rate_limit=CLICKUP_RATE_LIMIT_PER_MIN, rate_window=60.0)
    team_tokens = {team_id: dataset.grant([team_id]) for team_id in dataset.teams}
    servers = {"clickup": clickup.serve(port=ports["clickup"])}
    wrike = WrikeEmulator(
        generate_wrike(seed, tasks=WRIKE_TASKS, cascade_id_ratio=claims),
        rate_limit=WRIKE_RATE_LIMIT_PER_MIN,
        rate_window=60.0,
    )
    servers["wrike"] = wrike.serve(port=ports["wrike"])
    if cascade_api == "integrations":
        cascade = IntegrationsEmulator(rate_limit=CASCADE_RATE_LIMIT_PER_MIN, rate_window=60.0)
        seed_plans(cascade, clickup_claims(dataset) + wrike_claims(wrike.dataset))
    else:
        cascade = ClassicEmulator(rate_limit=CLASSIC_RATE_LIMIT_PER_MIN, rate_window=60.0)
        seed_classic(cascade, sandbox_people(dataset, wrike.dataset))
    servers["cascade"] = cascade.serve(port=ports["cascade"])
    return Sandbox(clickup=clickup, servers=servers, clickup_team_tokens=team_tokens, wrike=wrike, cascade=cascade)


def seed_classic(emulator: ClassicEmulator, people: list[dict[str, str]]) -> list[dict]:
    """Give a classic instance the people (each a user holding a role of their own, in order, after
    the emulator's integration user) and the focus areas of ``FOCUS_AREAS``; return the users as
    ``cascade.users`` rows (email, user_id, role_id)."""
    rows = []
    for person in people:
        if person["email"] == INTEGRATION_EMAIL:
            continue
        user = emulator.add_user(person["name"], person["email"])
        rows.append({"email": person["email"].lower(), "user_id": user["id"], "role_id": user["role_id"]})
    for name in FOCUS_AREAS:
        emulator.add_focus_area(name)
    return rows


def sandbox_people(clickup_dataset=None, wrike_dataset=None) -> list[dict[str, str]]:
    """Cascade's users: the integration user, then every person of the ClickUp and Wrike sandboxes,
    so assignees match Cascade owners by email."""
    people = [{"name": "Cascade Integration", "email": INTEGRATION_EMAIL}]
    if clickup_dataset is not None:
        people += [{"name": u.username, "email": u.email} for u in clickup_dataset.users.values()]
    if wrike_dataset is not None:
        people += [
            {"name": f"{c['firstName']} {c['lastName']}", "email": c["primaryEmail"]}
            for c in wrike_dataset.contacts
            if c.get("type") == "Person" and c.get("primaryEmail")
        ]
    unique = {p["email"].lower(): p for p in reversed(people)}
    return list(reversed(list(unique.values())))
