/// `GET /ui`: the playground — one static page (HTML, CSS and plain JavaScript compiled into the binary; no
/// framework, nothing fetched from elsewhere, works offline). It holds no data itself: everything it shows comes
/// from the documented endpoints (`/v1/timeline`, `/v1/entitlements`, `/v1/check` with explain, `/v1/catalog`,
/// `/v1/outline`, `/v1/routes`), which need the `check` role when keys are configured; a key typed into the page is
/// kept in the tab only (sessionStorage).
enum PlaygroundPage {
    static func handle(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        HTTPResponse(
            status: 200, body: Array(html.utf8), contentType: "text/html; charset=utf-8",
            headers: [
                ("Cache-Control", "no-cache"),
                (
                    "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                        + "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'"
                ),
                ("X-Content-Type-Options", "nosniff"),
            ])
    }

    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Entitlements playground</title>
        <style>
        :root { --fg:#1d2433; --muted:#5b6478; --line:#d9dee8; --bg:#f6f7fb; --ok:#11743b; --ok-bg:#e3f6ea; --no:#a4161a;
          --no-bg:#fde8e8; --accent:#2f5bd3; --warn:#8a5a00; --warn-bg:#fff3d6; }
        * { box-sizing: border-box; }
        body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
        header { display:flex; flex-wrap:wrap; gap:.75rem; align-items:center; padding:.75rem 1rem; background:#fff; border-bottom:1px solid var(--line); }
        header h1 { font-size:1.1rem; margin:0 1rem 0 0; }
        nav[role=tablist] { display:flex; gap:.25rem; }
        nav button { border:1px solid var(--line); background:#fff; padding:.4rem .8rem; border-radius:6px; font:inherit; cursor:pointer; }
        nav button[aria-selected=true] { background:var(--accent); color:#fff; border-color:var(--accent); }
        button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible, tr:focus-visible
          { outline:3px solid #f0b400; outline-offset:1px; }
        .key { margin-left:auto; display:flex; gap:.4rem; align-items:center; font-size:.9rem; color:var(--muted); }
        .key input { width:11rem; }
        main { padding:1rem; max-width:1400px; margin:0 auto; }
        section[role=tabpanel][hidden] { display:none; }
        .cols { display:grid; grid-template-columns: minmax(280px, 360px) 1fr; gap:1rem; align-items:start; }
        .card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:.9rem 1rem; margin-bottom:1rem; }
        .card h2 { font-size:1rem; margin:.1rem 0 .6rem; }
        .card h3 { font-size:.95rem; margin:.8rem 0 .3rem; }
        label { display:block; font-size:.85rem; color:var(--muted); margin:.45rem 0 .15rem; }
        input, select, textarea { width:100%; font:inherit; padding:.35rem .45rem; border:1px solid var(--line); border-radius:5px; background:#fff; }
        textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.85rem; }
        .row { display:flex; gap:.5rem; } .row > * { flex:1; min-width:0; }
        .cols > * { min-width:0; }
        button.primary { margin-top:.8rem; background:var(--accent); color:#fff; border:0; padding:.5rem 1rem; border-radius:6px; font:inherit; cursor:pointer; }
        .error { color:var(--no); white-space:pre-wrap; }
        .muted { color:var(--muted); font-size:.85rem; }
        table { border-collapse:collapse; width:100%; font-size:.9rem; }
        th, td { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
        th { font-weight:600; background:#fafbfd; position:sticky; top:0; }
        .scroll { overflow:auto; max-height:70vh; }
        .ok { color:var(--ok); background:var(--ok-bg); border-radius:4px; padding:0 .35rem; white-space:nowrap; }
        .no { color:var(--no); background:var(--no-bg); border-radius:4px; padding:0 .35rem; white-space:nowrap; }
        .diff { background:var(--warn-bg); }
        .stage { display:inline-block; font-weight:600; padding:.1rem .5rem; border-radius:999px; background:var(--warn-bg); color:var(--warn); }
        .track { position:relative; height:3.2rem; margin:.6rem .4rem 0; border-bottom:2px solid var(--line); }
        .marker { position:absolute; bottom:-7px; width:12px; height:12px; margin-left:-6px; border-radius:50%; background:var(--accent); border:2px solid #fff; cursor:pointer; padding:0; }
        .cursor { position:absolute; bottom:-2px; top:0; width:2px; background:var(--no); }
        input[type=range] { margin-top:.6rem; }
        ol.boundaries { padding-left:1.2rem; margin:.4rem 0; }
        ol.boundaries li { margin-bottom:.5rem; }
        ol.boundaries .notifies { font-size:.75rem; border:1px solid var(--accent); color:var(--accent); border-radius:.6rem; padding:0 .4rem; }
        ol.boundaries button { font:inherit; border:0; background:none; color:var(--accent); cursor:pointer; padding:0; text-decoration:underline; }
        .trace { font-family: ui-monospace, monospace; font-size:.8rem; white-space:pre-wrap; background:#fafbfd; border:1px solid var(--line); border-radius:6px; padding:.5rem; }
        tr.clickable { cursor:pointer; } tr.clickable:hover { background:#f2f5ff; }
        @media (max-width: 760px) { .cols { grid-template-columns: 1fr; } header h1 { width:100%; } .key { margin-left:0; }
          table { font-size:.82rem; } .row { flex-direction:column; gap:0; } main { padding:.5rem; } }
        </style>
        </head>
        <body>
        <header>
          <h1>Entitlements playground</h1>
          <nav role="tablist" aria-label="Views">
            <button role="tab" id="tab-timeline" aria-controls="timeline" aria-selected="true">Timeline</button>
            <button role="tab" id="tab-pricing" aria-controls="pricing" aria-selected="false">Pricing matrix</button>
            <button role="tab" id="tab-guards" aria-controls="guards" aria-selected="false">Guards</button>
          </nav>
          <div class="key"><label for="apikey" style="margin:0">API key</label><input id="apikey" type="password" autocomplete="off" placeholder="only if keys are set"></div>
        </header>
        <main>
        <section role="tabpanel" id="timeline" aria-labelledby="tab-timeline">
          <div class="cols">
            <form id="account-form" class="card" aria-label="Account and user">
              <h2>Account</h2>
              <label for="stored-id">Stored account id (leave empty to describe one)</label>
              <input id="stored-id" placeholder="acc_42" list="stored-ids" autocomplete="off">
              <datalist id="stored-ids"></datalist>
              <div class="row">
                <div><label for="plan">Plan</label><select id="plan"></select></div>
                <div><label for="status">Status</label><select id="status"></select></div>
              </div>
              <div class="row">
                <div><label for="period-start">Period start (UTC)</label><input id="period-start" type="datetime-local" step="1"></div>
                <div><label for="period-end">Period end (UTC)</label><input id="period-end" type="datetime-local" step="1"></div>
              </div>
              <div class="row">
                <div><label for="ended-at">Ended at (UTC, a cancellation)</label><input id="ended-at" type="datetime-local" step="1"></div>
              </div>
              <label for="overrides">Overrides (JSON list)</label>
              <textarea id="overrides" rows="2" placeholder='[{"feature":"sso","value":true,"expires_at":"2026-06-01T00:00:00Z"}]'></textarea>
              <label for="attributes">Account attributes (JSON object)</label>
              <textarea id="attributes" rows="1" placeholder='{"region":"eu"}'></textarea>
              <h3>User (optional)</h3>
              <label for="email">E-mail</label><input id="email" type="email" placeholder="someone@example.com">
              <div class="row">
                <div><label for="verified-at">Verified at (UTC)</label><input id="verified-at" type="datetime-local" step="1"></div>
                <div><label for="created-at">Created at (UTC)</label><input id="created-at" type="datetime-local" step="1"></div>
              </div>
              <h3>App routes</h3>
              <label for="manifest">One <code>METHOD /path</code> per line</label>
              <textarea id="manifest" rows="5">GET /api/v1/trees
        POST /api/v1/trees
        GET /api/v1/sessions/s1/steps
        GET /api/v1/billing/state
        GET /api/v1/psa/tickets
        GET /api/v1/users/me</textarea>
              <button class="primary" id="compute" type="submit">Show the timeline</button>
              <p id="form-error" class="error" role="alert"></p>
            </form>
            <div>
              <div class="card" id="timeline-card" aria-live="polite">
                <h2>Timeline</h2>
                <p class="muted" id="span">Describe an account and press “Show the timeline”.</p>
                <div class="track" id="track" aria-hidden="true"></div>
                <label for="cursor">Instant</label>
                <input id="cursor" type="range" min="0" max="1" step="1" value="0" disabled aria-describedby="cursor-text">
                <div class="row" style="align-items:end">
                  <div><label for="cursor-at">At (UTC)</label><input id="cursor-at" type="datetime-local" step="1" disabled></div>
                </div>
                <h3>Boundaries</h3>
                <ol class="boundaries" id="boundaries"></ol>
              </div>
              <div class="card" id="state-card" aria-live="polite">
                <h2>At <span id="cursor-text">—</span></h2>
                <p id="sub-line"></p>
                <h3>Routes</h3>
                <p class="muted">Select a route (click or Enter) for its explain trace.</p>
                <div class="scroll"><table id="routes-table"><thead><tr><th>Route</th><th>Decision</th><th>Guard</th></tr></thead><tbody></tbody></table></div>
                <div id="trace" class="trace" hidden></div>
                <h3>Features</h3>
                <div class="scroll"><table id="features-table"><thead><tr><th>Feature</th><th>Value</th><th>Source</th></tr></thead><tbody></tbody></table></div>
                <h3>Flags and facts</h3>
                <div class="scroll"><table id="flags-table"><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody></tbody></table></div>
              </div>
            </div>
          </div>
        </section>
        <section role="tabpanel" id="pricing" aria-labelledby="tab-pricing" hidden>
          <div class="card"><h2>Plans × features</h2>
            <p class="muted">Resolved grants (with <code>extends</code>). A highlighted cell differs from the plan to its left.</p>
            <div class="scroll"><table id="pricing-table"></table></div>
          </div>
        </section>
        <section role="tabpanel" id="guards" aria-labelledby="tab-guards" hidden>
          <div class="card"><h2>Route matrix</h2>
            <p class="muted">For the routes on the Timeline tab: <b>protect</b> the guard decides, <b>skip</b> allowlisted, <b>skip-if</b> allowlisted while its <code>when</code> holds, <b>-</b> does not apply.</p>
            <div class="scroll"><table id="matrix-table"></table></div>
          </div>
          <div id="guard-cards"></div>
        </section>
        </main>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);
        const keyInput = $("apikey");
        keyInput.value = sessionStorage.getItem("entitlements-key") || "";
        keyInput.addEventListener("change", () => { sessionStorage.setItem("entitlements-key", keyInput.value); loadStatic(); });
        async function api(method, path, body) {
          const headers = { "Content-Type": "application/json" };
          if (keyInput.value) headers["Authorization"] = "Bearer " + keyInput.value;
          const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
          const j = await r.json().catch(() => ({}));
          if (!r.ok) throw new Error((j.error || r.status) + (j.detail ? ": " + j.detail : "") + (j.path ? " (" + j.path + ")" : ""));
          return j;
        }
        const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
        const show = (v) => v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);
        // datetime-local values are read and written as UTC.
        const toRFC = (v) => v ? (v.length === 16 ? v + ":00" : v) + "Z" : null;
        const toLocal = (t) => t ? t.replace("Z", "").slice(0, 19) : "";

        // Tabs: arrow keys move between them (WAI-ARIA tabs pattern).
        const tabs = [...document.querySelectorAll("[role=tab]")];
        function select(tab) {
          for (const t of tabs) { const on = t === tab; t.setAttribute("aria-selected", on); t.tabIndex = on ? 0 : -1; $(t.getAttribute("aria-controls")).hidden = !on; }
          tab.focus();
          if (tab.id === "tab-guards") loadMatrix();
        }
        tabs.forEach((t, i) => {
          t.tabIndex = i === 0 ? 0 : -1;
          t.addEventListener("click", () => select(t));
          t.addEventListener("keydown", (e) => {
            if (e.key === "ArrowRight") select(tabs[(i + 1) % tabs.length]);
            if (e.key === "ArrowLeft") select(tabs[(i + tabs.length - 1) % tabs.length]);
          });
        });

        let catalog = null, outline = null, timeline = null;
        async function loadStatic() {
          try {
            [catalog, outline] = await Promise.all([api("GET", "/v1/catalog"), api("GET", "/v1/outline")]);
          } catch (e) { $("form-error").textContent = "Cannot read the policy: " + e.message; return; }
          $("form-error").textContent = "";
          const plan = $("plan"), status = $("status"), keepPlan = plan.value, keepStatus = status.value;
          plan.innerHTML = catalog.plans.map((p) => `<option value="${esc(p.key)}">${esc(p.display_name || p.key)}</option>`).join("") + '<option value="">(no plan)</option>';
          status.innerHTML = outline.statuses.map((s) => `<option>${esc(s.key)}</option>`).join("") + '<option value="">(no status)</option>';
          if (keepPlan) plan.value = keepPlan; else if (outline.trial) plan.value = outline.trial.plan;
          if (keepStatus) status.value = keepStatus; else if (outline.statuses.some((s) => s.key === "trialing")) status.value = "trialing";
          if (!$("period-start").value) {
            const start = new Date(Date.UTC(2026, 4, 7, 12)), days = outline.trial ? parseInt(outline.trial.length) || 14 : 30;
            $("period-start").value = toLocal(start.toISOString().replace(/\.\d+Z$/, "Z"));
            $("period-end").value = toLocal(new Date(start.getTime() + days * 86400000).toISOString().replace(/\.\d+Z$/, "Z"));
            $("created-at").value = $("period-start").value;
            $("email").value = "new.user@example.com";
          }
          renderPricing(); renderGuards();
          // Stored accounts to pick from, when the service has a store and the key may list them (admin).
          api("GET", "/v1/accounts?limit=200").then((r) => {
            $("stored-ids").innerHTML = r.accounts.map((a) => `<option value="${esc(a.id)}">${esc(a.plan || "")} ${esc(a.status || "")}</option>`).join("");
          }).catch(() => {});
        }

        function accountAndUser() {
          const id = $("stored-id").value.trim();
          let account;
          if (id) account = id;
          else {
            const sub = { plan: $("plan").value || null, status: $("status").value || null,
              period_start: toRFC($("period-start").value), period_end: toRFC($("period-end").value),
              ended_at: toRFC($("ended-at").value) };
            account = { id: "playground", subscription: sub };
            const o = $("overrides").value.trim(), a = $("attributes").value.trim();
            if (o) account.overrides = JSON.parse(o);
            if (a) account.attributes = JSON.parse(a);
          }
          let user = null;
          if ($("email").value || $("created-at").value || $("verified-at").value)
            user = { id: "playground-user", email: $("email").value || null, email_verified_at: toRFC($("verified-at").value), created_at: toRFC($("created-at").value) };
          return { account, user };
        }
        const routes = () => $("manifest").value.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

        $("account-form").addEventListener("submit", async (e) => {
          e.preventDefault();
          $("form-error").textContent = "";
          try {
            const { account, user } = accountAndUser();
            timeline = await api("POST", "/v1/timeline", { account, user, routes: routes() });
          } catch (err) { $("form-error").textContent = err.message; return; }
          renderTimeline();
          const first = timeline.boundaries.length ? Date.parse(timeline.boundaries[0].at) / 1000 - 86400 : Date.parse(timeline.from) / 1000;
          setCursor(Math.max(first, Date.parse(timeline.from) / 1000));
          loadMatrix();
        });

        function renderTimeline() {
          const from = Date.parse(timeline.from) / 1000, to = Date.parse(timeline.to) / 1000;
          $("span").textContent = `From ${timeline.from} to ${timeline.to}: ${timeline.boundaries.length} boundar${timeline.boundaries.length === 1 ? "y" : "ies"} where something changes.`;
          const cursor = $("cursor");
          cursor.min = from; cursor.max = to; cursor.step = 60; cursor.disabled = false; $("cursor-at").disabled = false;
          const track = $("track");
          track.innerHTML = '<div class="cursor" id="cursor-line"></div>';
          $("boundaries").innerHTML = "";
          timeline.boundaries.forEach((b, i) => {
            const at = Date.parse(b.at) / 1000, pct = ((at - from) / (to - from)) * 100;
            const m = document.createElement("button");
            m.className = "marker"; m.style.left = pct + "%"; m.title = b.at + " — " + b.causes.join("; "); m.tabIndex = -1;
            m.addEventListener("click", () => setCursor(at));
            track.appendChild(m);
            const li = document.createElement("li");
            const changes = b.changes.filter((c) => !/\.source$|^facts\./.test(c.what)).slice(0, 6)
              .map((c) => `<div class="muted">${esc(c.what)}: ${esc(show(c.before))} → ${esc(show(c.after))}</div>`).join("");
            const mark = b.notifies ? ' <span class="notifies" title="a stored account\'s webhooks get an entitlements.changed event (cause: time) at this instant">webhook</span>' : "";
            li.innerHTML = `<button type="button" data-at="${at}">${esc(b.at)}</button> — ${esc(b.causes.join("; "))}${mark}${changes}`;
            li.querySelector("button").addEventListener("click", () => setCursor(at));
            $("boundaries").appendChild(li);
          });
        }

        let pending = 0;
        $("cursor").addEventListener("input", () => setCursor(Number($("cursor").value)));
        $("cursor-at").addEventListener("change", () => { const t = toRFC($("cursor-at").value); if (t) setCursor(Date.parse(t) / 1000); });
        async function setCursor(seconds) {
          if (!timeline) return;
          const from = Date.parse(timeline.from) / 1000, to = Date.parse(timeline.to) / 1000;
          seconds = Math.min(Math.max(seconds, from), to);
          $("cursor").value = seconds;
          const now = new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
          $("cursor-at").value = toLocal(now);
          // Day N of the period (day 1 starts at period_start), for "what does the account see on day 12".
          const startText = $("stored-id").value.trim() ? null : toRFC($("period-start").value);
          const day = startText ? Math.floor((seconds - Date.parse(startText) / 1000) / 86400) + 1 : null;
          $("cursor-text").textContent = now + (day !== null && day >= 1 ? ` (day ${day} of the period)` : "");
          $("cursor").setAttribute("aria-valuetext", now);
          const line = $("cursor-line"); if (line) line.style.left = ((seconds - from) / (to - from)) * 100 + "%";
          const ticket = ++pending;
          const { account, user } = accountAndUser();
          const rs = routes();
          try {
            const [snap, checks] = await Promise.all([
              api("POST", "/v1/entitlements", { account, user, now }),
              rs.length ? api("POST", "/v1/check", { account, user, now, explain: true, checks: rs.slice(0, 100).map((r) => ({ route: r })) }) : { results: [] },
            ]);
            if (ticket !== pending) return;
            renderState(snap, rs, checks.results);
          } catch (err) { $("sub-line").innerHTML = `<span class="error">${esc(err.message)}</span>`; }
        }

        function renderState(snap, rs, results) {
          const s = snap.subscription;
          const days = s.days_remaining === null || s.days_remaining === undefined ? "" : `, ${s.days_remaining} day${s.days_remaining === 1 ? "" : "s"} remaining`;
          $("sub-line").innerHTML = `${s.live ? '<span class="ok">live</span>' : '<span class="no">not live</span>'} · stage <span class="stage" id="stage">${esc(show(s.stage))}</span>${esc(days)} · plan ${esc(show(s.plan))}, status ${esc(show(s.status))}${s.locked_at ? " · locked at " + esc(s.locked_at) : ""}${snap.warnings ? " · warnings " + esc(snap.warnings.join(", ")) : ""}`;
          const tb = $("routes-table").tBodies[0];
          tb.innerHTML = "";
          results.forEach((r, i) => {
            const tr = document.createElement("tr");
            tr.className = "clickable"; tr.tabIndex = 0; tr.dataset.route = rs[i];
            tr.innerHTML = `<td>${esc(rs[i])}</td><td>${r.allowed ? '<span class="ok">allowed</span>' : `<span class="no">${esc(r.error || "denied")} ${r.status ? esc(r.status) : ""}</span>`}</td><td>${esc(r.guard || (r.allowed ? r.reason : ""))}</td>`;
            const open = () => showTrace(rs[i], r);
            tr.addEventListener("click", open);
            tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
            tb.appendChild(tr);
          });
          $("features-table").tBodies[0].innerHTML = Object.entries(snap.features).map(([k, f]) =>
            `<tr data-feature="${esc(k)}"><td>${esc(k)}</td><td>${esc(show(f.value))}</td><td>${esc(f.source)}${f.expires_at ? " until " + esc(f.expires_at) : ""}</td></tr>`).join("");
          $("flags-table").tBodies[0].innerHTML =
            Object.entries(snap.flags || {}).map(([k, v]) => `<tr><td>flags.${esc(k)}</td><td>${esc(show(v))}</td></tr>`).join("") +
            Object.entries(snap.facts || {}).map(([k, v]) => `<tr><td>facts.${esc(k)}</td><td>${esc(show(v))}</td></tr>`).join("");
        }

        function showTrace(route, r) {
          const box = $("trace");
          box.hidden = false;
          box.textContent = `${route} — ${r.allowed ? "allowed (" + r.reason + ")" : "denied: " + r.error + (r.guard ? " by " + r.guard : "")}\n` +
            (r.trace || []).map((s) => `• ${s.step}${s.rule ? " " + s.rule : ""}${s.at ? " (" + s.at + ")" : ""}: ${s.result}${(s.values || []).map((v) => "\n    " + v).join("")}`).join("\n");
        }

        function renderPricing() {
          const plans = catalog.plans, features = catalog.features;
          const fmt = (v) => v === true ? "yes" : v === false ? "no" : Array.isArray(v) ? (v.length ? v.join(", ") : "none") : show(v);
          const about = (p) => [p.price && p.price.monthly_cents !== null ? "$" + (p.price.monthly_cents / 100).toFixed(2) + "/mo" : "",
            p.extends ? "extends " + p.extends : "", p.aliases.length ? "alias " + p.aliases.join(", ") : "", p.public === false ? "not public" : ""]
            .filter((x) => x).join(" · ");
          let h = "<thead><tr><th>Feature</th>" + plans.map((p) => `<th>${esc(p.display_name || p.key)}<div class="muted">${esc(about(p))}</div></th>`).join("") + "</tr></thead><tbody>";
          for (const f of features) {
            h += `<tr><td>${esc(f.key)}<div class="muted">${esc(f.description || "")}</div></td>`;
            plans.forEach((p, i) => {
              const v = fmt(p.grants[f.key]), prev = i > 0 ? fmt(plans[i - 1].grants[f.key]) : v;
              h += `<td class="${v !== prev ? "diff" : ""}"${v !== prev ? ` title="was ${esc(prev)} in the plan to the left"` : ""}>${esc(v)}</td>`;
            });
            h += "</tr>";
          }
          // The bundle's billing.stripe mapping: which Stripe prices put an account on each plan.
          if (catalog.billing && catalog.billing.stripe) {
            h += `<tr class="stripe-prices"><td>Stripe prices<div class="muted">billing.stripe.prices</div></td>` +
              plans.map((p) => `<td>${p.stripe_prices.length ? p.stripe_prices.map((x) => `<code>${esc(x)}</code>`).join("<br>") : "none"}</td>`).join("") + "</tr>";
          }
          $("pricing-table").innerHTML = h + "</tbody>";
        }

        function renderGuards() {
          $("guard-cards").innerHTML = outline.guards.map((g) => `<div class="card"><h2>${esc(g.name)} <span class="muted">${esc(g.at)}</span></h2>
            ${g.description ? `<p>${esc(g.description)}</p>` : ""}
            <div><b>Applies to</b> ${g.applies_to.length ? g.applies_to.map((p) => `<code>${esc(p)}</code>`).join(", ") : "every route"}</div>
            <div><b>Requires</b> <code>${esc(g.requires)}</code> · denies with <code>${esc(g.deny)}</code></div>
            <div><b>Allowlist</b> ${g.allow.length ? "<ul>" + g.allow.map((a) => `<li><code>${esc(a.route)}</code>${a.when ? ` when <code>${esc(a.when)}</code>` : ""} <span class="muted">${esc(a.at)}</span></li>`).join("") + "</ul>" : "none"}</div></div>`).join("");
        }

        async function loadMatrix() {
          const rs = routes();
          if (!rs.length || !outline) return;
          try {
            const m = await api("POST", "/v1/routes", { routes: rs });
            $("matrix-table").innerHTML = "<thead><tr><th>Route</th>" + m.guards.map((g) => `<th>${esc(g)}</th>`).join("") + "</tr></thead><tbody>" +
              m.routes.map((r) => `<tr><td>${esc(r.route)}</td>${r.guards.map((c) => `<td class="${c === "protect" ? "no" : c.startsWith("skip") ? "ok" : ""}">${esc(c)}</td>`).join("")}</tr>`).join("") + "</tbody>";
          } catch (err) { $("matrix-table").innerHTML = `<caption class="error">${esc(err.message)}</caption>`; }
        }

        loadStatic();
        </script>
        </body>
        </html>
        """#
}
