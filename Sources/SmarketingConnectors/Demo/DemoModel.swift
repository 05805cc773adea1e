extension DemoWorkspace {
    /// The demo workspace's scoring model: `examples/scoring-model.yaml`, built into the binary so
    /// `serve --demo` works from anywhere (a test keeps the two equal).
    public static let scoringModelText = #"""
        # smarketing scoring model — the demo workspace's model, and an annotated example.
        #
        # A contact gets two numbers:
        #   fit        how well the person and their company match the target (rules below → points → grade)
        #   engagement what they did lately: points per touch, decaying by half every `half_life`
        # and becomes an MQL when the `mql` rule holds.
        #
        # Check a file with:  smarketing scoring validate examples/scoring-model.yaml
        # See what it would change:  smarketing scoring diff FILE; test it on history:  smarketing scoring backtest FILE
        # Make it the active version (rescores everyone):  smarketing scoring apply FILE --comment "why"

        # Default decay: engagement points halve every 7 days (w, d, h, m units).
        half_life: 7d

        # Fit points → grade. The first band whose minimum is reached wins; `rest` is the grade below all.
        grades: {A: 60, B: 40, C: 20, D: rest}

        # Fit rules: one condition each on contact.<field> or account.<field> (the bundle columns).
        # Conditions: in (list, case-insensitive), at_least / at_most (numbers), matches ("*" = any text),
        # empty (the field is blank). Points may be negative.
        fit:
          - id: target-industry
            attribute: account.industry
            in: [Software, Financial Services, Manufacturing]
            points: 20
          - id: company-size
            attribute: account.employees
            at_least: 200
            points: 25
          - id: dach
            attribute: contact.country
            in: [DE, AT, CH]
            points: 10
          - id: leader-title
            attribute: contact.title
            matches: "*head of*"
            points: 15
          - id: executive-title
            attribute: contact.title
            in: [CMO, CRO, CIO, VP Marketing, VP Sales]
            points: 20
          - id: buyer-persona
            attribute: contact.persona_id
            in: [per-cmo, per-cro, per-ops]
            points: 10
          - id: no-company
            attribute: contact.account_id
            empty: true
            points: -25

        # Engagement rules: every rule whose conditions all hold adds its points.
        # Conditions: types, url ("*" pattern on the url property), channels, campaigns,
        # content_stages (tofu/mofu/bofu), properties (name: pattern).
        # cap: per_day / per_week / total limit the points a rule can give (in time order);
        # half_life overrides the default decay for this rule.
        engagement:
          - id: pricing-page
            types: [page_view]
            url: "*/pricing*"
            points: 15
            cap: {per_day: 15, per_week: 30}
          - id: any-page
            types: [page_view]
            points: 1
            cap: {per_week: 10}
          - id: demo-request
            types: [form_submit]
            points: 30
          - id: decision-content
            types: [content_download]
            content_stages: [bofu]
            points: 20
            half_life: 30d
          - id: webinar
            types: [webinar_attended]
            points: 15
          - id: email-click
            types: [email_click]
            points: 3
            cap: {per_week: 9}
          - id: careers-page
            types: [page_view]
            url: "*/careers*"
            points: -10
          - id: unsubscribe
            types: [unsubscribe]
            points: -30

        # The MQL rule: engagement, fit (numbers); grade (by rank: grade >= B is A or B) and persona;
        # and / or / not and parentheses.
        mql: engagement >= 50 and grade in [A, B]

        """#
}
