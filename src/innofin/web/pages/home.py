"""The home page: what the signed-in visitor can do next, by role.

Each area adds a function to `STEPS` that returns the next steps it offers the visitor (only
links to pages the visitor's role may open, with a count where a count says what is waiting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from innofin.access.policy import enterprise_scope, may, unlimited
from innofin.api.deps import reading
from innofin.kernel.codes import Role
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise
from innofin.scoring.models import KeyList, ScoreResult, ScoreRun, ZoneRanking
from innofin.web.deps import page
from innofin.web.pages.ledger import ledger_steps
from innofin.web.pages.referrals import matching_steps
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Step:
    title: str  # message ids, translated in the template
    text: str
    href: str
    #: what the figure counts or measures (a message id) and the figure itself (data)
    figure_label: str | None = None
    figure: str | None = None


StepSource = Callable[[Session, Principal], list[Step]]

ROLE_NAMES = {
    Role.PLATFORM_ADMIN: N_("Platform administrator"),
    Role.PROGRAMME_OFFICER: N_("Programme officer"),
    Role.ZONE_OFFICER: N_("Zone officer"),
    Role.INSTITUTION_OFFICER: N_("Institution officer"),
    Role.ENTERPRISE_USER: N_("Enterprise user"),
}


def _latest_run(s: Session) -> ScoreRun | None:
    from innofin.web.pages.enterprises import latest_run

    found = latest_run(s)
    return found[0] if found else None


def registry_steps(s: Session, p: Principal) -> list[Step]:
    steps: list[Step] = []
    if p.enterprise_id is not None:
        run = _latest_run(s)
        result = s.get(ScoreResult, (run.id, p.enterprise_id)) if run is not None else None
        steps.append(
            Step(
                N_("See your innovation points"),
                N_(
                    "Your points, how they are made up, and the three improvements that would "
                    "add the most."
                ),
                f"/enterprises/{p.enterprise_id}",
                N_("Points"),
                None if result is None else f"{result.points:.2f}",
            )
        )
        return steps
    scope = enterprise_scope(p)
    count = select(func.count()).select_from(Enterprise)
    if not unlimited(scope):
        count = count.where(scope)
    steps.append(
        Step(
            N_("Find enterprises"),
            N_(
                "Search by name or credit code; filter by zone, field, stage, certification or "
                "points."
            ),
            "/enterprises",
            N_("Enterprises you can see"),
            f"{s.scalar(count) or 0:,}",
        )
    )
    return steps


def scoring_steps(s: Session, p: Principal) -> list[Step]:
    steps: list[Step] = []
    if may(p, "score_run:read"):
        run = _latest_run(s)
        steps.append(
            Step(
                N_("Check the latest scoring run"),
                N_("Which year and indicator system was scored, and how many enterprises."),
                "/scoring/runs",
                N_("Latest year scored"),
                None if run is None else str(run.year),
            )
        )
    if may(p, "key_list:read"):
        lists = s.scalar(select(func.count(func.distinct(KeyList.name))))
        text = (
            N_("The enterprises the programme recommends to banks: review them and contact them.")
            if p.has(Role.INSTITUTION_OFFICER)
            else N_("Members with their reasons, near misses, and who entered or left.")
        )
        steps.append(
            Step(N_("Review the key-enterprise lists"), text, "/key-lists", N_("Lists"), f"{lists}")
        )
    if may(p, "zone_ranking:read"):
        ranked = s.scalar(select(func.count()).select_from(ZoneRanking))
        steps.append(
            Step(
                N_("Compare the pilot zones"),
                N_("The zones' ranking and how stable it is when the weights change."),
                "/zone-rankings",
                N_("Rankings"),
                f"{ranked}",
            )
        )
    return steps


#: the areas' next steps, in the order the home page shows them
STEPS: list[StepSource] = [registry_steps, scoring_steps, ledger_steps, matching_steps]


@router.get("/")
def home(request: Request, p: Principal = page("me:read")) -> Response:
    with reading(request) as s:
        steps = [step for source in STEPS for step in source(s, p)]
    roles = [ROLE_NAMES[r] for r in sorted(p.roles)]
    return render(request, "home.html", {"steps": steps, "roles": roles})
