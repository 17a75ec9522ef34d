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
  $("boundaries").innerHTML = "";
  renderLanes();
  timeline.boundaries.forEach((b, i) => {
    const at = Date.parse(b.at) / 1000;
    const li = document.createElement("li");
    const changes = b.changes.filter((c) => !/\.source$|^facts\./.test(c.what)).slice(0, 6)
      .map((c) => `<div class="muted">${esc(c.what)}: ${esc(show(c.before))} → ${esc(show(c.after))}</div>`).join("");
    const mark = b.notifies
      ? ' <span class="notifies" title="a stored account\'s webhooks get an entitlements.changed event (cause: time) at this instant">webhook</span>'
      : "";
    li.innerHTML = `<button type="button" data-at="${at}">${esc(b.at)}</button> — ${esc(b.causes.join("; "))}${mark}${changes}`;
    li.querySelector("button").addEventListener("click", () => setCursor(at));
    $("boundaries").appendChild(li);
  });
}

// The drawn timeline: one lane per thing that changes (stage, liveness, each feature, flag and guard that changes),
// built from the timeline's start state and its boundaries' changes.
const secs = (t) => Date.parse(t) / 1000;
const utcDay = (t) => new Date(t * 1000).toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
const utcTime = (t) => new Date(t * 1000).toISOString().replace(/:00(\.000)?Z$/, "Z").replace("T", " ");
let lanes = [], scale = null;

// The chart's scale: time is linear between boundaries, but each interval between two boundaries (and the span's
// ends) gets at least an equal share of the width, so a two-day trial stage stays readable next to a month locked.
// `at(t)` is a percentage of the width; `time(p)` its inverse.
function laneScale(from, to) {
  const knots = [...new Set([from, ...timeline.boundaries.map((b) => secs(b.at)), to])].sort((a, b) => a - b);
  const n = knots.length - 1, widths = [];
  for (let i = 0; i < n; i++) widths.push(0.5 * (knots[i + 1] - knots[i]) / (to - from) + 0.5 / n);
  const edges = [0];
  widths.forEach((w) => edges.push(edges[edges.length - 1] + w * 100));
  const find = (xs, v) => Math.max(0, Math.min(n - 1, xs.findIndex((x, i) => i < n && v < xs[i + 1])));
  return {
    at: (t) => { const i = t >= to ? n - 1 : find(knots, t); return edges[i] + ((t - knots[i]) / (knots[i + 1] - knots[i])) * (edges[i + 1] - edges[i]); },
    time: (p) => { const i = p >= 100 ? n - 1 : find(edges, p); return knots[i] + ((p - edges[i]) / (edges[i + 1] - edges[i])) * (knots[i + 1] - knots[i]); },
  };
}

function laneKeys() {
  const changing = new Set();
  for (const b of timeline.boundaries) for (const c of b.changes) changing.add(c.what);
  const keys = ["subscription.stage", "subscription.live"];
  const pick = (re) => [...changing].filter((k) => re.test(k)).sort();
  return keys.concat(pick(/^features\.[^.]+\.value$/), pick(/^flags\./), pick(/^guards\./));
}

// [group, name] of a lane.
function laneName(key) {
  if (key === "subscription.stage") return ["Subscription", "stage"];
  if (key === "subscription.live") return ["Subscription", "live"];
  let m = /^features\.(.+)\.value$/.exec(key);
  if (m) return ["Features", m[1]];
  m = /^(flags|guards)\.(.+)$/.exec(key);
  return m ? [m[1] === "flags" ? "Flags" : "Guards (on the routes they protect)", m[2]] : ["", key];
}
const laneTitle = (key) => { const [g, n] = laneName(key); return (g.startsWith("Guards") ? "guard " : g === "Subscription" ? "" : g.slice(0, -1).toLowerCase() + " ") + n; };

function laneText(key, v) {
  if (v === null || v === undefined) return "none";
  if (key === "subscription.live") return v ? "live" : "not live";
  if (typeof v === "boolean") return v ? "on" : "off";
  if (key.startsWith("features.") && v === -1) return "unlimited";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
  if (typeof v === "string" && v.startsWith("denies (")) return "denies: " + v.slice(8, -1);
  return String(v);
}

function laneTone(key, v) {
  if (v === null || v === undefined) return "none";
  if (key === "subscription.stage")
    return { pristine: "ok", active: "ok", complimentary: "ok", warning: "warn", past_due: "warn", urgent: "hot" }[v] || "no";
  if (v === true || v === "passes") return "ok";
  if (v === false || v === 0 || (typeof v === "string" && v.startsWith("denies"))) return "no";
  if (Array.isArray(v) && !v.length) return "no";
  return "neutral";
}

// A lane's segments: its value from the span's start, then one segment per boundary that changes it, each with the
// rules that put the boundary there.
function laneSegments(key, from, to) {
  const segs = [{ start: from, value: timeline.start[key], causes: [] }];
  for (const b of timeline.boundaries)
    for (const c of b.changes) if (c.what === key) segs.push({ start: secs(b.at), value: c.after, causes: b.causes });
  segs.forEach((s, i) => { s.end = i + 1 < segs.length ? segs[i + 1].start : to; });
  return segs;
}

function renderLanes() {
  const from = secs(timeline.from), to = secs(timeline.to);
  scale = laneScale(from, to);
  const pct = scale.at, box = $("lanes");
  box.querySelectorAll(".lane, .lane-group, .axis, .overlay").forEach((e) => e.remove());
  // The axis: dates (UTC) and the numbered boundaries.
  const axis = document.createElement("div");
  axis.className = "axis";
  axis.innerHTML = '<div class="lane-name muted">UTC</div><div class="axis-track"></div>';
  const track = axis.lastChild, days = (to - from) / 86400;
  const step = [1, 2, 7, 14, 30, 60, 91].find((s) => days / s <= 9) || 182;
  // Ticks at whole days; a label only where it does not crowd the one before (the scale is not linear).
  let shown = -100, k = 0;
  for (let t = Math.ceil(from / 86400) * 86400; t <= to; t += Math.max(1, Math.floor(step / 2)) * 86400) {
    const tick = document.createElement("div"), p = pct(t);
    tick.className = "tick";
    tick.style.left = p + "%";
    if (p - shown >= 9 && p >= 3 && p <= 96) {
      tick.className += k++ % 2 ? " minor" : "";
      tick.innerHTML = `<span>${esc(utcDay(t))}</span>`;
      shown = p;
    }
    track.appendChild(tick);
  }
  box.appendChild(axis);
  const overlay = document.createElement("div");
  overlay.className = "overlay";
  timeline.boundaries.forEach((b, i) => {
    const at = secs(b.at), mark = document.createElement("button");
    mark.type = "button"; mark.className = "bmark"; mark.tabIndex = -1; mark.textContent = i + 1;
    mark.style.left = pct(at) + "%";
    mark.setAttribute("aria-label", `boundary ${i + 1}: ${b.at}`);
    mark.title = `${i + 1}. ${utcTime(at)}: ${b.causes.join("; ")}`;
    mark.addEventListener("click", () => setCursor(at));
    track.appendChild(mark);
    const line = document.createElement("div");
    line.className = "bline"; line.style.left = pct(at) + "%";
    overlay.appendChild(line);
  });
  const cursor = document.createElement("div");
  cursor.className = "cursor"; cursor.id = "cursor-line";
  overlay.appendChild(cursor);
  lanes = laneKeys().map((key) => ({ key, segs: laneSegments(key, from, to) }));
  let group = null;
  for (const lane of lanes) {
    const [g, name] = laneName(lane.key), row = document.createElement("div");
    if (g !== group) {
      const head = document.createElement("div");
      head.className = "lane-group"; head.textContent = g; group = g;
      box.appendChild(head);
    }
    row.className = "lane"; row.dataset.key = lane.key;
    row.innerHTML = `<div class="lane-name" title="${esc(lane.key)}">${esc(name)}</div><div class="lane-track"></div>`;
    for (const s of lane.segs) {
      const seg = document.createElement("div");
      seg.className = "seg " + laneTone(lane.key, s.value);
      seg.style.left = pct(s.start) + "%"; seg.style.width = pct(s.end) - pct(s.start) + "%";
      seg.textContent = laneText(lane.key, s.value);
      seg.addEventListener("mousemove", (e) => showTip(lane, s, e));
      seg.addEventListener("mouseleave", () => { $("lane-tip").hidden = true; });
      seg.addEventListener("click", (e) => {
        const r = seg.parentNode.getBoundingClientRect();
        setCursor(scale.time(((e.clientX - r.left) / r.width) * 100));
      });
      s.el = seg;
      row.lastChild.appendChild(seg);
    }
    box.appendChild(row);
  }
  box.appendChild(overlay);
}

function tipText(lane, s) {
  const why = s.causes.length ? `set by <code>${s.causes.map(esc).join("</code>; <code>")}</code>` : "as at the start of the span";
  let source = "";
  const m = /^features\.(.+)\.value$/.exec(lane.key);
  if (m) {
    const src = laneSegments(`features.${m[1]}.source`, s.start, s.end).filter((x) => x.start <= s.start).pop();
    if (src && src.value) source = ` (source: ${esc(src.value)})`;
  }
  return `<b>${esc(laneTitle(lane.key))}</b>: ${esc(laneText(lane.key, s.value))}${source}<br>` +
    `${esc(utcTime(s.start))} → ${esc(utcTime(s.end))}<br>${why}`;
}

function showTip(lane, s, e) {
  const tip = $("lane-tip"), fig = tip.parentNode.getBoundingClientRect();
  tip.innerHTML = tipText(lane, s);
  tip.hidden = false;
  const x = Math.min(e.clientX - fig.left + 12, fig.width - tip.offsetWidth - 4);
  tip.style.left = Math.max(0, x) + "px";
  tip.style.top = e.clientY - fig.top + 16 + "px";
}

// The cursor on the lanes, the segments it is in, and the lanes' values at it in words (for screens and readers).
function moveLaneCursor(seconds) {
  const from = secs(timeline.from), to = secs(timeline.to), line = $("cursor-line");
  if (line && scale) line.style.left = scale.at(Math.min(Math.max(seconds, from), to)) + "%";
  const items = [];
  for (const lane of lanes) {
    const cur = lane.segs.filter((s) => s.start <= seconds).pop() || lane.segs[0];
    for (const s of lane.segs) s.el.classList.toggle("current", s === cur);
    const since = cur.causes.length ? ` — since ${utcTime(cur.start)}: ${cur.causes.join("; ")}` : "";
    items.push(`<li><b>${esc(laneTitle(lane.key))}</b>: ${esc(laneText(lane.key, cur.value))}<span class="muted">${esc(since)}</span></li>`);
  }
  $("lane-readout").innerHTML = items.join("");
}

// Keyboard on the lanes: ← → to the previous or next boundary, Home/End to the span's ends.
$("lanes").addEventListener("keydown", (e) => {
  if (!timeline) return;
  const now = Number($("cursor").value), ats = timeline.boundaries.map((b) => secs(b.at));
  let t = null;
  if (e.key === "ArrowRight") t = ats.find((a) => a > now + 0.5);
  if (e.key === "ArrowLeft") t = ats.filter((a) => a < now - 0.5).pop();
  if (e.key === "Home") t = secs(timeline.from);
  if (e.key === "End") t = secs(timeline.to);
  if (t === null) return;
  e.preventDefault();
  if (t !== undefined) setCursor(t);
});

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
  moveLaneCursor(seconds);
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
