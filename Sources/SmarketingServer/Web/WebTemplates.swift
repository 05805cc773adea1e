/// The page templates (mustache), compiled into the binary so that it serves everything a page
/// needs by itself. `{{x}}` is escaped; `{{{x}}}` only carries HTML the server built (SVG charts,
/// rendered regions).
enum WebTemplates {
    static var all: [String: String] {
        [
            "layout": layout, "login": login, "error": error, "dashboard": WebApp.dashboardTemplate, "dashboardLive": WebApp.dashboardLiveTemplate,
            "inbox": WebApp.inboxTemplate, "leads": WebApp.leadsTemplate, "lead": WebApp.leadTemplate, "campaigns": WebApp.campaignsTemplate,
            "campaign": WebApp.campaignTemplate, "pipeline": WebApp.pipelineTemplate, "personas": WebApp.personasTemplate,
            "content": WebApp.contentTemplate, "settings": settings, "records": WebApp.recordsTemplate,
            "meetings": WebApp.meetingsTemplate, "meeting": WebApp.meetingTemplate, "action-item": WebApp.actionItemTemplate,
            "rate-form": WebApp.rateFormTemplate, "lead-quality": WebApp.leadQualityTemplate,
        ]
    }

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · smarketing</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
        <body><a class="skip" href="#main">Skip to content</a>
        <header class="top"><a class="brand" href="/">smarketing</a>
        {{#user}}<nav aria-label="Main"><ul>{{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}</ul></nav>
        <form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf" value="{{csrf}}"><span>{{name}} · {{role}}</span><button type="submit">Sign out</button></form>{{/user}}
        </header>
        <main id="main">{{#flash}}<p class="flash{{#bad}} bad{{/bad}}" role="status">{{text}}</p>{{/flash}}
        {{{body}}}
        </main></body></html>
        """

    static let login = """
        <div class="login card"><h1>Sign in</h1>
        {{#error}}<p class="error" role="alert" id="login-error">{{error}}</p>{{/error}}
        <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{next}}">
        <label>Email <input type="email" name="email" value="{{email}}" autocomplete="username" required autofocus{{#error}} aria-describedby="login-error"{{/error}}></label>
        <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
        <button type="submit">Sign in</button></form></div>
        """

    static let error = """
        <h1>{{reason}}</h1><p class="error" role="alert">{{detail}}</p><p><a href="/">Back to the start page</a></p>
        """

    static let settings = """
        <h1>{{section}}</h1>
        <nav class="tabs" aria-label="Settings sections">{{#tabs}}<a href="/settings/{{id}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/tabs}}</nav>
        {{#roleError}}<p class="error" role="alert">{{roleError}}</p>{{/roleError}}
        {{#is_users}}<div class="card scroll"><table><thead><tr><th>User</th><th>Team</th><th>Access role</th></tr></thead><tbody>
        {{#users}}<tr><td>{{name}}<br><span class="muted">{{email}}</span></td><td>{{team}}</td><td><form method="post" action="/settings/users/role" class="actions"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="user_id" value="{{id}}"><label><select name="access_role" aria-label="Access role of {{name}}">{{#roles}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/roles}}</select></label><button type="submit" class="secondary">Save</button></form></td></tr>{{/users}}
        </tbody></table></div>
        <section class="card"><h2>Set a password</h2><form method="post" action="/settings/users/password" class="filters"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>User <select name="user_id">{{#users}}<option value="{{id}}">{{name}}</option>{{/users}}</select></label>
        <label>New password <input type="password" name="password" autocomplete="new-password"{{#passwordError}} aria-invalid="true" aria-describedby="err-password"{{/passwordError}}>{{#passwordError}}<span class="field-error" id="err-password">{{passwordError}}</span>{{/passwordError}}</label>
        <button type="submit">Set password</button></form></section>{{/is_users}}
        {{#newToken}}<div class="flash" role="status"><p>New token “{{newTokenName}}” — copy it now, it is not shown again:</p><p><code id="new-token">{{newToken}}</code></p></div>{{/newToken}}
        {{#is_tokens}}<section class="card"><h2>Create a token</h2>{{#tokenError}}<p class="field-error" role="alert">{{tokenError}}</p>{{/tokenError}}
        <form method="post" action="/settings/tokens/create" class="filters"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Name <input name="name" placeholder="what uses it"></label><label>User <select name="user_id">{{#userOptions}}<option value="{{id}}">{{label}}</option>{{/userOptions}}</select></label>
        <label>Role <select name="role">{{#roles}}<option>{{.}}</option>{{/roles}}</select></label><button type="submit">Create</button></form></section>
        <div class="card scroll"><table><thead><tr><th>Name</th><th>User</th><th>Role</th><th>Created</th><th></th></tr></thead><tbody>
        {{#tokens}}<tr><td>{{name}}</td><td>{{user}}</td><td>{{role}}</td><td>{{created}}</td><td>{{#revoked}}revoked {{revoked}}{{/revoked}}{{^revoked}}<form method="post" action="/settings/tokens/revoke"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button type="submit" class="danger">Revoke</button></form>{{/revoked}}</td></tr>{{/tokens}}
        </tbody></table></div>{{/is_tokens}}
        {{#is_webhooks}}
        {{#newSecret}}<div class="flash" role="status"><p>Subscribed {{newHook}}. Its signing secret — copy it now, it is not shown again:</p><p><code id="new-secret">{{newSecret}}</code></p></div>{{/newSecret}}
        <section class="card"><h2>Subscribe a URL</h2><form method="post" action="/settings/webhooks/create" class="filters"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>URL <input type="url" name="url" value="{{formURL}}" size="40"{{#urlError}} aria-invalid="true" aria-describedby="err-url"{{/urlError}}>{{#urlError}}<span class="field-error" id="err-url">{{urlError}}</span>{{/urlError}}</label>
        <label>Events <input name="events" value="{{formEvents}}" placeholder="* or a list"{{#eventsError}} aria-invalid="true" aria-describedby="err-events"{{/eventsError}}>{{#eventsError}}<span class="field-error" id="err-events">{{eventsError}}</span>{{/eventsError}}</label>
        <label>Format <select name="format"><option>json</option><option>slack</option></select>{{#formatError}}<span class="field-error">{{formatError}}</span>{{/formatError}}</label><button type="submit">Subscribe</button></form>
        <p class="muted">Event types: {{events}}</p></section>
        <div class="card scroll"><table><thead><tr><th>URL</th><th>Events</th><th>Format</th><th></th></tr></thead><tbody>
        {{#hooks}}<tr><td>{{url}}</td><td>{{events}}</td><td>{{format}}</td><td><a href="/settings/webhooks?deliveries={{id}}">Delivery log</a> {{#active}}<form method="post" action="/settings/webhooks/delete"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button type="submit" class="danger">Stop</button></form>{{/active}}{{^active}}stopped{{/active}}</td></tr>{{/hooks}}
        </tbody></table></div>
        {{#deliveriesURL}}<section class="card"><h2>Deliveries to {{deliveriesURL}}</h2><table><thead><tr><th>#</th><th>Event</th><th>Status</th><th class="n">Attempts</th><th>HTTP</th><th>Error</th><th>Delivered</th></tr></thead><tbody>
        {{#deliveries}}<tr><td>{{id}}</td><td>{{event}}</td><td>{{status}}</td><td class="n">{{attempts}}</td><td>{{code}}</td><td>{{error}}</td><td>{{delivered}}</td></tr>{{/deliveries}}</tbody></table></section>{{/deliveriesURL}}
        {{/is_webhooks}}
        {{#is_connections}}
        {{#connectionsOff}}<p class="flash">Connections need the server key; this server was started without one.</p>{{/connectionsOff}}
        <section class="card"><h2>Connected tools</h2><p class="muted">Add a connection with <code>smarketing connect add VENDOR NAME …</code> or <code>POST /api/v1/connections</code>; credentials are stored encrypted and never shown. docs/INTEGRATIONS.md says what each vendor reads and writes.</p>
        <div class="scroll"><table><thead><tr><th>Name</th><th>Tool</th><th>Status</th><th>Last sync</th><th class="n">Read</th><th class="n">Created</th><th class="n">Updated</th><th class="n">Merged</th><th class="n">Skipped</th><th>Last error</th><th>Webhook URL</th><th></th></tr></thead><tbody>
        {{#connections}}<tr><td>{{name}}</td><td>{{vendor}}</td><td>{{status}}</td><td>{{lastSync}}</td><td class="n">{{read}}</td><td class="n">{{created}}</td><td class="n">{{updated}}</td><td class="n">{{merged}}</td><td class="n">{{skipped}}</td><td>{{error}}</td><td><code>{{hook}}</code></td>
        <td>{{#canSync}}{{^running}}<form method="post" action="/settings/connections/sync"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><button type="submit">Sync now</button></form>{{/running}}{{#running}}syncing…{{/running}}{{/canSync}}</td></tr>{{/connections}}
        {{^connections}}<tr><td colspan="12" class="muted">No connections yet.</td></tr>{{/connections}}
        </tbody></table></div></section>
        {{/is_connections}}
        {{#is_scoring}}
        {{#job}}<p class="flash" role="status">Job {{id}}: {{status}} {{#running}}({{done}} of {{total}} contacts; <a href="/settings/scoring?job={{id}}">refresh</a>){{/running}} {{error}}</p>{{/job}}
        {{#active}}<p class="muted">Active: version {{version}} by {{author}} — {{comment}}</p>{{/active}}
        <form method="post" action="/settings/scoring/validate" class="card"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="model">Scoring model (YAML)</label><textarea id="model" name="model" rows="22"{{#invalid}} aria-invalid="true" aria-describedby="model-problems"{{/invalid}}>{{model}}</textarea>
        {{#invalid}}<ul class="field-error" id="model-problems" role="alert">{{#problems}}<li>line {{line}}, column {{column}}: {{message}}</li>{{/problems}}</ul>{{/invalid}}
        {{#valid}}<p class="flash" role="status">The model reads without problems.</p>{{/valid}}
        {{#diff}}<div class="card"><h2>What applying it would change</h2><p>{{contacts}} contacts scored; {{gradeChanged}} change grade; {{newMQLs}} become MQL; {{stop}} stop qualifying; {{personaChanged}} change persona.</p><ul>{{#moves}}<li>{{move}}: {{count}}</li>{{/moves}}</ul></div>{{/diff}}
        <p class="actions"><label>Comment <input name="comment" placeholder="why this change"></label>
        <button type="submit" class="secondary">Check</button><button type="submit" formaction="/settings/scoring/preview" class="secondary">Preview changes</button><button type="submit" formaction="/settings/scoring/apply">Apply</button></p></form>
        <section class="card"><h2>Versions</h2><table><tbody>{{#versions}}<tr><td>v{{version}}</td><td>{{status}}</td><td>{{author}}</td><td>{{at}}</td><td>{{comment}}</td></tr>{{/versions}}</tbody></table></section>
        {{/is_scoring}}
        {{#is_routing}}
        {{#active}}<p class="muted">Active: version {{version}} by {{author}} — {{comment}}</p>{{/active}}
        <form method="post" action="/settings/routing/validate" class="card"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="config">Routing, SLA policies and calendars (YAML)</label><textarea id="config" name="config" rows="22"{{#invalid}} aria-invalid="true" aria-describedby="config-problems"{{/invalid}}>{{config}}</textarea>
        {{#invalid}}<ul class="field-error" id="config-problems" role="alert">{{#problems}}<li>line {{line}}, column {{column}}: {{message}}</li>{{/problems}}</ul>{{/invalid}}
        {{#valid}}<p class="flash" role="status">Reads without problems: {{summary}}.</p>{{/valid}}
        {{#hasDiff}}<h2>Changes against the active version</h2><pre class="diff">{{#diffLines}}<span class="{{#add}}add{{/add}}{{^add}}del{{/add}}">{{sign}} {{no}}: {{line}}</span>
        {{/diffLines}}</pre>{{/hasDiff}}
        <p class="actions"><label>Comment <input name="comment" placeholder="why this change"></label><button type="submit" class="secondary">Check and preview</button><button type="submit" formaction="/settings/routing/apply">Apply</button></p></form>
        <section class="card"><h2>Versions</h2><table><tbody>{{#versions}}<tr><td>v{{version}}{{#active}} (active){{/active}}</td><td>{{author}}</td><td>{{at}}</td><td>{{comment}}</td></tr>{{/versions}}</tbody></table></section>
        {{/is_routing}}
        {{#is_targets}}<section class="card"><h2>Set a target</h2><form method="post" action="/settings/targets/save" class="filters" novalidate><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Month <input name="period" value="{{formPeriod}}" placeholder="2026-12"{{#periodError}} aria-invalid="true" aria-describedby="err-period"{{/periodError}}>{{#periodError}}<span class="field-error" id="err-period">{{periodError}}</span>{{/periodError}}</label>
        <label>Metric <select name="metric">{{#metrics}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/metrics}}</select>{{#metricError}}<span class="field-error">{{metricError}}</span>{{/metricError}}</label>
        <label>Value <input name="value" value="{{formValue}}" inputmode="decimal"{{#valueError}} aria-invalid="true" aria-describedby="err-value"{{/valueError}}>{{#valueError}}<span class="field-error" id="err-value">{{valueError}}</span>{{/valueError}}</label>
        <label>Segment <input name="segment" value="{{formSegment}}" placeholder="all"{{#segmentError}} aria-invalid="true" aria-describedby="err-segment"{{/segmentError}}>{{#segmentError}}<span class="field-error" id="err-segment">{{segmentError}}</span>{{/segmentError}}</label><button type="submit">Save</button></form></section>
        <div class="card scroll"><table><thead><tr><th>Month</th><th>Metric</th><th class="n">Value</th><th>Segment</th></tr></thead><tbody>{{#targets}}<tr><td>{{period}}</td><td>{{metric}}</td><td class="n">{{value}}</td><td>{{segment}}</td></tr>{{/targets}}</tbody></table></div>{{/is_targets}}
        {{#is_owners}}<p class="muted">Who acts on each step, KPI and target: the owning team, the person responsible (shown on the dashboard and in the weekly agenda), who is accountable, consulted and informed (user ids, comma-separated).</p>
        <div class="scroll card"><table id="owners"><thead><tr><th>What</th><th>Team</th><th>Responsible</th><th>Accountable</th><th>Consulted</th><th>Informed</th><th></th></tr></thead><tbody>
        {{#owners}}<tr data-subject="{{subject}}"><td>{{label}} <span class="muted">{{kind}}</span>{{#isDefault}} <span class="muted">(default)</span>{{/isDefault}}</td>
        <td colspan="6"><form method="post" action="/settings/owners/save" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="subject" value="{{subject}}">
        <select name="team" aria-label="Team">{{#teams}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/teams}}</select>
        <select name="responsible" aria-label="Responsible"><option value="">nobody named</option>{{#people}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/people}}</select>
        <select name="accountable" aria-label="Accountable"><option value="">—</option>{{#accountable}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/accountable}}</select>
        <input name="consulted" value="{{consulted}}" aria-label="Consulted" placeholder="consulted"><input name="informed" value="{{informed}}" aria-label="Informed" placeholder="informed">
        <button type="submit" class="secondary" data-action="save-owner">Save</button></form></td></tr>{{/owners}}</tbody></table></div>{{/is_owners}}
        {{#is_workspace}}{{#job}}<p class="flash{{#failed}} bad{{/failed}}" role="status" id="settings-job" data-running="{{running}}">{{text}}</p>{{#running}}<meta http-equiv="refresh" content="2">{{/running}}{{/job}}
        <form method="post" action="/settings/workspace/save" class="card" novalidate><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="if_version" value="{{settingsVersion}}">
        {{#formError}}<p class="field-error" role="alert" id="err-settings">{{formError}}</p>{{/formError}}
        <table><thead><tr><th>Setting</th><th>Value</th><th>What it does</th></tr></thead><tbody>{{#fields}}<tr><td><label for="set-{{id}}">{{key}}</label></td><td><input id="set-{{id}}" name="{{key}}" value="{{value}}"{{#error}} aria-invalid="true" aria-describedby="err-settings"{{/error}}>{{#isDefault}} <span class="muted">default</span>{{/isDefault}}</td><td>{{summary}}</td></tr>{{/fields}}</tbody></table>
        <p class="actions"><button type="submit">Save</button> <span class="muted">Version {{settingsVersion}}. A new time zone or SLA hours rebuilds the KPI figures; every change is in the audit log.</span></p></form>{{/is_workspace}}
        """
}
