"""Word lists the generator draws from, so the sandbox reads like a real company's ClickUp."""

from __future__ import annotations

FIRST_NAMES = (
    "Aaron",
    "Priya",
    "Jonas",
    "Mei",
    "Carlos",
    "Fatima",
    "Liam",
    "Sofia",
    "Kwame",
    "Elena",
    "Tomasz",
    "Aisha",
    "Noah",
    "Yuki",
    "Mateo",
    "Grace",
    "Omar",
    "Hannah",
    "Ravi",
    "Chloe",
    "Diego",
    "Ingrid",
    "Samuel",
    "Leila",
    "Victor",
    "Nadia",
    "Ethan",
    "Zara",
    "Lucas",
    "Amara",
)
LAST_NAMES = (
    "Sommer",
    "Patel",
    "Berg",
    "Chen",
    "Ortega",
    "Haddad",
    "O'Brien",
    "Rossi",
    "Mensah",
    "Petrova",
    "Nowak",
    "Khan",
    "Fischer",
    "Tanaka",
    "Silva",
    "Kim",
    "Farouk",
    "Schmidt",
    "Iyer",
    "Dubois",
    "Herrera",
    "Larsen",
    "Adeyemi",
    "Navarro",
    "Lindqvist",
    "Okafor",
    "Walsh",
    "Moreau",
    "Costa",
    "Reyes",
)
COMPANIES = ("northwind", "acmeworks", "bluepeak", "lumen-labs", "harborline", "solstice")
WORKSPACE_NAMES = ("Northwind HQ", "Acme Works", "Blue Peak Studio", "Lumen Labs", "Harborline Ops", "Solstice")

USER_COLORS = ("#4169e1", "#7b68ee", "#e91e63", "#ff7800", "#0ab7a5", "#827718", "#2196f3", "#9c27b0")
SPACE_COLORS = ("#7B68EE", "#FFA12F", "#30A46C", "#E5484D", "#0091FF", "#AB4ABA")

SPACE_NAMES = (
    "Engineering",
    "Marketing",
    "Operations",
    "Customer Success",
    "Product",
    "Finance",
    "People",
    "Sales",
)
FOLDER_NAMES = (
    "Platform",
    "Website Relaunch",
    "Growth Experiments",
    "Q3 Initiatives",
    "Mobile App",
    "Data Warehouse",
    "Partner Program",
    "Brand Refresh",
    "Onboarding",
    "Compliance",
    "Pricing",
    "Support Tooling",
)
LIST_NAMES = (
    "Backlog",
    "Roadmap",
    "Launch Plan",
    "Sprint 14",
    "Sprint 15",
    "Bugs",
    "Research",
    "Content Calendar",
    "Vendor Reviews",
    "Hiring Plan",
    "Q3 Goals",
    "Release Checklist",
    "Ops Requests",
    "Experiments",
)
FOLDERLESS_LIST_NAMES = ("General", "Inbox", "Team Requests", "Quick Wins", "Shared Tasks")

TASK_VERBS = (
    "Draft",
    "Review",
    "Migrate",
    "Launch",
    "Audit",
    "Design",
    "Ship",
    "Document",
    "Refactor",
    "Test",
    "Plan",
    "Negotiate",
    "Automate",
    "Publish",
    "Interview for",
    "Benchmark",
    "Fix",
    "Roll out",
)
TASK_OBJECTS = (
    "onboarding email sequence",
    "billing service to Postgres 16",
    "Q3 pricing page",
    "SOC 2 evidence folder",
    "mobile checkout flow",
    "partner API rate limits",
    "customer health dashboard",
    "release notes for v4.2",
    "SSO for enterprise tenants",
    "churn survey",
    "data retention policy",
    "landing page A/B test",
    "support macros",
    "vendor contract renewal",
    "search relevance tuning",
    "weekly KPI report",
    "design system tokens",
    "webhook retry logic",
    "Senior Backend Engineer role",
    "help center articles",
    "infrastructure cost review",
    "accessibility fixes on signup",
    "warehouse load jobs",
    "NPS follow-ups",
)
SUBTASK_NAMES = (
    "Write acceptance criteria",
    "Get sign-off from legal",
    "Update the runbook",
    "Pair review",
    "Collect screenshots",
    "Schedule stakeholder demo",
    "Add monitoring alerts",
    "Clean up feature flag",
)
DESCRIPTIONS = (
    "Agreed in the planning meeting. Owner to post progress in the channel every Friday.",
    "Context in the kickoff doc. Blocked items go to the weekly ops review.",
    "Customer asked for this twice in the last quarter; see linked tickets.",
    "Keep the scope small: one iteration, then measure.",
    "Follow-up from the incident retro. Needs a dry run on staging first.",
)
CHECKLIST_ITEMS = (
    "Draft",
    "Peer review",
    "Stakeholder approval",
    "Publish",
    "Announce",
    "Measure impact",
    "Archive notes",
)

TAGS = (
    ("backend", "#ffffff", "#7C4DFF"),
    ("frontend", "#ffffff", "#0091FF"),
    ("urgent", "#ffffff", "#E5484D"),
    ("q3", "#000000", "#FFD700"),
    ("customer", "#ffffff", "#30A46C"),
    ("tech-debt", "#ffffff", "#8D8D8D"),
)

PRIORITIES = {
    1: {"color": "#f50000", "id": "1", "orderindex": "1", "priority": "urgent"},
    2: {"color": "#ffcc00", "id": "2", "orderindex": "2", "priority": "high"},
    3: {"color": "#6fddff", "id": "3", "orderindex": "3", "priority": "normal"},
    4: {"color": "#d8d8d8", "id": "4", "orderindex": "4", "priority": "low"},
}

# Two status schemes, so spaces are not all alike; both hold every status type.
STATUS_SCHEMES = (
    (
        ("to do", "open", "#d3d3d3"),
        ("in progress", "custom", "#4194f6"),
        ("review", "custom", "#a875ff"),
        ("on hold", "custom", "#f9d900"),
        ("done", "done", "#6bc950"),
        ("complete", "closed", "#008844"),
        ("cancelled", "closed", "#e50000"),
    ),
    (
        ("to do", "open", "#d3d3d3"),
        ("in progress", "custom", "#4194f6"),
        ("blocked", "custom", "#ff7800"),
        ("on hold", "custom", "#f9d900"),
        ("done", "done", "#6bc950"),
        ("complete", "closed", "#008844"),
        ("cancelled", "closed", "#e50000"),
    ),
)

DROP_DOWN_OPTIONS = (("Tier 1", "#e50000"), ("Tier 2", "#ff7800"), ("Tier 3", "#f9d900"), ("Tier 4", "#6bc950"))
LABEL_OPTIONS = (
    ("Platform", "#7C4DFF"),
    ("Growth", "#30A46C"),
    ("Design", "#E5484D"),
    ("Data", "#0091FF"),
    ("Support", "#FFA12F"),
    ("Security", "#8D8D8D"),
)
