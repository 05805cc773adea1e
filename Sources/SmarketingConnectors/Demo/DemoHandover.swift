extension DemoWorkspace {
    /// The demo workspace's handover configuration: `examples/handover.yaml`, built into the
    /// binary so `serve --demo` works from anywhere (a test keeps the two equal).
    public static let handoverConfigText = #"""
        # smarketing handover configuration — the demo workspace's, and an annotated example.
        #
        # When a contact becomes an MQL, smarketing routes it to an owner (routing, in order), starts the
        # SLA clocks of the first policy that matches (sla), and from then on counts the owner's answer
        # (accept / qualify / reject with a reason) and sales touches (call, email_sent, meeting,
        # sales_accept, sales_reject events with an actor_id) against those clocks. A background service
        # warns and escalates when a clock is about to breach and when it breaches.
        #
        # Check a file:   smarketing handover validate examples/handover.yaml
        # Make it active: smarketing handover apply examples/handover.yaml --comment "why"
        # Every problem is reported with line and column; a file with any problem is refused whole.

        # Business-hours calendars: an IANA time zone, weekly hours, holidays (local dates).
        # hours: weekdays / weekend / every_day, or mon … sun; "09:00-12:30, 13:30-17:00" or "closed".
        calendars:
          berlin:
            timezone: Europe/Berlin
            hours: {weekdays: "09:00-17:00"}
            holidays: [2026-12-24, 2026-12-25, 2026-12-26, 2026-12-31, 2027-01-01, 2027-04-02, 2027-04-05, 2027-05-01]
          new-york:
            timezone: America/New_York
            hours: {weekdays: "09:00-17:30"}
            holidays: [2026-11-26, 2026-12-25, 2027-01-01]

        # Teams: the calendar their SLA business time is counted on, a manager (escalations go to them;
        # they may reassign), members (user ids; their `capacity` column caps their open leads and
        # weights the round-robin).
        teams:
          sdr:
            calendar: berlin
            manager: u-sales-mgr
            members: [u-sdr-1, u-sdr-2, u-sdr-3, u-sdr-4]
          ae:
            calendar: berlin
            manager: u-sales-mgr
            members: [u-ae-1, u-ae-2, u-ae-3, u-ae-4]

        # Per rep: a calendar of their own (working hours in another time zone than the team's) and
        # absences (dates or ISO 8601 instants; `to` is exclusive). Reps who are away or outside their
        # working hours are skipped by the round-robin.
        reps:
          u-sdr-4:
            calendar: new-york
          u-ae-4:
            out_of_office:
              - {from: 2026-12-21, to: 2027-01-04}

        # Rejection reasons sales may give, and what a rejection does to the contact:
        # recycle (back to nurturing, may qualify again) or disqualify (out of the funnel).
        reasons:
          bad_fit: {label: Bad fit, action: disqualify}
          no_budget: {label: No budget, action: recycle}
          not_reachable: {label: Not reachable, action: recycle}
          duplicate: {label: Duplicate, action: disqualify}
          competitor: {label: Competitor, action: disqualify}
          student: {label: Student, action: disqualify}
          timing: {label: Bad timing, action: recycle}

        # Segments: the first whose conditions hold names the lead's segment (used by routing, SLA
        # policies, reports and marketing's monthly commitments in targets.csv).
        # Conditions map an attribute (contact.<field>, account.<field>, grade, segment, team) to a list
        # of values (case-insensitive) or {at_least: n} / {at_most: n} / {matches: "*pattern*"} / {empty: true}.
        segments:
          - id: enterprise
            when: {account.employees: {at_least: 1000}}
          - id: mid-market
            when: {account.employees: {at_least: 200}}
          - id: smb
            when: {}

        # Routing, tried in order: the account's owner first (account-based), then pools of teams by
        # territory / segment; within a pool a weighted round-robin by capacity. Every assignment
        # records the rule and the candidates considered.
        routing:
          - id: account-owner
            account_owner: true
          - id: enterprise-to-ae
            when: {segment: [enterprise]}
            team: ae
          - id: dach-sdr
            when: {contact.country: [DE, AT, CH]}
            team: sdr
          - id: everyone-else
            team: sdr

        # When no rule finds anyone available, the lead waits in this queue; its owner (a manager)
        # assigns it. The queue's clocks run on this calendar.
        fallback:
          queue: triage
          owner: u-sales-mgr
          calendar: berlin

        # SLA policies: the first whose conditions hold applies (grade, segment, team, any attribute).
        # Durations: 15m, 4h, 2d, 1w; "4h business" counts the team's business hours only.
        # Clocks: assign_within (while waiting in the queue), accept_within (accept/qualify/reject),
        # first_touch_within (first sales action), follow_up (K sales touches within a span).
        # warn_before: a warning that long before the due time (same measure as the clock).
        # Actions: notify_owner, notify_manager (webhook events sla.warning / sla.breached naming them),
        # reassign (next rep of the pool) or return_to_queue.
        sla:
          - id: hot
            when: {grade: [A]}
            assign_within: 15m
            accept_within: 2h business
            first_touch_within: 4h business
            follow_up: {touches: 3, within: 5d}
            warn_before: 30m
            on_warning: [notify_owner]
            on_breach: [notify_owner, notify_manager, reassign]
          - id: standard
            assign_within: 1h
            accept_within: 8h business
            first_touch_within: 16h business
            follow_up: {touches: 2, within: 7d}
            warn_before: 1h
            on_warning: [notify_owner]
            on_breach: [notify_owner, notify_manager]
        """#
}
