"""The client of Cascade's classic API (``https://{instance}.executestrategy.net/api/v2``): Goals
and Tasks, as ``shared/reference/cascade/classic-connector.swagger.json`` describes them.

Plain Python, no Dagster. Built on :class:`~cascade_sync_pipeline.cascade.classic_session.ClassicSession`
(reads, PUTs and DELETEs) over :class:`~cascade_sync_pipeline.http.ApiSession` (retries of 5xx,
timeouts and resets, 429 waits, request counting). Reads, PUTs and DELETEs are safe to repeat and are
retried. A create is not: the API has no idempotency key, no external reference and no
conflict answer, so a POST whose answer was lost is never simply sent again. Instead the client
looks for what that POST may have stored (see :meth:`ClassicClient._create`): adopted when exactly
one item matches, sent again only when none does, and an error that says so when it cannot look.

Assumed (not in the connector definition):
- Ids grow with every create, so an item our POST stored has an id above every id seen before it.
- ``GET /goals`` may answer its list under ``"goals"`` or (as documented) under ``"goal"``; both
  are read, as is a single object under either. ``POST /tasks`` answers under ``"tasks"``.
- ``offset`` counts items from 1 (not pages); a page shorter than ``limit`` is the last one; the
  server does not cap ``limit`` below ``page_size`` (100).
- ``GET /goals?creator_id=`` and ``GET /tasks?goal_id=&user_id=`` filter exactly; a task's
  ``user_id`` is its creator (connector: "ID of the user that created the Task"). Substring
  filters (``action``, ``detail``) are never relied on to find a lost create.
- A 429 and a connection that could not be opened stored nothing; any other failure after the
  request was sent (timeout, reset, 5xx, an unreadable 2xx) may have stored it.
- A server that timed out may still store the create a moment later: after a timeout the client
  waits ``settle_seconds`` before it looks. A create stored later still is the residual risk.
- The server may render a date at midnight of another time zone, so dates match within a day.
- Error answers carry ``message`` (and maybe ``field``), like the documented DELETE body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from .classic_session import ClassicSession
from .classic_wire import GOAL, GOAL_STATUSES, TASK, Kind, matches_body, split_title, to_wire
from .errors import CascadeApiError

__all__ = ["GOAL_STATUSES", "CascadeApiError", "ClassicClient", "split_title"]


class _LostAnswer(Exception):
    """A create was sent and may have been stored, but no usable answer came back. After a
    timeout the server may still be working on it (``timed_out``); after a reset or a 5xx it is done."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ClassicClient(ClassicSession):
    """Goals and tasks of one classic Cascade instance, with one bearer token.

    ``writes`` counts calls that changed Cascade; ``recovered_creates`` counts creates whose answer
    was lost and whose stored item was found and adopted instead of being created again.
    ``creator_id`` is the token's user (learned from the first create answer when not given).
    A caller that records its creates elsewhere tells the client which ids exist already
    (:meth:`known_ids`), notes the floor before each create (:meth:`last_known_id`) and, after a
    crash, asks for the item an earlier create stored (:meth:`find_created`).
    """

    # --- writes --------------------------------------------------------------------------------
    def create_goal(self, body: Mapping[str, Any], *, look_after_id: int | None = None) -> dict:
        """Create a goal (``action``, ``details``, ``start_time``, ``end_time``, ``weight_id``
        required; see :func:`split_title`). ``look_after_id``: a previous run lost this create's
        answer (``CascadeApiError.details["look_after_id"]``): look for it above that id first."""
        return self._create(GOAL, body, look_after_id)

    def create_task(self, body: Mapping[str, Any], *, look_after_id: int | None = None) -> dict:
        """Create a task (``task`` and ``goal_id`` required); ``look_after_id`` as for goals."""
        return self._create(TASK, body, look_after_id)

    def find_created(self, kind: str, body: Mapping[str, Any], *, after_id: int) -> dict | None:
        """The goal or task a create of ``body`` stored, if one was stored (looked for among the items
        this token's user created with an id above ``after_id``), else None. For a create sent by an
        earlier run that died before it could record the answer; the item found is not counted as a
        write of this client."""
        kind_ = GOAL if kind == "goal" else TASK
        found = self._stored(kind_, to_wire(body), after_id, "an earlier run's create was never recorded")
        if found is not None:
            self.recovered_creates += 1
            self._note(kind_.name, found["id"])
        return found

    # --- the create protocol -------------------------------------------------------------------
    def _create(self, kind: Kind, body: Mapping[str, Any], look_after_id: int | None) -> dict:
        """POST once; on a lost answer look for the stored item instead of sending it again.

        The look lists items created by the token's user (goals in every status, tasks of the
        body's goal) with an id above the highest id known before the first POST, matching the
        identifying fields. One match: adopted. None: the POST was not stored, so it is sent
        again (and the same protocol repeats). The look fails: CREATE_UNKNOWN, nothing re-sent,
        and the next attempt for the same body (this client, or ``look_after_id``) looks first.
        """
        wire = to_wire(body)
        key = (kind.name, json.dumps([wire.get(f) for f in kind.key_fields + kind.date_fields], default=str))
        floor = look_after_id if look_after_id is not None else self._unresolved.get(key)
        if floor is not None:
            found = self._recover(kind, wire, key, floor, "an earlier attempt's answer was lost")
            if found is not None:
                return found
        else:
            floor = self._high_water[kind.name]
        for _attempt in range(self.retry.max_attempts):
            try:
                item = self._post_once(kind, wire)
            except _LostAnswer as lost:
                self._unresolved[key] = floor
                if lost.timed_out:
                    self._sleep(self.settle_seconds)
                found = self._recover(kind, wire, key, floor, str(lost))
                if found is not None:
                    return found
                continue
            self._unresolved.pop(key, None)
            self.writes += 1
            self._note(kind.name, item.get("id"))
            return item
        raise self._unknown(kind, wire, floor, f"{self.retry.max_attempts} answers in a row were lost")

    def _post_once(self, kind: Kind, wire: dict) -> dict:
        """One POST: waits out 429s and retries a connection that never opened (nothing was
        sent), but raises :class:`_LostAnswer` for anything after the request went out."""
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self._http.post(kind.path, json={kind.name: wire}, headers=self.auth_headers())
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._retry_or_raise(attempt, f"{type(exc).__name__} on POST {kind.path}")
                continue
            except httpx.TransportError as exc:
                raise _LostAnswer(
                    f"{type(exc).__name__} after the request was sent",
                    timed_out=isinstance(exc, httpx.TimeoutException),
                ) from exc
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            wait = self.rate_limit_wait(response)
            if wait is not None:
                self.stats.rate_limited += 1
                self._wait_for_rate_limit(wait, kind.path)
                attempt -= 1
                continue
            if status >= 500:
                raise _LostAnswer(f"HTTP {status}")
            try:
                payload = response.json() if response.content else None
            except ValueError:
                payload = None
            if status >= 400:
                raise self.error_for(response, payload)
            try:
                item = self._item(kind.name, payload)
            except CascadeApiError:
                raise _LostAnswer(f"an unreadable HTTP {status} answer") from None
            if self.creator_id is None and item.get(kind.creator_field) is not None:
                self.creator_id = item[kind.creator_field]
            return item

    def _recover(self, kind: Kind, wire: dict, key: tuple, floor: int, why: str) -> dict | None:
        """The one item a lost POST of ``wire`` stored (adopted as this client's write), or None."""
        found = self._stored(kind, wire, floor, why)
        if found is None:
            return None
        self._unresolved.pop(key, None)
        self.writes += 1
        self.recovered_creates += 1
        self._note(kind.name, found["id"])
        return found

    def _stored(self, kind: Kind, wire: dict, floor: int, why: str) -> dict | None:
        """The one item created by this token's user above ``floor`` that carries ``wire``'s
        identifying fields; None when there is none; an error when there are several."""
        try:
            if kind is GOAL:
                rows = self.list_goals(status=GOAL_STATUSES, creator_id=self.creator_id)
            else:
                rows = self.list_tasks(goal_id=wire.get("goal_id"), user_id=self.creator_id)
        except CascadeApiError as err:
            raise self._unknown(kind, wire, floor, f"{why}, and looking for it failed ({err})") from err
        matches = [
            row
            for row in rows
            if isinstance(row.get("id"), int) and row["id"] > floor and matches_body(kind, wire, row)
        ]
        if len(matches) > 1:
            ids = ", ".join(str(row["id"]) for row in matches)
            raise CascadeApiError(
                f"workspace '{self.workspace}': {kind.label(wire)} matches {kind.name}s {ids}, all created by "
                f"this token's user after id {floor}: keep one, delete the others in Cascade and link the kept "
                "one in sync.id_map",
                code="CREATE_AMBIGUOUS",
                workspace=self.workspace,
                item=kind.label(wire),
                details={"kind": kind.name, "ids": [row["id"] for row in matches]},
            )
        return matches[0] if matches else None

    def _unknown(self, kind: Kind, wire: dict, floor: int, why: str) -> CascadeApiError:
        label = kind.label(wire)
        return CascadeApiError(
            f"workspace '{self.workspace}': the create of {label} may or may not have happened ({why}). It was "
            f"not sent again; the next run will look for it (a {kind.name} created by this token's user with "
            f"id above {floor}) before creating it, so it is not duplicated",
            code="CREATE_UNKNOWN",
            workspace=self.workspace,
            item=label,
            retryable=True,
            details={"kind": kind.name, "look_after_id": floor, "body": wire},
        )
