"""The classic Cascade client against the classic emulator over real HTTP on 127.0.0.1: paging to
the end with the status always explicit, wrapping and unwrapping, string and integer ids, errors
that name the fix and never the token, :func:`split_title`, and the lost-answer drill: creates
whose answers are lost at random are never duplicated."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import date, timedelta

import httpx
import pytest

from cascade_sync_pipeline.cascade.classic import GOAL_STATUSES, CascadeApiError, ClassicClient, split_title
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_sandbox.classic import SANDBOX_TOKEN, ClassicEmulator
from cascade_sync_sandbox.server import Fault

GOAL_BODY = {
    "action": "Increase",
    "details": "revenue in EMEA",
    "start_time": date(2025, 1, 1),
    "end_time": "2025-12-31",
    "weight_id": 1,
}
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def client(base_url):
    with ClassicClient(
        base_url,
        SANDBOX_TOKEN,
        retry=FAST,
        settle_seconds=0.0,
        token_env="TEST_CASCADE_TOKEN",
        workspace="acme-classic",
    ) as client:
        yield client


def mock_client(handler, **kwargs) -> ClassicClient:
    """A client whose 'server' answers with the documented shapes the emulator does not send."""
    return ClassicClient(
        "https://acme.executestrategy.net/api/v2",
        "tok-SECRET-123",
        retry=FAST,
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
        **kwargs,
    )


# --- reads ---------------------------------------------------------------------------------------
def test_list_goals_pages_to_the_end_and_always_sends_status(base_url, emulator):
    for i, status in enumerate(["APPRO"] * 3 + ["ARCHI"] * 2 + ["DRAFT"] * 2):
        emulator.add_goal(action="Goal", details=str(i), status=status)
    with ClassicClient(base_url, SANDBOX_TOKEN, page_size=2) as client:
        assert len(client.list_goals(status=("APPRO", "ARCHI"))) == 5  # no DRAFT default slipped in
        assert client.stats.requests == 3  # 2 + 2 + a short page of 1
        everything = client.list_goals(status=GOAL_STATUSES)
        assert sorted(g["id"] for g in everything) == sorted(emulator.goals)
        assert client.stats.requests == 3 + 4  # 2 + 2 + 2 + a short page of 1
        assert [g["status"] for g in client.list_goals(status="ARCHI,APPRO", role_id=101)].count("ARCHI") == 2
        with pytest.raises(TypeError):
            client.list_goals()  # the status is never left to the API's DRAFT default
        with pytest.raises(ValueError, match="APPRO, DRAFT, ARCHI"):
            client.list_goals(status="DONE")
        with pytest.raises(ValueError, match="'details' is not a filter"):
            client.list_goals(status="DRAFT", details="x")


def test_long_id_lists_are_chunked(base_url, emulator):
    ids = [emulator.add_goal(action="Goal", details=str(i))["id"] for i in range(120)]
    with ClassicClient(base_url, SANDBOX_TOKEN, ids_per_request=50) as client:
        found = client.list_goals(status="DRAFT", ids=[str(i) for i in ids[:60]] + ids[60:])
        assert sorted(g["id"] for g in found) == ids and client.stats.requests == 3


def test_tasks_list_by_goal_and_creator(client, emulator):
    goals = [emulator.add_goal(action="Goal", details=str(i))["id"] for i in range(2)]
    other = emulator.add_user("Ann Lee", "ann@example.com")
    mine = [emulator.add_task(task=f"T{i}", goal_id=goals[i % 2]) for i in range(5)]
    emulator.add_task(task="Hers", goal_id=goals[0], creator_id=other["id"])
    assert len(client.list_tasks(goal_id=goals[0])) == 4
    assert len(client.list_tasks(goal_id=str(goals[0]), user_id=emulator.integration_user["id"])) == 3
    assert [t["id"] for t in client.list_tasks(ids=[mine[1]["id"], str(mine[2]["id"])], goal_id=goals)] == [
        mine[1]["id"],
        mine[2]["id"],
    ]


# --- wrapping and ids ----------------------------------------------------------------------------------
def test_bodies_are_wrapped_and_answers_unwrapped(client, emulator):
    goal = client.create_goal(GOAL_BODY)  # the emulator refuses an unwrapped body
    assert goal["id"] in emulator.goals and goal["start_time"] == "2025-01-01T00:00:00Z"
    assert client.creator_id == emulator.integration_user["id"]  # learned from the create answer
    task = client.create_task({"task": "Hire", "goal_id": goal["id"], "is_complete": 1})
    assert task["completed_user_id"] == client.creator_id  # POST /tasks answers it as a string, under "tasks"
    assert client.update_goal(goal["id"], {"status": "APPRO"})["status"] == "APPRO"
    assert client.update_task(task["id"], {"is_complete": 0})["is_complete"] == 0
    assert client.get_task(task["id"])["task"] == "Hire" and client.writes == 4


def test_documented_list_shape_and_string_ids_are_accepted():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/goals"):  # as the connector documents it: under "goal"
            return httpx.Response(200, json={"goal": [{"id": "17", "aligned_to_ids": ["3"], "creator_id": 4}]})
        return httpx.Response(200, json={"goal": {"id": "17", "role_id": "9", "task_ids": [5, "6"]}})

    with mock_client(handler) as client:
        assert client.list_goals(status="APPRO") == [{"id": 17, "aligned_to_ids": [3], "creator_id": 4}]
        assert client.get_goal("17") == client.get_goal(17) == {"id": 17, "role_id": 9, "task_ids": [5, 6]}
        with pytest.raises(ValueError, match="integer or a string of digits"):
            client.get_goal("17/../18")
    assert "status=APPRO" in seen[0] and "offset=1" in seen[0] and seen[1].endswith("/goals/17")


def test_string_and_integer_ids_against_the_emulator(client, emulator):
    goal = emulator.add_goal(action="Grow", details="sales")
    task = client.create_task({"task": "Call", "goal_id": str(goal["id"])})
    assert task["goal_id"] == goal["id"]
    assert client.get_goal(str(goal["id"])) == client.get_goal(goal["id"])
    client.update_task(str(task["id"]), {"comment": "done"})
    client.delete_task(str(task["id"]))
    assert emulator.tasks == {}


# --- errors ----------------------------------------------------------------------------------------
def test_errors_name_the_fix_and_never_the_token(base_url, client, emulator):
    with ClassicClient(base_url, "tok-SECRET-123", token_env="TEST_CASCADE_TOKEN", workspace="acme-classic") as bad:
        with pytest.raises(CascadeApiError) as err:
            bad.list_goals(status="DRAFT")
        assert "tok-SECRET" not in repr(bad)
    message = str(err.value)
    assert err.value.status == 401 and "tok-SECRET" not in message
    for part in (
        "workspace 'acme-classic'",
        "HTTP 401",
        "goal list",
        "TEST_CASCADE_TOKEN",
        "Profile > System > Security > + Add Token",
    ):
        assert part in message
    emulator.add_token("tasks-only", emulator.integration_user["id"], scopes=("Tasks",))
    with ClassicClient(base_url, "tasks-only") as scoped, pytest.raises(CascadeApiError) as err:
        scoped.create_goal(GOAL_BODY)
    assert err.value.status == 403 and "scopes" in str(err.value)
    assert "new goal 'Increase revenue in EMEA'" in str(err.value)
    with pytest.raises(CascadeApiError) as err:
        client.create_goal({**GOAL_BODY, "weight_id": 7})
    assert err.value.status == 400 and "field 'weight_id'" in str(err.value)
    assert err.value.details == {"field": "weight_id"}
    with pytest.raises(CascadeApiError) as err:
        client.update_goal(999999, {"progress": 1})
    assert err.value.status == 404 and "goal 999999 does not exist" in str(err.value)
    assert "sync.id_map" in str(err.value)
    assert emulator.writes == 0 and client.writes == 0


def test_a_server_message_echoing_the_token_is_redacted():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": f"details: bad value, token {request.headers['Authorization']}"})

    with mock_client(handler) as client, pytest.raises(CascadeApiError) as err:
        client.create_task({"task": "X", "goal_id": 1})
    assert "SECRET" not in str(err.value) and "field 'details'" in str(err.value)


# --- retries of what is safe to repeat ----------------------------------------------------------------
def test_put_and_delete_are_retried_after_a_lost_answer(client, emulator):
    goal = emulator.add_goal(action="Grow", details="sales")
    emulator.faults.add(Fault(kind="reset_after_write", method="PUT"))
    assert client.update_goal(goal["id"], {"progress": 30})["progress"] == 30
    emulator.faults.add(Fault(kind="reset_after_write", method="DELETE"))
    client.delete_goal(goal["id"])  # the retry meets 404: the lost first attempt deleted it
    assert emulator.goals == {} and client.writes == 2 and emulator.writes == 3  # PUT twice, DELETE once


def test_a_create_refused_with_400_or_429_is_not_a_lost_answer(base_url, emulator):
    waits: list[float] = []
    with ClassicClient(base_url, SANDBOX_TOKEN, sleep=waits.append) as client:
        emulator.faults.add(Fault(kind="status", status=429, method="POST"))
        client.create_goal(GOAL_BODY)
        with pytest.raises(CascadeApiError):
            client.create_goal({**GOAL_BODY, "action": ""})
    assert waits == [1.0] and len(emulator.goals) == 1 and client.recovered_creates == 0
    assert emulator.log.count("GET") == 0  # no lookup was needed


def test_a_lost_answer_is_looked_up_not_resent(client, emulator):
    emulator.faults.add(Fault(kind="reset_after_write", method="POST", path="/goals$"))
    goal = client.create_goal(GOAL_BODY)
    assert list(emulator.goals) == [goal["id"]] and client.recovered_creates == 1 and client.writes == 1
    assert emulator.log.count("POST") == 1 and emulator.log.count("GET", path="/goals$") == 1


def test_a_failed_lookup_says_the_outcome_is_unknown_and_resends_nothing(base_url, client, emulator):
    emulator.faults.add(Fault(kind="status_after_write", status=502, method="POST", path="/tasks$"))
    emulator.faults.add(Fault(kind="status", status=503, method="GET", path="/tasks$", times=3))
    goal = emulator.add_goal(action="Grow", details="sales")
    with pytest.raises(CascadeApiError) as err:
        client.create_task({"task": "Call", "goal_id": goal["id"]})
    assert err.value.code == "CREATE_UNKNOWN" and "may or may not have happened" in str(err.value)
    assert "next run will look for it" in str(err.value) and len(emulator.tasks) == 1
    with ClassicClient(base_url, SANDBOX_TOKEN) as next_run:  # a new process: the floor comes from the error
        task = next_run.create_task(
            {"task": "Call", "goal_id": goal["id"]}, look_after_id=err.value.details["look_after_id"]
        )
    assert list(emulator.tasks) == [task["id"]] and next_run.recovered_creates == 1
    assert emulator.log.count("POST") == 1


def test_two_matches_are_reported_never_guessed(base_url, client, emulator):
    emulator.add_goal(**{**GOAL_BODY, "start_time": "2025-01-01"})  # an identical goal from before
    emulator.faults.add(Fault(kind="reset_after_write", method="POST", path="/goals$"))
    with pytest.raises(CascadeApiError) as err:  # this client never listed goals: it knows no id floor
        client.create_goal(GOAL_BODY)
    assert err.value.code == "CREATE_AMBIGUOUS" and len(err.value.details["ids"]) == 2
    with ClassicClient(base_url, SANDBOX_TOKEN) as informed:  # a floor from a listing tells them apart
        informed.list_goals(status=GOAL_STATUSES)
        emulator.faults.add(Fault(kind="reset_after_write", method="POST", path="/goals$"))
        adopted = informed.create_goal(GOAL_BODY)
    assert adopted["id"] == max(emulator.goals) and informed.recovered_creates == 1 and len(emulator.goals) == 3


def test_a_lost_answer_after_an_identical_create_adopts_the_new_item(client, emulator):
    """Two source items with the same title, parent and dates: the second create's answer is lost.
    The first one's id (answered to this client) is the floor, so only the new item matches."""
    first = client.create_goal(GOAL_BODY)
    emulator.faults.add(Fault(kind="reset_after_write", method="POST", path="/goals$"))
    second = client.create_goal(GOAL_BODY)
    assert second["id"] != first["id"] and sorted(emulator.goals) == [first["id"], second["id"]]
    assert client.recovered_creates == 1 and client.last_known_id("goal") == second["id"]


def test_an_earlier_runs_create_is_found_by_its_body_and_older_items_are_not(base_url, emulator):
    older = emulator.add_goal(**{**GOAL_BODY, "start_time": "2025-01-01"})  # same fields, recorded before
    with ClassicClient(base_url, SANDBOX_TOKEN) as run:
        run.known_ids("goal", [older["id"]])
        floor = run.last_known_id("goal")
        assert run.find_created("goal", GOAL_BODY, after_id=floor) is None
    stored = emulator.add_goal(**{**GOAL_BODY, "start_time": "2025-01-01"})  # the killed run's create
    with ClassicClient(base_url, SANDBOX_TOKEN) as next_run:
        assert next_run.find_created("goal", GOAL_BODY, after_id=floor)["id"] == stored["id"]
        assert next_run.recovered_creates == 1 and next_run.writes == 0 and emulator.log.count("POST") == 0


# --- split_title -----------------------------------------------------------------------------------
def test_split_title_cuts_with_warnings():
    assert split_title("  Launch   the new  pricing page ") == ("Launch", "the new pricing page", [])
    assert split_title("Launch") == ("Launch", "", [])
    action, details, warnings = split_title("Internationalisationprojectplan for " + "market " * 60)
    assert action == "Internationalisationproje" and len(action) == 25
    assert len(details) <= 300 and details.endswith("…") and not details[:-1].endswith(" ")
    assert len(warnings) == 2 and "'Internationalisationprojectplan'" in warnings[0] and "dropped" in warnings[1]
    assert split_title("")[2] and split_title(None)[:2] == ("", "")  # type: ignore[arg-type]


# --- the lost-answer drill -------------------------------------------------------------------------
# fault on a create -> (the Fault it injects, whether the create is stored before the answer is lost)
LOSSES = {
    "answered": (None, False),
    "reset_after_write": (dict(kind="reset_after_write"), True),
    "502_after_write": (dict(kind="status_after_write", status=502), True),
    "timeout_after_write": (dict(kind="delay_after_write", seconds=0.8), True),
    "slow_write": (dict(kind="delay", seconds=0.6), True),  # stored 0.2 s after the client gave up
    "truncated_answer": (dict(kind="truncate"), True),  # a 2xx whose body no longer parses
    "reset_before_write": (dict(kind="reset"), False),
    "503_before_write": (dict(kind="status", status=503), False),
}
WEIGHTS = (40, 22, 8, 3, 3, 4, 12, 8)
N_GOALS = N_TASKS = 36


def _drill_bodies(rng: random.Random, kind: str, n: int, goal_ids: list[int], focus: int) -> list[dict]:
    bodies = []
    for i in range(n):
        start = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 120))
        if kind == "goal":
            action, details, _ = split_title(
                f"{rng.choice(['Grow', 'Launch', 'Cut', 'Hire'])} initiative {i} for region {rng.randrange(9)}"
            )
            links = (
                {"aligned_to_ids": [rng.choice(goal_ids)]} if goal_ids and i % 3 else {"direct_focus_area_ids": [focus]}
            )
            bodies.append(
                {
                    "action": action,
                    "details": details,
                    "start_time": start,
                    "end_time": start + timedelta(days=90),
                    "weight_id": 1 + i % 4,
                    **links,
                }
            )
        else:
            due = {"due_date": start.isoformat()} if i % 4 else {}
            bodies.append({"task": f"Task {i}: follow up", "goal_id": goal_ids[i % len(goal_ids)], **due})
    return bodies


def _run_creates(
    client: ClassicClient, emulator: ClassicEmulator, rng: random.Random, kind: str, bodies: list[dict], tally: Counter
) -> tuple[list[dict], list[tuple[dict, CascadeApiError]]]:
    """Each create with a random loss (and now and then a failing lookup); returns the created
    items and the creates whose outcome stayed unknown."""
    created, unknown = [], []
    create = client.create_goal if kind == "goal" else client.create_task
    for body in bodies:
        loss = rng.choices(list(LOSSES), WEIGHTS)[0]
        tally[loss] += 1
        emulator.faults.clear()
        fault, _stored = LOSSES[loss]
        if fault:
            emulator.faults.add(Fault(method="POST", path=f"/{kind}s$", **fault))
            if rng.random() < 0.15:  # the lookup fails too: the outcome stays unknown
                emulator.faults.add(Fault(kind="status", status=503, method="GET", path=f"/{kind}s$", times=3))
                tally["lookup_failed"] += 1
        try:
            created.append(create(body))
        except CascadeApiError as err:
            assert err.code == "CREATE_UNKNOWN", str(err)
            unknown.append((body, err))
    emulator.faults.clear()
    return created, unknown


@pytest.mark.slow
def test_lost_answer_drill_never_duplicates_a_create(base_url, emulator):
    rng = random.Random(20250611)
    focus = emulator.add_focus_area("Growth")
    emulator.add_goal(action="Existing", details="goal", status="APPRO")
    tally: Counter = Counter()
    started = time.monotonic()
    options = dict(retry=FAST, timeout=0.4, settle_seconds=0.5)
    with (
        ClassicClient(base_url, SANDBOX_TOKEN, **options) as client,
        ClassicClient(base_url, SANDBOX_TOKEN, **options) as next_run,
    ):
        goal_bodies = _drill_bodies(rng, "goal", N_GOALS, [], focus)
        goals, unknown_goals = _run_creates(client, emulator, rng, "goal", goal_bodies, tally)
        goals += _rerun(client, next_run, "goal", unknown_goals)
        task_bodies = _drill_bodies(rng, "task", N_TASKS, [g["id"] for g in goals], focus)
        tasks, unknown_tasks = _run_creates(client, emulator, rng, "task", task_bodies, tally)
        tasks += _rerun(client, next_run, "task", unknown_tasks)
        recovered = client.recovered_creates + next_run.recovered_creates
    elapsed = time.monotonic() - started
    stored_losses = sum(n for loss, n in tally.items() if loss in LOSSES and LOSSES[loss][1])
    print(
        f"\ndrill: {N_GOALS + N_TASKS} creates, {sum(tally.values()) - tally['answered'] - tally['lookup_failed']} "
        f"answers lost ({stored_losses} after the write), {tally['lookup_failed']} lookups failed, "
        f"{len(unknown_goals) + len(unknown_tasks)} re-run, {recovered} recovered, {elapsed:.1f}s; {dict(tally)}"
    )

    drill_goals = [g for g in emulator.goals.values() if g["action"] != "Existing"]
    assert len(drill_goals) == N_GOALS and len(emulator.tasks) == N_TASKS  # zero duplicates
    assert Counter((g["action"], g["details"]) for g in drill_goals).most_common(1)[0][1] == 1
    assert Counter(t["task"] for t in emulator.tasks.values()).most_common(1)[0][1] == 1
    assert sorted(g["id"] for g in goals) == sorted(g["id"] for g in drill_goals)
    assert sorted(t["id"] for t in tasks) == sorted(emulator.tasks)
    assert emulator.writes == N_GOALS + N_TASKS  # every create stored exactly once
    assert recovered == stored_losses and client.writes + next_run.writes == N_GOALS + N_TASKS
    assert all(tally[loss] for loss in LOSSES) and tally["lookup_failed"] >= 2 and N_GOALS + N_TASKS >= 50
    assert elapsed < 20


def _rerun(
    client: ClassicClient, next_run: ClassicClient, kind: str, unknown: list[tuple[dict, CascadeApiError]]
) -> list[dict]:
    """Re-run the creates of unknown outcome: alternately in the same client (which remembers
    them) and in a fresh one, as the next run would, with the floor the error carried."""
    out = []
    for i, (body, err) in enumerate(unknown):
        if i % 2:
            out.append(getattr(client, f"create_{kind}")(body))
        else:
            out.append(getattr(next_run, f"create_{kind}")(body, look_after_id=err.details["look_after_id"]))
    return out
