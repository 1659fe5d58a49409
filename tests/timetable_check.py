"""An independent checker of matchmaking timetables, written from the rules as the issue states
them and in plain Python (loops and dictionaries), sharing no code with the solver: it reads an
`Instance`'s fields and a `Schedule`'s rows and returns every rule they break. Also the value
of a schedule, recomputed from the documented objective, and a brute-force optimum for tiny
instances.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

REASONS = {
    "no_common_slot",
    "institution_full",
    "enterprise_full",
    "no_common_free_slot",
    "left_out",
}


def _available(flags: Any, who: int, slot: int) -> bool:
    return flags is None or not bool(flags[who][slot])


def can_meet(instance: Any, e: int, i: int, t: int) -> bool:
    return (
        int(instance.desks[i]) > 0
        and _available(instance.enterprise_unavailable, e, t)
        and _available(instance.institution_unavailable, i, t)
    )


def values(instance: Any) -> list[int]:
    """A meeting's value: its weight, plus twice the largest weight when mutual."""
    weights = [int(w) for w in instance.request_weight]
    top = max(weights, default=0)
    return [
        w + (2 * top if bool(m) else 0)
        for w, m in zip(weights, instance.request_mutual, strict=True)
    ]


def keep_value(instance: Any) -> int:
    return 2 * max(values(instance), default=0) + 1


def session(instance: Any, t: int) -> int:
    return 0 if instance.session_of_slot is None else int(instance.session_of_slot[t])


def group(instance: Any, t: int) -> int:
    """How many institutions may meet one enterprise at once in slot t."""
    sizes = getattr(instance, "session_group_size", None)
    return 1 if sizes is None else int(sizes[session(instance, t)])


def violations(instance: Any, meetings: list[tuple[int, int]]) -> list[str]:
    """The rules a list of (request, slot) breaks."""
    problems = []
    n_r = len(instance.request_enterprise)
    requests = [r for r, _ in meetings]
    if len(set(requests)) != len(requests):
        problems.append("a pair meets twice")
    by_enterprise_slot: Counter[tuple[int, int]] = Counter()
    by_institution_slot: Counter[tuple[int, int]] = Counter()
    per_enterprise: Counter[int] = Counter()
    per_institution: Counter[int] = Counter()
    per_enterprise_session: Counter[tuple[int, int]] = Counter()
    per_institution_session: Counter[tuple[int, int]] = Counter()
    for r, t in meetings:
        if not 0 <= r < n_r or not 0 <= t < instance.n_slots:
            problems.append(f"meeting ({r}, {t}) out of range")
            continue
        e, i = int(instance.request_enterprise[r]), int(instance.request_institution[r])
        if not can_meet(instance, e, i, t):
            problems.append(f"request {r} in slot {t} where a party is unavailable")
        by_enterprise_slot[e, t] += 1
        by_institution_slot[i, t] += 1
        per_enterprise[e] += 1
        per_institution[i] += 1
        per_enterprise_session[e, session(instance, t)] += 1
        per_institution_session[i, session(instance, t)] += 1
    for (e, t), n in by_enterprise_slot.items():
        if n > group(instance, t):
            problems.append(f"enterprise {e} has {n} meetings in slot {t}")
    for (i, t), n in by_institution_slot.items():
        if n > int(instance.desks[i]):
            problems.append(f"institution {i} has {n} meetings in slot {t}, more than its desks")
    caps = [
        (instance.enterprise_cap, per_enterprise, lambda k: k),
        (instance.institution_cap, per_institution, lambda k: k),
        (instance.enterprise_session_cap, per_enterprise_session, lambda k: k[0]),
        (instance.institution_session_cap, per_institution_session, lambda k: k[0]),
    ]
    for cap, counts, who in caps:
        if cap is None:
            continue
        for key, n in counts.items():
            if n > int(cap[who(key)]):
                problems.append(f"cap broken at {key}: {n} > {int(cap[who(key)])}")
    return problems


def kept(instance: Any, meetings: list[tuple[int, int]]) -> int:
    """Announced meetings held by the same pair in the same slot."""
    held = {
        (int(instance.request_enterprise[r]), int(instance.request_institution[r]), t)
        for r, t in meetings
    }
    announced = zip(
        instance.announced_enterprise.tolist(),
        instance.announced_institution.tolist(),
        instance.announced_slot.tolist(),
        strict=True,
    )
    return sum(1 for a in announced if a in held)


def value(instance: Any, meetings: list[tuple[int, int]]) -> int:
    v = values(instance)
    return sum(v[r] for r, _ in meetings) + keep_value(instance) * kept(instance, meetings)


def check_schedule(instance: Any, schedule: Any) -> list[str]:
    """Every rule the schedule breaks, and every way its report disagrees with its rows."""
    meetings = [(int(r), int(t)) for r, t in zip(schedule.request, schedule.slot, strict=True)]
    problems = violations(instance, meetings)
    for k, (r, _t) in enumerate(meetings):
        if not 0 <= r < len(instance.request_enterprise):
            continue
        if int(schedule.enterprise[k]) != int(instance.request_enterprise[r]):
            problems.append(f"meeting {k}: wrong enterprise")
        if int(schedule.institution[k]) != int(instance.request_institution[r]):
            problems.append(f"meeting {k}: wrong institution")
        if int(schedule.weight[k]) != int(instance.request_weight[r]):
            problems.append(f"meeting {k}: wrong weight")
        if bool(schedule.mutual[k]) != bool(instance.request_mutual[r]):
            problems.append(f"meeting {k}: wrong mutual flag")
    desks_used: Counter[tuple[int, int, int]] = Counter()
    for k, (r, t) in enumerate(meetings):
        i = int(instance.request_institution[r])
        d = int(schedule.desk[k])
        if not 0 <= d < int(instance.desks[i]):
            problems.append(f"meeting {k}: desk {d} of institution {i} does not exist")
        desks_used[i, t, d] += 1
    problems += [f"desk {key} used {n} times in a slot" for key, n in desks_used.items() if n > 1]
    if schedule.objective != value(instance, meetings):
        problems.append(f"objective {schedule.objective} != {value(instance, meetings)}")
    held = {r for r, _ in meetings}
    left = [int(r) for r in schedule.unscheduled]
    if sorted(left) != [r for r in range(len(instance.request_enterprise)) if r not in held]:
        problems.append("unscheduled is not the requests without a meeting")
    if len(schedule.unscheduled_reason) != len(left):
        problems.append("one reason per unscheduled request expected")
    for r, why in zip(left, schedule.unscheduled_reason, strict=False):
        e, i = int(instance.request_enterprise[r]), int(instance.request_institution[r])
        never = not any(can_meet(instance, e, i, t) for t in range(instance.n_slots))
        if why not in REASONS or (why == "no_common_slot") != never:
            problems.append(f"request {r}: reason {why!r}")
    if len(schedule.announced_outcome) != len(instance.announced_slot):
        problems.append("one outcome per announced meeting expected")
    if (
        schedule.upper_bound == schedule.upper_bound
        and schedule.upper_bound < schedule.objective - 1e-6
    ):
        problems.append("objective above the upper bound")
    return problems


def brute_force(instance: Any) -> int:
    """The best value over every assignment of each request to a slot or to none."""
    n_r, n_t = len(instance.request_enterprise), instance.n_slots
    best = 0
    chosen: list[tuple[int, int]] = []

    def go(r: int) -> None:
        nonlocal best
        if r == n_r:
            best = max(best, value(instance, chosen))
            return
        go(r + 1)
        for t in range(n_t):
            chosen.append((r, t))
            if not violations(instance, chosen):
                go(r + 1)
            chosen.pop()

    go(0)
    return best
