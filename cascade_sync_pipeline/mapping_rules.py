"""The mapping rules of one workspace (``workspaces[].mapping``): how its items become Cascade items.

On the Integrations API only ``plan``, ``links``, ``progress``, ``measure_field`` and
``max_zeroed_share`` apply (it links to existing actions and measures). On the classic API the
rest drive the create-and-maintain engine (``sync/goals/``): which source items and containers
become goals and tasks, where top-level goals land, statuses, owners, weights and progress.
Cascade ids in these rules are the classic API's integer ids; nothing is looked up by name there,
since the classic API lists no focus areas, templates or users.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StatusCategory = Literal["not_started", "in_progress", "done", "deferred", "cancelled"]
ItemType = Literal["task", "subtask", "milestone", "project"]
ContainerType = Literal["space", "folder", "list"]
StatusOutcome = Literal["open", "complete", "archived"]

DEFAULT_STATUS_FALLBACK: dict[StatusCategory, StatusOutcome] = {
    "not_started": "open",
    "in_progress": "open",
    "done": "complete",
    "deferred": "open",
    "cancelled": "archived",
}
DEFAULT_ITEM_TYPES: tuple[ItemType, ...] = ("task", "milestone", "project")
DEFAULT_WEIGHTS: dict[str, int] = {"urgent": 1, "high": 2, "normal": 3, "low": 4}
CONTAINER_GOALS = {"clickup": ("space", "folder", "list"), "wrike": ("space", "folder")}
DEFAULT_CONTAINER_GOALS = {"clickup": ["list"], "wrike": []}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgressRule(Strict):
    """How an item's progress is computed when it is not done (done is always 100 %)."""

    source: Literal["status", "subtasks", "checklist", "custom_field"] = "subtasks"
    custom_field: str | None = None

    @model_validator(mode="after")
    def _field_named(self) -> ProgressRule:
        if self.source == "custom_field" and not self.custom_field:
            raise ValueError("custom_field: name the source custom field that holds the progress")
        return self


class LinkRule(Strict):
    """A link set in the config (Integrations API): a source container or item to one Cascade
    action or measure.

    Each side is an id or an exact name; names are resolved at the first run and pinned.
    An action takes the linked item's progress, or the share of done items of a container
    (weighted by ``weight_field`` when given). A measure takes ``value``: ``count_done`` or
    ``sum`` (of ``field``, done items) over a container, ``field`` (a numeric field) or
    ``progress`` of an item."""

    container: str | None = None
    item: str | None = None
    action: str | None = None
    measure: str | None = None
    weight_field: str | None = None
    value: Literal["count_done", "sum", "field", "progress"] | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> LinkRule:
        if (self.container is None) == (self.item is None):
            raise ValueError("give exactly one of container (a list, folder, space or project) or item (a task)")
        if (self.action is None) == (self.measure is None):
            raise ValueError("give exactly one of action or measure (its id or exact name in the plan)")
        if self.action is not None and self.value is not None:
            raise ValueError("value: an action takes progress; value applies to measures")
        if self.weight_field is not None and (self.action is None or self.container is None):
            raise ValueError("weight_field: only for an action linked to a container")
        allowed = ("count_done", "sum") if self.container is not None else ("field", "progress")
        if self.value is not None and self.value not in allowed:
            raise ValueError(
                f"value: a measure linked to a{' container' if self.container else 'n item'} takes "
                f"one of {', '.join(allowed)}"
            )
        if self.value in ("sum", "field") and not self.field:
            raise ValueError(f"field: name the numeric source field that value '{self.value}' reads")
        return self

    @property
    def measure_value(self) -> str:
        if self.value is not None:
            return self.value
        if self.container is not None:
            return "sum" if self.field else "count_done"
        return "field" if self.field else "progress"

    @property
    def label(self) -> str:
        source = f"container '{self.container}'" if self.container is not None else f"item '{self.item}'"
        target = f"action '{self.action}'" if self.action is not None else f"measure '{self.measure}'"
        return f"{source} -> {target}"


class Placement(Strict):
    """Where top-level goals land in Cascade (classic API): under focus areas (their ids), or
    aligned to a parent goal (its id). Exactly one."""

    focus_area_ids: list[int] = Field(default_factory=list)
    parent_goal_id: int | None = Field(default=None, gt=0)

    @field_validator("focus_area_ids")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(i < 1 for i in v):
            raise ValueError("focus area ids are positive integers (Cascade > Strategy Model)")
        return sorted(set(v))

    @model_validator(mode="after")
    def _one(self) -> Placement:
        if bool(self.focus_area_ids) == (self.parent_goal_id is not None):
            raise ValueError(
                "give focus_area_ids (where top-level goals land) or parent_goal_id (the goal they "
                "align to), exactly one"
            )
        return self


class ContainerPlacement(Placement):
    """Another placement for the top-level goals under one source container (id or exact name)."""

    container: str


class GoalTemplates(Strict):
    """The goal template (``entity_template_id``) of each kind of goal; a kind left out is created
    with Cascade's default template."""

    objective: int | None = Field(default=None, gt=0, description="Wrike projects and containers that become goals.")
    project: int | None = Field(default=None, gt=0, description="Tasks synced as goals (tasks_as: project).")
    kpi: int | None = Field(default=None, gt=0, description="Tasks synced as KPI goals (tasks_as: kpi).")


class MappingRules(Strict):
    """How one workspace's items become Cascade items (see the module docstring)."""

    # --- Integrations API ---------------------------------------------------------------------
    plan: str | None = Field(default=None, description="The Cascade plan (id or exact name) the links point into.")
    links: list[LinkRule] = Field(default_factory=list)
    measure_field: str | None = Field(
        default=None,
        description="Numeric source field a measure linked through the Cascade ID field takes "
        "(default: the item's progress).",
    )
    max_zeroed_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A run that would drop more than this share of the linked values (that were above 0) to 0 "
        "at once stops before writing, naming the cause.",
    )
    progress: ProgressRule = Field(default_factory=ProgressRule)

    # --- which source items drive Cascade (classic API) ---------------------------------------
    item_types: list[ItemType] = Field(
        default_factory=lambda: list(DEFAULT_ITEM_TYPES),
        description="Source item types that drive Cascade; subtasks left out still count for the subtasks progress rule.",
    )
    statuses: list[str] = Field(default_factory=list, description="Only items in these source statuses (empty: all).")
    exclude_statuses: list[str] = Field(default_factory=list)
    containers: list[str] = Field(default_factory=list, description="Only items of these containers (ID or name).")
    include_archived: bool = False

    # --- what they become (classic API) -------------------------------------------------------
    target: Placement | None = Field(default=None, description="Where top-level goals land.")
    by_container: list[ContainerPlacement] = Field(default_factory=list)
    goals_from: list[ContainerType] | None = Field(
        default=None,
        description="Container types that become goals (ClickUp: space, folder, list; Wrike: space, "
        "folder; Wrike projects are goals through item_types). Default: ClickUp lists.",
    )
    tasks_as: Literal["task", "project", "kpi"] = Field(
        default="task",
        description="task: a Cascade task on the goal of its container; project or kpi: a goal of "
        "that kind aligned to it. Subtasks are always tasks on their parent's goal.",
    )
    checklists_as_tasks: bool = Field(
        default=True, description="Checklist items of an item synced as a goal become tasks on that goal."
    )
    templates: GoalTemplates = Field(default_factory=GoalTemplates)
    goal_progress: Literal["manual", "tasks"] = Field(
        default="manual",
        description="manual: goal progress 0-100 from the progress rule (tracking_type MANUAL); "
        "tasks: Cascade computes it from the goal's tasks (tracking_type TASKS).",
    )
    status_rules: dict[str, StatusOutcome] = Field(
        default_factory=dict, description="Source status name (case-insensitive) -> open | complete | archived."
    )
    status_fallback: dict[StatusCategory, StatusOutcome] = Field(default_factory=lambda: dict(DEFAULT_STATUS_FALLBACK))
    weights: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="Source priority (ClickUp priority, Wrike importance; case-insensitive) -> weight_id 1-4.",
    )
    default_weight: int = Field(default=3, ge=1, le=4, description="weight_id of items without a priority.")
    default_goal_days: int = Field(default=90, ge=1, description="Length of a goal whose item has no due date.")
    on_delete_task: Literal["complete", "delete"] = Field(
        default="complete",
        description="A task gone from the source is marked complete in Cascade, or deleted. "
        "Goals are archived (status ARCHI), never deleted.",
    )
    max_archived_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="A run that would archive or delete more than this share of the workspace's Cascade items at "
        "once stops before writing, naming them.",
    )
    unmatched_owners: Literal["block", "warn"] = Field(
        default="block",
        description="An assignee with no Cascade user (cascade.users, by email) stops the publish, or only warns.",
    )

    @field_validator("status_rules", "weights")
    @classmethod
    def _lower_keys(cls, v: dict) -> dict:
        return {k.strip().lower(): value for k, value in v.items()}

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, int]) -> dict[str, int]:
        bad = [k for k, w in v.items() if not 1 <= w <= 4]
        if bad:
            raise ValueError(f"'{bad[0]}': a weight_id is 1 (highest) to 4 (lowest)")
        return v

    def container_goals(self, source: str) -> list[str]:
        return list(self.goals_from) if self.goals_from is not None else DEFAULT_CONTAINER_GOALS[source]

    def classic_problem(self, source: str) -> str | None:
        """What keeps these rules from working on the classic API: "field: message", or None."""
        if self.target is None:
            return (
                "target: say where top-level goals land: focus_area_ids (ids from Cascade > Strategy Model) or "
                "parent_goal_id"
            )
        allowed = CONTAINER_GOALS[source]
        wrong = [c for c in self.container_goals(source) if c not in allowed]
        if wrong:
            return (
                f"goals_from: {source} has no '{wrong[0]}' containers that can become goals (choose from "
                f"{', '.join(allowed)})"
            )
        if (
            self.tasks_as == "task"
            and not self.container_goals(source)
            and self.target.parent_goal_id is None
            and not (source == "wrike" and "project" in self.item_types)
        ):
            return (
                "goals_from: tasks become Cascade tasks (tasks_as: task) and need a goal: choose containers that "
                "become goals (e.g. goals_from: [list]), a target.parent_goal_id, or tasks_as: project"
            )
        return None
