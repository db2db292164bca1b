"""The pure function that says which alerts are due: no scheduler, no database, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from closing.domain.alert_plan import (
    Key,
    Plan,
    alert_text,
    occurrences,
    plan_alerts,
    time_left,
)
from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.alert_rules import AlertRules, OverdueRepeat, QuietHours, StepAlerts
from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import DealTerms
from closing.domain.events import Event, Purchaser
from tests.helpers import ROOT, SEED

PACIFIC = ZoneInfo("America/Los_Angeles")
# The planner's mechanics on the seed as the current release ships it (every step at the deal's
# 17:00, the 424(b)(5) on the Fed's calendar); the market cutoffs' alerts are tested on the seed.
SEED_TERMS = load_deal_file(ROOT / "tests" / "fixtures" / "release" / SEED.name).terms
STONESTREET = Purchaser(
    1,
    "stonestreet",
    "Stonestreet Limited Partnership",
    0,
    1_935_483,
    Decimal("450000"),
    193_548,
)
BNC = Purchaser(
    2, "bnc-bach", "BNC Bach International, Ltd.", 1, 4_000_000, Decimal("930000"), 400_000
)
COMPANY = Purchaser(3, "@company", "NeoTherapeutics, Inc.", -1, 0, Decimal(0), 0, role="company")
_ids = count(1)


def at(day: int, hour: int, minute: int = 0, month: int = 6, year: int = 2002) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PACIFIC)


def marks(purchaser: Purchaser, *steps: tuple[str, datetime]) -> list[Event]:
    return [
        Event(next(_ids), purchaser.id, seq, "mark", step, when, when, "t", "h")
        for seq, (step, when) in enumerate(steps, start=1)
    ]


class Day:
    """A closing day: the ledger fills as alerts are 'sent', like the daemon would. The company
    delivered the prospectus supplement at 07:30 (every wire needs it)."""

    def __init__(
        self, terms: DealTerms = SEED_TERMS, purchasers: tuple[Purchaser, ...] = (STONESTREET, BNC)
    ) -> None:
        self.terms = terms
        self.purchasers = purchasers
        self.events: dict[int, list[Event]] = {
            COMPANY.id: marks(COMPANY, ("prospectus_delivered", at(7, 7, 30)))
        }
        self.ledger: set[Key] = set()

    def plan(self, now: datetime) -> Plan:
        terms = self.terms
        book = CalendarBook([], calendar_snapshot(terms.calendar_names(), terms.closing_date))
        deal = Deal(1, terms.slug, terms, book, at(7, 7))
        return plan_alerts(deal, self.purchasers, self.events, now, self.ledger, COMPANY)

    def send(self, now: datetime) -> list[tuple[str, str, str]]:
        """Plan at `now` and record what went out (and what it superseded) in the ledger."""
        plan = self.plan(now)
        for alert in plan.due:
            self.ledger.add(alert.key)
            for missed in alert.superseded:
                self.ledger.add((alert.purchaser.id, alert.step.id, missed.rule, alert.deadline))
        return sorted((a.purchaser.slug, a.step.id, a.rule) for a in plan.due)


def test_the_seed_rules_are_two_hours_and_thirty_minutes_before_and_at_the_cutoff() -> None:
    """Without an alerts section, the seed deal warns at 15:00 and 16:30 and alerts at 17:00."""
    cutoff = at(7, 17).astimezone(UTC)
    assert [
        (o.rule, o.fire_at.astimezone(PACIFIC).strftime("%H:%M"))
        for o in occurrences(SEED_TERMS.alerts, cutoff)
    ] == [
        ("before-2h", "15:00"),
        ("before-30m", "16:30"),
        ("deadline", "17:00"),
    ]


def test_overdue_repeats_follow_the_deadline() -> None:
    """An hourly repeat, at most three times, after the at-deadline alert."""
    rules = AlertRules(before=[], overdue=OverdueRepeat(every=timedelta(hours=1), times=3))
    cutoff = at(7, 17)
    assert [(o.rule, o.fire_at - cutoff) for o in occurrences(rules, cutoff)] == [
        ("deadline", timedelta(0)),
        ("overdue-1", timedelta(hours=1)),
        ("overdue-2", timedelta(hours=2)),
        ("overdue-3", timedelta(hours=3)),
    ]


def test_nothing_is_due_in_the_morning_and_the_next_wake_is_the_two_hour_warning() -> None:
    """At 09:00 no alert is due; the next falls at 15:00 PDT."""
    day = Day()
    plan = day.plan(at(7, 9))
    assert plan.due == []
    assert plan.next_at == at(7, 15)


def test_a_whole_closing_day_sends_each_alert_once() -> None:
    """Across June 7, 2002: only steps that can be done get alerts, each occurrence goes out
    once, and a step done before its next occurrence gets no more."""
    day = Day()
    assert day.send(at(7, 15)) == [
        ("bnc-bach", "signed", "before-2h"),
        ("stonestreet", "signed", "before-2h"),
    ]
    assert day.send(at(7, 15, 1)) == []
    day.events[STONESTREET.id] = marks(STONESTREET, ("signed", at(7, 15, 10)))
    # Signing made the wire actionable: its 2h warning (15:00) is now due, once.
    assert day.send(at(7, 15, 11)) == [("stonestreet", "wired", "before-2h")]
    day.events[STONESTREET.id] = marks(STONESTREET, ("signed", at(7, 15, 10)), ("wired", at(7, 16)))
    # The fax and the DWAC credit are now actionable: both warnings at once.
    assert day.send(at(7, 16, 1)) == [
        ("stonestreet", "dwac_credited", "before-2h"),
        ("stonestreet", "warrant_faxed", "before-2h"),
    ]
    assert day.send(at(7, 16, 30)) == [
        ("bnc-bach", "signed", "before-30m"),
        ("stonestreet", "dwac_credited", "before-30m"),
        ("stonestreet", "warrant_faxed", "before-30m"),
    ]
    assert day.send(at(7, 17)) == [
        ("bnc-bach", "signed", "deadline"),
        ("stonestreet", "dwac_credited", "deadline"),
        ("stonestreet", "warrant_faxed", "deadline"),
    ]
    plan = day.plan(at(7, 17, 1))
    assert plan.due == []
    # No repeats in the seed rules: the next alert is the company's 424(b)(5) filing, due two
    # business days after the closing (Tuesday June 11), warned at 15:00.
    assert plan.next_at == at(11, 15)


def test_the_original_warrant_alerts_run_to_the_next_business_day() -> None:
    """Faxed Friday June 7: the original's warnings fall on Monday June 10 before 17:00 PDT."""
    day = Day(purchasers=(STONESTREET,))
    day.events[STONESTREET.id] = marks(
        STONESTREET,
        ("signed", at(7, 9)),
        ("wired", at(7, 10)),
        ("warrant_faxed", at(7, 11)),
        ("dwac_credited", at(7, 12)),
    )
    plan = day.plan(at(7, 18))
    assert plan.due == []
    assert plan.next_at == at(10, 15)
    assert day.send(at(10, 15)) == [("stonestreet", "warrant_delivered", "before-2h")]
    alert = day.plan(at(10, 17, 5)).due[0]
    assert alert.deadline == at(10, 17)


def test_a_daemon_that_was_down_sends_one_late_alert_per_step() -> None:
    """Coming back at 18:30, the 2h, 30m and at-deadline alerts of BNC's signature collapse into
    one, marked as superseding the two it replaces."""
    day = Day(purchasers=(BNC,))
    plan = day.plan(at(7, 18, 30))
    assert len(plan.due) == 1
    alert = plan.due[0]
    assert (alert.step.id, alert.rule) == ("signed", "deadline")
    assert [o.rule for o in alert.superseded] == ["before-2h", "before-30m"]
    text = alert_text(SEED_TERMS, alert, at(7, 18, 30)).sent(
        alert.deadline, SEED_TERMS.zone, at(7, 18, 30)
    )
    assert text.title == "BNC Bach International, Ltd.: Agreement signed not done, late by 1h 30m"
    assert "Sent late: the alert sender was not running from 15:00 to 18:30 PDT\n" in text.body
    assert "daemon" not in text.body
    assert (
        "When it is done: closing mark-signed bnc-bach --deal neotherapeutics-2002-06-07"
        in text.body
    )


def test_a_step_undone_gets_alerts_again_but_never_the_ones_already_sent() -> None:
    """Undo after the 15:00 warning: the 16:30 warning comes, the 15:00 one does not repeat."""
    day = Day(purchasers=(BNC,))
    assert day.send(at(7, 15)) == [("bnc-bach", "signed", "before-2h")]
    signed = marks(BNC, ("signed", at(7, 15, 5)))
    day.events[BNC.id] = signed
    # The wire became actionable at 15:05: its 15:00 and 16:30 warnings collapse into one.
    assert day.send(at(7, 16, 30)) == [("bnc-bach", "wired", "before-30m")]
    undo = Event(500, BNC.id, 2, "undo", "signed", at(7, 16, 40), at(7, 16, 40), "t", "h")
    day.events[BNC.id] = [*signed, undo]
    assert day.send(at(7, 16, 41)) == [("bnc-bach", "signed", "before-30m")]


def test_a_new_deadline_makes_new_occurrences() -> None:
    """A cutoff moved to 18:00 by a changed deal file alerts again against the new deadline."""
    day = Day(purchasers=(BNC,))
    day.send(at(7, 17))
    moved = SEED_TERMS.model_copy(
        update={"cutoff": SEED_TERMS.cutoff.model_copy(update={"time": at(7, 18).time()})}
    )
    day.terms = moved
    assert day.send(at(7, 17, 1)) == [("bnc-bach", "signed", "before-2h")]
    assert day.plan(at(7, 17, 1)).next_at == at(7, 17, 30)


def october_fax_day() -> Day:
    """Stonestreet's closing moved to Friday Oct 25, 2002, all done but the original warrant."""
    terms = SEED_TERMS.model_copy(
        update={
            "agreement_date": at(25, 9, month=10).date(),
            "closing_date": at(25, 9, month=10).date(),
        }
    )
    day = Day(terms, purchasers=(STONESTREET,))
    day.events[STONESTREET.id] = marks(
        STONESTREET,
        ("signed", at(25, 9, month=10)),
        ("wired", at(25, 10, month=10)),
        ("warrant_faxed", at(25, 11, month=10)),
        ("dwac_credited", at(25, 12, month=10)),
    )
    return day


def test_alerts_across_the_end_of_daylight_saving() -> None:
    """A deal closing Friday Oct 25, 2002: the original faxed that day is due Monday Oct 28 at
    17:00 PST, so its 2h warning is at 15:00 PST, 23:00 UTC, not 22:00 UTC."""
    day = october_fax_day()
    plan = day.plan(at(26, 12, month=10))
    assert plan.next_at == datetime(2002, 10, 28, 23, 0, tzinfo=UTC)
    assert plan.next_at.astimezone(PACIFIC).strftime("%H:%M %Z") == "15:00 PST"


@pytest.mark.parametrize("hours", [0, 1, 2])
def test_the_overnight_daylight_saving_change_does_not_fire_early(hours: int) -> None:
    """Through the night of Oct 27, 2002 (clocks back at 02:00), nothing falls due before the
    Monday warnings."""
    day = october_fax_day()
    night = datetime(2002, 10, 27, 8 + hours, 30, tzinfo=UTC)  # 01:30 PDT, 01:30 PST, 02:30 PST
    assert day.plan(night).due == []


def test_waived_steps_and_withdrawn_purchasers_get_no_alerts() -> None:
    """BNC's signature waived and Stonestreet withdrawn: nothing of theirs is due at 15:00
    (BNC's wire, now actionable, is)."""
    day = Day()
    day.events[BNC.id] = [
        Event(900, BNC.id, 1, "waive", "signed", at(7, 9), at(7, 9), "t", "h", note="n/a")
    ]
    day.events[STONESTREET.id] = [
        Event(901, STONESTREET.id, 1, "withdraw", "", at(7, 9), at(7, 9), "t", "h", note="out")
    ]
    assert day.send(at(7, 15)) == [("bnc-bach", "wired", "before-2h")]


def test_the_company_steps_alert_too() -> None:
    """Without the prospectus supplement delivered, the company is told before the cutoff;
    the wires wait for it and get no alert of their own."""
    day = Day(purchasers=(STONESTREET,))
    day.events = {STONESTREET.id: marks(STONESTREET, ("signed", at(7, 9)))}
    due = day.plan(at(7, 15)).due
    assert [(a.purchaser.slug, a.step.id, a.rule) for a in due] == [
        ("@company", "prospectus_delivered", "before-2h")
    ]
    text = alert_text(SEED_TERMS, due[0], at(7, 15))
    assert "Company: NeoTherapeutics, Inc." in text.body
    assert (
        "When it is done: closing mark company prospectus_delivered --deal "
        "neotherapeutics-2002-06-07" in text.body
    )


def test_a_blocked_steps_alert_says_what_is_missing() -> None:
    """Stonestreet's fax is due but the deal file has no fax number for it: the alert says so."""
    day = Day(purchasers=(STONESTREET,))
    day.events[STONESTREET.id] = marks(STONESTREET, ("signed", at(7, 9)), ("wired", at(7, 10)))
    fax = next(a for a in day.plan(at(7, 15)).due if a.step.id == "warrant_faxed")
    text = alert_text(SEED_TERMS, fax, at(7, 15))
    assert "Missing: the deal file has no notice facsimile number for this purchaser" in text.body


def with_rules(alerts: AlertRules, **step_alerts: StepAlerts) -> DealTerms:
    """The seed terms with `alerts`, and steps' own alert rules by step id."""
    steps = [
        step.model_copy(update={"alerts": step_alerts[step.id]}) if step.id in step_alerts else step
        for step in SEED_TERMS.steps
    ]
    return SEED_TERMS.model_copy(update={"alerts": alerts, "steps": steps})


HOURLY = OverdueRepeat(every=timedelta(hours=1), times=3)


def test_a_step_can_have_its_own_rules() -> None:
    """Overdue repeats only for the wire: at 18:00 the signature gets nothing more, the wire
    its first repeat; the signature warns only 30m ahead."""
    terms = with_rules(
        AlertRules(before=[timedelta(hours=2)]),
        wired=StepAlerts(overdue=HOURLY),
        signed=StepAlerts(before=[timedelta(minutes=30)]),
    )
    day = Day(terms, purchasers=(BNC,))
    assert day.send(at(7, 15)) == []  # the signature's only warning is at 16:30
    assert day.send(at(7, 16, 30)) == [("bnc-bach", "signed", "before-30m")]
    day.events[BNC.id] = marks(BNC, ("signed", at(7, 16, 40)))
    assert day.send(at(7, 16, 41)) == [("bnc-bach", "wired", "before-2h")]
    assert day.send(at(7, 17)) == [("bnc-bach", "wired", "deadline")]
    assert day.send(at(7, 18)) == [("bnc-bach", "wired", "overdue-1")]


def test_no_repeats_in_quiet_hours() -> None:
    """Repeats every 2h from the 17:00 cutoff fall at 19:00, 21:00, 23:00 and 01:00: with quiet
    hours 22:00-07:00 only the first two go out, and nothing is waited for overnight."""
    rules = AlertRules(
        before=[],
        overdue=OverdueRepeat(every=timedelta(hours=2), times=4),
        quiet_hours=QuietHours(start=time(22), end=time(7)),
    )
    day = Day(with_rules(rules), purchasers=(BNC,))
    assert day.send(at(7, 17)) == [("bnc-bach", "signed", "deadline")]
    assert day.send(at(7, 19)) == [("bnc-bach", "signed", "overdue-1")]
    assert day.send(at(7, 21)) == [("bnc-bach", "signed", "overdue-2")]
    assert day.plan(at(7, 21, 1)).next_at is not None
    assert day.send(at(8, 2)) == []  # 23:00 and 01:00 were quiet: not owed, not sent late


def test_time_left_reads_as_people_say_it() -> None:
    """A sender wakes a few milliseconds after 16:30:00: the 30-minute warning says "30m", not
    "29m"; a time within five seconds short of a whole minute reads as that minute, any other
    rounds down; under a minute it is seconds."""
    cutoff = at(7, 17)
    millis = timedelta(milliseconds=4)
    assert time_left(cutoff, at(7, 16, 30)) == ("cutoff in 30m", "30m left")
    assert time_left(cutoff, at(7, 16, 30) + millis) == ("cutoff in 30m", "30m left")
    assert time_left(cutoff, at(7, 16, 30) + timedelta(seconds=5)) == ("cutoff in 30m", "30m left")
    assert time_left(cutoff, at(7, 16, 30) + timedelta(seconds=6))[0] == "cutoff in 29m"
    assert time_left(cutoff, at(7, 16, 29) + timedelta(seconds=50))[0] == "cutoff in 30m"
    assert time_left(cutoff, at(7, 15) + millis)[0] == "cutoff in 2h 00m"
    assert time_left(cutoff, at(7, 16, 59) + timedelta(seconds=3))[0] == "cutoff in 1m"
    assert time_left(cutoff, at(7, 16, 59) + timedelta(seconds=55))[0] == "cutoff in 5s"


def test_an_alert_sent_within_seconds_of_the_cutoff_says_at_the_cutoff() -> None:
    """From 17:00:00 to 17:00:05 the at-deadline alert says "at the cutoff", never "late by 1s";
    after that it is late by the whole seconds past."""
    cutoff = at(7, 17)
    for seconds in (0, 0.004, 1, 5):
        sent = cutoff + timedelta(seconds=seconds)
        assert time_left(cutoff, sent) == ("at the cutoff", "now")
    assert time_left(cutoff, cutoff + timedelta(seconds=6)) == ("late by 6s", "late by 6s")
    assert time_left(cutoff, at(7, 18, 30))[0] == "late by 1h 30m"


def test_a_caught_up_alert_folds_into_the_next_one_due_within_a_minute() -> None:
    """A first start at 16:29:40: BNC's 2-hour warning (due 15:00) waits twenty seconds and goes
    out at 16:30 folded into the 30-minute one, saying 30 minutes left: one alert, not two. The
    ledger keys stay those of each rule, so nothing is sent twice."""
    day = Day(purchasers=(BNC,))
    first_start = at(7, 16, 29) + timedelta(seconds=40)
    plan = day.plan(first_start)
    assert plan.due == []
    assert plan.next_at == at(7, 16, 30)
    sent_at = at(7, 16, 30) + timedelta(milliseconds=4)
    alert = day.plan(sent_at).due[0]
    assert (alert.rule, [o.rule for o in alert.superseded]) == ("before-30m", ["before-2h"])
    text = alert_text(SEED_TERMS, alert, sent_at).sent(alert.deadline, SEED_TERMS.zone, sent_at)
    assert text.title == "BNC Bach International, Ltd.: Agreement signed not done, cutoff in 30m"
    assert "Sent late: the alert sender was not running from 15:00 to 16:30 PDT\n" in text.body
    assert day.send(sent_at) == [("bnc-bach", "signed", "before-30m")]
    assert day.send(at(7, 16, 31)) == []
    assert day.send(at(7, 17)) == [("bnc-bach", "signed", "deadline")]


def test_a_caught_up_alert_a_minute_or_more_ahead_of_the_next_goes_out_at_once() -> None:
    """Caught up at 16:29:00, a minute before the 30-minute warning, the 2-hour one goes out;
    and an alert sent on time never waits, even with the next a few seconds away."""
    day = Day(purchasers=(BNC,))
    assert day.send(at(7, 16, 29)) == [("bnc-bach", "signed", "before-2h")]
    close_rules = with_rules(AlertRules(before=[timedelta(seconds=40), timedelta(seconds=10)]))
    close = Day(close_rules, purchasers=(BNC,))
    on_time = at(7, 16, 59) + timedelta(seconds=20, milliseconds=4)
    assert close.send(on_time) == [("bnc-bach", "signed", "before-40s")]
    ten_before = at(7, 16, 59) + timedelta(seconds=50)
    assert close.send(ten_before) == [("bnc-bach", "signed", "before-10s")]
