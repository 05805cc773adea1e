/// The stylesheet and the one script, served by the binary (no CDN, no front-end toolchain).
enum WebAssets {
    static let css = """
        :root{--ink:#1c2330;--muted:#566074;--line:#d7dce5;--bg:#f6f7fa;--card:#fff;--accent:#2453c7;--good:#1b7a3d;--bad:#b42318;--warn:#9a5b00;
        font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg);line-height:1.45}
        *{box-sizing:border-box}body{margin:0}a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus{outline:3px solid #f2b705;outline-offset:1px}
        .skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px;z-index:9}
        header.top{display:flex;flex-wrap:wrap;align-items:center;gap:8px 20px;padding:10px 20px;background:#17213a;color:#fff}
        header.top a{color:#fff}.brand{font-weight:700;font-size:1.15rem;text-decoration:none}
        nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;margin:0;padding:0}nav a{text-decoration:none;padding:4px 2px}nav a[aria-current=page]{border-bottom:3px solid #f2b705}
        .logout{margin-left:auto;display:flex;gap:8px;align-items:center;font-size:.9rem}.logout button{background:transparent;color:#fff;border:1px solid #8a97b8}
        main{padding:16px 20px;max-width:1280px;margin:0 auto}h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:0 0 .6rem}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-bottom:16px}
        .grid{display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(min(440px,100%),1fr))}
        .tiles{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));margin-bottom:16px}
        .tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
        .tile h2{font-size:.85rem;color:var(--muted);font-weight:600;margin:0}.tile .v{font-size:1.6rem;font-weight:700}
        .tile .sub{font-size:.8rem;color:var(--muted)}.up{color:var(--good)}.down{color:var(--bad)}
        svg{max-width:100%;height:auto}svg.chart{width:100%}svg text{font-size:13px;fill:var(--ink)}svg .value{fill:var(--muted)}svg .inbar{fill:#fff;font-weight:600}
        .spark{width:120px;height:32px;display:block}.spark polyline{stroke:var(--accent);stroke-width:2}.spark circle{fill:var(--accent)}
        .bars .bar,.funnel .bar{fill:var(--accent)}.bars .ref{stroke:var(--bad);stroke-width:2}.funnel .stage1{fill:#2e5fd6}.funnel .stage2{fill:#3a6be0}.funnel .stage3{fill:#2f7a8c}.funnel .stage4{fill:#1f7a55}.funnel .stage5{fill:#1b6a3d}.funnel .stage6{fill:#14532d}
        .line polyline{stroke:var(--accent);stroke-width:2}.line circle{fill:var(--accent)}.line .grid{stroke:var(--line)}.axis{fill:var(--muted)}
        table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
        th{color:var(--muted);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .scroll{overflow-x:auto}details.fallback{margin-top:4px;font-size:.85rem}
        form.filters,form.period{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;margin-bottom:14px}
        label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted);gap:2px}
        input,select,textarea,button{font:inherit;padding:6px 8px;border:1px solid #9aa4b5;border-radius:5px;background:#fff;color:var(--ink)}
        textarea{width:100%;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85rem}
        button,.button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer;text-decoration:none;display:inline-block}
        button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
        .error{color:var(--bad);font-weight:600}.field-error{color:var(--bad);font-size:.85rem;margin:2px 0 0}[aria-invalid=true]{border-color:var(--bad);border-width:2px}
        .flash{background:#e8f3ec;border:1px solid #9ccbb0;padding:8px 12px;border-radius:6px}.flash.bad{background:#fdecea;border-color:#f1aeb5}
        .pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#e6ebf5;font-size:.8rem}.pill.hot{background:#fde2e1;color:#8a1c12}.pill.ok{background:#e3f1e7;color:#14532d}
        .inbox-item{display:grid;grid-template-columns:1fr auto;gap:8px 16px}.inbox-item ul{margin:.3rem 0;padding-left:1.1rem}
        .actions{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-end}.actions form{display:flex;gap:6px;align-items:flex-end}
        .muted{color:var(--muted)}.live-status{font-size:.8rem;color:var(--muted)}.empty{color:var(--muted)}
        .login{max-width:380px;margin:8vh auto}.login form{display:flex;flex-direction:column;gap:10px}
        .timeline{list-style:none;padding:0;margin:0}.timeline li{padding:6px 0;border-bottom:1px solid var(--line)}.timeline .when{color:var(--muted);font-size:.85rem;margin-right:8px}
        .tabs{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}.tabs a[aria-current=page]{font-weight:700}
        form.inline{display:inline-flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:0 0 12px}.action-items form.inline{margin:0 0 0 8px}
        .action-items{list-style:none;padding:0;margin:0}.action-items li{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;padding:6px 0;border-bottom:1px solid var(--line)}
        .action-items li.overdue{background:#fff6f5}.week-nav{margin:0 0 12px}.agenda table{margin-bottom:12px}.agenda h1{font-size:1.3rem}
        .meeting-forms{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(min(320px,100%),1fr))}.meeting-forms .card{margin:0;display:flex;flex-direction:column;gap:8px}
        .forecast .band{fill:#dfe6f7}.forecast .forecast-line{stroke:var(--accent);stroke-width:2}.forecast .forecast-dot{fill:var(--accent)}.forecast .actual-line{stroke:var(--good);stroke-width:2.5;stroke-dasharray:6 3}.forecast .grid,.line .grid{stroke:var(--line)}
        .marker{stroke:var(--warn);stroke-width:1.5;stroke-dasharray:3 3}.legend{font-size:.8rem;color:var(--muted)}.key{display:inline-block;width:14px;height:4px;vertical-align:middle;margin-left:8px}.forecast-key{background:var(--accent)}.band-key{background:#dfe6f7;height:10px}.actual-key{background:var(--good)}
        .pill.green{background:#e3f1e7;color:#14532d}.pill.amber{background:#fdf0d5;color:#7a4b00}.pill.red{background:#fde2e1;color:#8a1c12}.tile.status-red{border-color:#f1aeb5}.tile.status-green{border-color:#9ccbb0}
        fieldset{border:0;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:4px 14px}label.check{flex-direction:row;align-items:center;gap:6px;color:var(--ink)}
        pre.diff{background:#fff;border:1px solid var(--line);padding:8px;overflow-x:auto;font-size:.8rem}.diff .add{color:var(--good)}.diff .del{color:var(--bad)}
        @media (max-width:640px){main{padding:10px}header.top{padding:8px 10px}.logout{margin-left:0}.inbox-item{grid-template-columns:1fr}.tile .v{font-size:1.3rem}}
        """

    /// Live updates and two small conveniences; every page works without it.
    static let js = """
        "use strict";
        // Live regions: the server sends the region's new HTML as a server-sent event after each change.
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var status = document.getElementById(region.getAttribute("data-live-status"));
          var source = new EventSource(region.getAttribute("data-live"));
          source.addEventListener("update", function (e) {
            region.innerHTML = e.data;
            region.setAttribute("data-version", e.lastEventId);
            if (status) status.textContent = "Live · updated " + new Date().toLocaleTimeString();
          });
          source.onopen = function () { if (status) status.textContent = "Live"; };
          source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
        });
        // Selects marked data-autosubmit submit their form when changed (the button stays for no-JS use).
        document.addEventListener("change", function (e) {
          var t = e.target;
          if (t.matches && t.matches("select[data-autosubmit]") && t.form) t.form.submit();
        });
        """
}
