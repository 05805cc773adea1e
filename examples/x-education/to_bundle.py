#!/usr/bin/env python3
"""Turns the X Education leads spreadsheet (Leads.csv, 9,240 real leads with a `Converted`
outcome) into a smarketing bundle, the way a user brings any spreadsheet in: map its columns to
bundle columns, then `smarketing import bundle`.

    python3 examples/x-education/to_bundle.py ../shared/data/datasets/x-education-leads/Leads.csv /tmp/xedu
    smarketing import bundle /tmp/xedu --database xedu.sqlite
    smarketing scoring backtest examples/x-education/model.yaml --database xedu.sqlite \
        --from 2025-01-01 --to 2026-01-01 --horizon 30d --csv /tmp/xedu-scores.csv

What the spreadsheet does not have is made up, and said so here:
- it has no dates: leads get creation times spread evenly over 2025-01-01 … 2025-11-30 in
  `Lead Number` order (the numbers are sequential), and a converted lead reaches opportunity
  7 days after creation; all its touches happen on its first day;
- touches come from the behaviour columns: one `page_view` per visit (`TotalVisits`), one
  `page_view` of `/engaged` per full 5 minutes on the site (`Total Time Spent on Website`), a
  `form_submit` for form origins (`Lead Origin`), an `unsubscribe` for `Do Not Email = Yes`; the
  lead source is the channel.

Columns left out because they leak the outcome (filled in by sales during or after the contact,
see the data dictionary): Tags, Lead Quality, Lead Profile, Last Activity, Last Notable Activity,
the four Asymmetrique columns, and `I agree to pay the amount through cheque`.
"""
import csv
import datetime as dt
import os
import sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rows = sorted(csv.DictReader(open(src, encoding="utf-8")), key=lambda r: int(r["Lead Number"]))
start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
span = dt.datetime(2025, 11, 30, tzinfo=dt.timezone.utc) - start
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
clean = lambda v: "" if v in ("", "Select") else v

with open(os.path.join(out, "contacts.csv"), "w", newline="") as cf, open(os.path.join(out, "touchpoints.csv"), "w", newline="") as tf:
    contacts = csv.writer(cf)
    touches = csv.writer(tf)
    contacts.writerow(["id", "email", "title", "country", "source_channel", "created_at", "lifecycle_stage", "became_lead_at", "became_opportunity_at"])
    touches.writerow(["id", "contact_id", "occurred_at", "type", "channel", "properties"])
    for i, r in enumerate(rows):
        cid = "x-" + r["Lead Number"]
        created = start + span * i / len(rows)
        converted = r["Converted"] == "1"
        opp = iso(created + dt.timedelta(days=7)) if converted else ""
        contacts.writerow([
            cid, f"lead{r['Lead Number']}@x-education.example", clean(r["What is your current occupation"]), clean(r["Country"]),
            clean(r["Lead Source"]).lower(), iso(created), "opportunity" if converted else "lead", iso(created), opp,
        ])
        channel = clean(r["Lead Source"]).lower()
        n = 0

        def touch(kind, minutes, props="{}"):
            global n
            n += 1
            touches.writerow([f"{cid}-{n}", cid, iso(created + dt.timedelta(minutes=minutes)), kind, channel, props])

        if r["Lead Origin"] in ("Landing Page Submission", "Lead Add Form", "Quick Add Form"):
            touch("form_submit", 1, '{"form":"%s"}' % r["Lead Origin"].lower())
        visits = int(float(r["TotalVisits"] or 0))
        for v in range(min(visits, 50)):
            touch("page_view", 2 + v, '{"url":"/visit"}')
        for m in range(min(int(r["Total Time Spent on Website"] or 0) // 300, 50)):
            touch("page_view", 60 + m, '{"url":"/engaged"}')
        if r["Do Not Email"] == "Yes":
            touch("unsubscribe", 120)
print(f"wrote {len(rows)} contacts to {out}", file=sys.stderr)
