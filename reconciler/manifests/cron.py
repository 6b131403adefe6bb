"""Crontab expressions, parsed purely: the manifests validate schedules without a scheduler.

Five fields (minute hour day-of-month month day-of-week) with `*`, numbers, ranges, steps,
lists and month/weekday names, or a macro such as @daily. Day of week 0 and 7 are Sunday.
"""

from __future__ import annotations

#: Crontab fields: (name, lowest, highest). Day of week 7 is Sunday, as 0 is.
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
               ("month", 1, 12), ("day of week", 0, 7))  # fmt: skip
_CRON_NAMES = {
    3: {
        m: i + 1
        for i, m in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
        )
    },
    4: {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
CRON_MACROS = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}  # fmt: skip


def cron_fields(expr: str) -> tuple[frozenset[int] | None, ...]:
    """The values each of the 5 crontab fields matches; None for an unrestricted `*`.

    Pure, so manifests validate schedules without the scheduler; day of week 7 becomes 0."""
    parts = CRON_MACROS.get(expr.strip(), expr).split()
    if len(parts) != 5:
        raise ValueError(
            f"{expr!r} is not a cron schedule: expected 5 fields (minute hour day-of-month "
            f"month day-of-week) or a macro such as @daily, got {len(parts)} field(s)"
        )
    fields: list[frozenset[int] | None] = []
    for index, (part, (name, low, high)) in enumerate(zip(parts, CRON_FIELDS, strict=True)):
        values: set[int] = set()
        for item in part.lower().split(","):
            values |= _cron_item(item, name, low, high, _CRON_NAMES.get(index, {}), expr)
        if index == 4 and 7 in values:
            values = (values - {7}) | {0}
        fields.append(None if part == "*" else frozenset(values))
    return tuple(fields)


def _cron_item(
    item: str, name: str, low: int, high: int, names: dict[str, int], expr: str
) -> set[int]:
    bad = f"{expr!r} is not a cron schedule: {name} {item!r}"
    base, _, step_text = item.partition("/")
    if step_text and (not step_text.isdigit() or int(step_text) == 0):
        raise ValueError(f"{bad} has a bad step (a positive number after '/')")
    step = int(step_text or 1)

    def number(text: str) -> int:
        value = names.get(text, int(text) if text.isdigit() else None)
        if value is None or not low <= value <= high:
            raise ValueError(
                f"{expr!r} is not a cron schedule: {name} {text!r} is not in {low}-{high}"
            )
        return value

    if base == "*":
        start, end = low, high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = number(first), number(last)
        if start > end:
            raise ValueError(f"{bad}: the range runs backwards")
    else:
        start = number(base)
        end = high if step_text else start
    return set(range(start, end + 1, step))
