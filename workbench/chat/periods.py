"""Periods named in an analytics question, as a [start, end) range of dates relative to today.

"today", "yesterday", "this/last week" (weeks start on Monday), "this/last month", "this/last
quarter", "this/last year", "last/past N days/weeks/months/years", "in November" (the latest
November that has begun), "in November 2026", "on 3 November", "2026-11-03", "since 2026-11-01",
"between 2026-11-01 and 2026-11-15" / "from 1 November to 15 November". A period never runs past
today. Without one, the default is the last 30 days; the answer always says which days it used."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_DAYS = 30
MONTHS = {
    name: number
    for number, full in enumerate(
        "january february march april may june july august september october november december".split(),
        start=1,
    )
    for name in (full, full[:3], "sept" if number == 9 else full)
}
MONTH_NAMES = [
    None,
    *(
        m.title()
        for m in "january february march april may june july august september "
        "october november december".split()
    ),
]
_M = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE = re.compile(
    r"\b(?:(?P<iso>\d{4}-\d{1,2}-\d{1,2})"
    rf"|(?P<dm_day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm_month>{_M})\b\.?(?:,?\s+(?P<dm_year>\d{{4}}))?"
    rf"|(?P<md_month>{_M})\.?\s+(?P<md_day>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:,?\s+(?P<md_year>\d{{4}}))?"
    rf"|(?P<m_month>{_M})\b(?:\s+(?P<m_year>\d{{4}}))?"
    r"|(?P<today>today)|(?P<yesterday>yesterday))"
)
_LAST_N = re.compile(
    r"\b(?:in\s+|over\s+|for\s+|during\s+)?(?:the\s+)?(?:last|past|previous)\s+(\d{1,4})\s+"
    r"(day|week|month|year)s?\b"
)
_NAMED = re.compile(
    r"\b(?:in\s+|over\s+|for\s+|during\s+)?(?:the\s+)?(this|current|last|past|previous)\s+"
    r"(week|month|quarter|year)\b"
)
_TO = re.compile(r"^\s*(?:and|to|until|till|through|-|–)\s*$")
# a bare month that is also an English word counts only after a preposition or before a year
_AMBIGUOUS = {"may", "march"} | {name for name in MONTHS if len(name) <= 4}


@dataclass(frozen=True)
class Period:
    """[start, end) in days; `name` is what the question called it (None: only its dates)."""

    start: date
    end: date
    name: str | None
    asked: bool  # False: the question named no period and this is the default
    span: tuple[int, int] = (0, 0)  # where the question named it

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def dates(self) -> str:
        """The days it covers, in words: "1-31 October 2026", "22 October - 20 November 2026"."""
        last = self.end - timedelta(days=1)
        first = self.start
        if last <= first:
            return f"{first.day} {MONTH_NAMES[first.month]} {first.year}"
        if (first.year, first.month) == (last.year, last.month):
            return f"{first.day}-{last.day} {MONTH_NAMES[last.month]} {last.year}"
        if first.year == last.year:
            return (
                f"{first.day} {MONTH_NAMES[first.month]} - {last.day} {MONTH_NAMES[last.month]} {last.year}"
            )
        return (
            f"{first.day} {MONTH_NAMES[first.month]} {first.year} - "
            f"{last.day} {MONTH_NAMES[last.month]} {last.year}"
        )

    def words(self) -> str:
        """ "last month (1-31 October 2026)", or only the dates when the question gave dates."""
        return f"{self.name} ({self.dates()})" if self.name else self.dates()


def parse(question: str, today: date) -> Period:
    """The period the question names, else the last 30 days (today included)."""
    text = question.lower()
    found = _last_n(text, today) or _named(text, today) or _dated(text, today)
    if found is None:
        return Period(
            today - timedelta(days=DEFAULT_DAYS - 1),
            today + timedelta(days=1),
            f"the last {DEFAULT_DAYS} days",
            False,
        )
    start, end, name, span = found
    tomorrow = today + timedelta(days=1)
    if start < tomorrow:  # never past today; a period wholly in the future stays as asked (no rows)
        end = min(end, tomorrow)
    return Period(start, max(end, start + timedelta(days=1)), name, True, span)


def without_period(question: str, period: Period) -> str:
    """The question with the period's words taken out (so "month" in "last month" matches nothing)."""
    a, b = period.span
    return question[:a] + " " + question[b:] if period.asked else question


def _last_n(text: str, today: date):
    if not (m := _LAST_N.search(text)):
        return None
    n, unit = max(1, min(int(m.group(1)), 3660)), m.group(2)
    end = today + timedelta(days=1)
    if unit in ("day", "week"):
        start = end - timedelta(days=n * (7 if unit == "week" else 1))
    else:
        start = _add_months(today, -n * (12 if unit == "year" else 1)) + timedelta(days=1)
    return start, end, f"the last {n} {unit}{'s' if n != 1 else ''}", m.span()


def _named(text: str, today: date):
    if not (m := _NAMED.search(text)):
        return None
    which, unit = m.group(1), m.group(2)
    if which == "past":  # "the past week": the rolling 7 days, not the calendar week
        rolling = _last_n("last 3 months" if unit == "quarter" else f"last 1 {unit}", today)
        return rolling[0], rolling[1], f"the past {unit}", m.span()
    current = which in ("this", "current")
    if unit == "week":
        start = today - timedelta(days=today.weekday())
        start, end = (start, today + timedelta(days=1)) if current else (start - timedelta(days=7), start)
    elif unit == "month":
        start = today.replace(day=1)
        start, end = (start, today + timedelta(days=1)) if current else (_add_months(start, -1), start)
    elif unit == "quarter":
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        start, end = (start, today + timedelta(days=1)) if current else (_add_months(start, -3), start)
    else:
        start = date(today.year, 1, 1)
        start, end = (start, today + timedelta(days=1)) if current else (date(today.year - 1, 1, 1), start)
    return start, end, f"{'this' if current else 'last'} {unit}", m.span()


def _dated(text: str, today: date):
    found = [(m, r) for m in _DATE.finditer(text) if (r := _date_range(m, text, today)) is not None]
    if not found:
        return None
    (first, (start, end)), rest = found[0], found[1:]
    before = text[: first.start()].rstrip()
    if rest and _TO.match(text[first.end() : rest[0][0].start()]) and re.search(r"\b(between|from)$", before):
        later, (_, until) = rest[0]
        return start, until, None, (_word_start(text, first.start()), later.end())
    if re.search(r"\b(since|from|after)$", before):
        return start, today + timedelta(days=1), None, (_word_start(text, first.start()), first.end())
    return start, end, first.group("today") or first.group("yesterday"), (first.start(), first.end())


def _date_range(m: re.Match, text: str, today: date) -> tuple[date, date] | None:
    """The days one date expression covers: a day, or a whole month."""
    g = m.groupdict()
    day = timedelta(days=1)
    try:
        if g["iso"]:
            start = date.fromisoformat("-".join(p.zfill(2) for p in g["iso"].split("-")))
            return start, start + day
        if g["today"] or g["yesterday"]:
            start = today - (day if g["yesterday"] else timedelta(0))
            return start, start + day
        if g["dm_month"] or g["md_month"]:
            month = MONTHS[g["dm_month"] or g["md_month"]]
            number, year = int(g["dm_day"] or g["md_day"]), g["dm_year"] or g["md_year"]
            start = date(int(year) if year else today.year, month, number)
            if not year and start > today:
                start = start.replace(year=today.year - 1)
            return start, start + day
        name, year = g["m_month"], g["m_year"]
        if (
            name in _AMBIGUOUS
            and not year
            and not re.search(
                r"\b(in|during|for|of|since|from|over|"
                r"throughout|between|and|to|until)\s*$",
                text[: m.start()],
            )
        ):
            return None
        start = date(int(year) if year else today.year, MONTHS[name], 1)
        if not year and start > today:
            start = start.replace(year=today.year - 1)
        return start, _add_months(start, 1)
    except ValueError:  # "31 February": not a date
        return None


def _word_start(text: str, at: int) -> int:
    """Where the word before `at` ("since", "between") begins."""
    return len(text[:at].rstrip().rsplit(" ", 1)[0]) if " " in text[:at].strip() else 0


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (31, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
