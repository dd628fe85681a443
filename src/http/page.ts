// The status page: one self-contained document (no CDN, no build step), served at / by armsd.
// It holds no data: it asks /api/v1/status, then follows /api/v1/events (server-sent events), and
// acts through the API's actions. A button that stops or kills asks for a second tap. Every value
// is set as text (never as HTML). __NONCE__ is the response's CSP nonce.
export const PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>ARMS</title>
<style nonce="__NONCE__">
:root { --bg:#f6f7f9; --card:#fff; --fg:#1d2330; --mute:#667085; --line:#e3e6eb; --ok:#127a3d; --okbg:#dcf5e5;
  --warn:#8a5a00; --warnbg:#fdf0d2; --bad:#b42318; --badbg:#fde4e1; --idle:#475467; --idlebg:#eceff3; --accent:#2456c7; }
@media (prefers-color-scheme: dark) { :root { --bg:#12151b; --card:#1b2029; --fg:#e7eaf0; --mute:#98a2b3; --line:#2c3340;
  --ok:#5fd08b; --okbg:#163524; --warn:#f0c060; --warnbg:#3a2e12; --bad:#ff8a7a; --badbg:#3d1a17; --idle:#c0c7d2; --idlebg:#2a303b; --accent:#8fb0ff; } }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { position:sticky; top:0; z-index:1; display:flex; flex-wrap:wrap; align-items:center; gap:.3rem 1rem; padding:.7rem 1rem;
  background:var(--card); border-bottom:1px solid var(--line); }
header h1 { margin:0; font-size:1.15rem; }
header .meta { color:var(--mute); font-size:.85rem; }
#conn { margin-left:auto; font-size:.85rem; color:var(--mute); }
#conn::before { content:""; display:inline-block; width:.6rem; height:.6rem; border-radius:50%; margin-right:.35rem; background:var(--bad); }
#conn.live::before { background:var(--ok); }
main { max-width:1100px; margin:0 auto; padding:.8rem; display:grid; gap:1rem; }
section h2 { margin:.2rem 0 .5rem; font-size:.8rem; letter-spacing:.06em; text-transform:uppercase; color:var(--mute); }
.cards { display:grid; gap:.7rem; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:.75rem .85rem; min-width:0; }
.card .top { display:flex; align-items:center; gap:.6rem; }
.card .name { font-weight:600; font-size:1.05rem; overflow-wrap:anywhere; }
.card .sub { color:var(--mute); font-size:.85rem; margin:.25rem 0 .5rem; }
.card .err { color:var(--bad); font-size:.85rem; margin:.2rem 0 .5rem; overflow-wrap:anywhere; }
.badge { display:inline-block; padding:.1rem .55rem; border-radius:999px; font-size:.8rem; font-weight:600; white-space:nowrap; }
.s-online, .s-running, .s-ok, .s-up { color:var(--ok); background:var(--okbg); }
.s-starting, .s-stopping, .s-ended, .s-suspended, .s-connecting { color:var(--warn); background:var(--warnbg); }
.s-error, .s-exhausted, .s-escalated, .s-failed, .s-ERR, .s-down, .s-fenced { color:var(--bad); background:var(--badbg); }
.s-offline, .s-WARN, .s-INFO { color:var(--idle); background:var(--idlebg); }
.buttons { display:flex; flex-wrap:wrap; gap:.4rem; }
button { font:inherit; font-size:.9rem; padding:.45rem .8rem; min-height:2.4rem; border-radius:8px; border:1px solid var(--line);
  background:var(--card); color:var(--fg); cursor:pointer; }
button:hover { border-color:var(--accent); }
button.arm { background:var(--badbg); color:var(--bad); border-color:var(--bad); }
button:disabled { opacity:.5; cursor:default; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; font-size:.9rem; }
th { color:var(--mute); font-weight:600; font-size:.78rem; text-transform:uppercase; letter-spacing:.04em; }
td.num { font-variant-numeric:tabular-nums; white-space:nowrap; }
td .buttons button { min-height:2rem; padding:.25rem .6rem; }
.empty { color:var(--mute); font-size:.9rem; padding:.4rem 0; }
#alerts li { list-style:none; padding:.4rem .6rem; border-bottom:1px solid var(--line); font-size:.88rem; overflow-wrap:anywhere; }
#alerts { margin:0; padding:0; background:var(--card); border:1px solid var(--line); border-radius:10px; }
#alerts time { color:var(--mute); margin-right:.4rem; font-variant-numeric:tabular-nums; }
#note { position:fixed; left:50%; bottom:1rem; transform:translateX(-50%); max-width:92vw; padding:.6rem 1rem; border-radius:8px;
  background:var(--fg); color:var(--bg); font-size:.9rem; display:none; }
#signin { max-width:420px; margin:3rem auto; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1rem; display:none; }
#signin input { width:100%; font:inherit; padding:.55rem; margin:.5rem 0; border-radius:8px; border:1px solid var(--line); background:var(--bg); color:var(--fg); }
/* Phones: the tables become one block per row, each value with its column's name. */
@media (max-width: 640px) {
  .cards { grid-template-columns:1fr; }
  table, tbody, tr, td { display:block; width:100%; }
  thead { display:none; }
  tr { border-bottom:1px solid var(--line); padding:.35rem 0; }
  td { border:0; padding:.15rem .7rem; }
  td[data-label]::before { content:attr(data-label) ": "; color:var(--mute); font-size:.8rem; }
  header .meta { width:100%; order:3; }
}
</style>
</head>
<body>
<header>
  <h1 id="title">ARMS</h1>
  <span id="conn">connecting</span>
  <span class="meta" id="meta"></span>
</header>
<form id="signin">
  <strong>This service asks for its token</strong>
  <div class="sub">It is in the service's home (http.token); "sudo cat /etc/arms/http.token" on the server shows it.</div>
  <input id="token" type="password" autocomplete="current-password" placeholder="token" aria-label="token">
  <button type="submit">Sign in</button>
  <div class="err" id="signin-error"></div>
</form>
<main id="main" hidden>
  <section><h2>Servers</h2><div class="cards" id="servers"></div></section>
  <section><h2>Groups</h2><div class="cards" id="groups"></div></section>
  <section><h2>Watches</h2><div id="watches"></div></section>
  <section><h2>Monitors</h2><div id="monitors"></div></section>
  <section><h2>Last alerts</h2><ul id="alerts"></ul></section>
</main>
<div id="note" role="status"></div>
<script nonce="__NONCE__">
"use strict";
var stream = null;
var $ = function (id) { return document.getElementById(id); };
function h(tag, attrs) {
  var el = document.createElement(tag);
  for (var k in attrs || {}) {
    if (k === "text") el.textContent = attrs[k];
    else if (k === "cls") el.className = attrs[k];
    else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), attrs[k]);
    else el.setAttribute(k, attrs[k]);
  }
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (Array.isArray(c)) el.append.apply(el, c.filter(function (x) { return x != null; }));
    else if (c != null) el.append(c);
  }
  return el;
}
function ago(iso) {
  if (!iso) return "";
  var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
  return Math.floor(s / 86400) + " d ago";
}
function clock(iso) {
  var d = new Date(iso);
  return isNaN(d) ? String(iso || "") : d.toLocaleString();
}
function duration(s) {
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}
function badge(text, state) { return h("span", { cls: "badge s-" + (state || text), text: text }); }
function note(text) {
  var n = $("note");
  n.textContent = text;
  n.style.display = "block";
  clearTimeout(note.t);
  note.t = setTimeout(function () { n.style.display = "none"; }, 5000);
}

/* A second tap within 4 s confirms what cannot be undone. */
function action(label, path, confirmText) {
  var b = h("button", { type: "button", text: label, "data-action": path.split("/").pop() });
  var armed = null;
  b.addEventListener("click", function () {
    if (confirmText && !armed) {
      b.classList.add("arm");
      b.textContent = confirmText;
      armed = setTimeout(function () { armed = null; b.classList.remove("arm"); b.textContent = label; }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.disabled = true;
    fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (r) {
        if (r.status === 401) return signIn();
        note(r.status < 300 ? label + ": " + (r.body.queued ? "queued" : (r.body.message || r.body.result || "done")) : label + " failed: " + r.body.error.message);
      })
      .catch(function (e) { note(label + " failed: " + e.message); })
      .then(function () { b.disabled = false; b.classList.remove("arm"); b.textContent = label; });
  });
  return b;
}
function enc(s) { return encodeURIComponent(s); }

var shown = null;
function render(s) {
  shown = s;
  document.title = "ARMS " + s.server;
  $("title").textContent = "ARMS \u00b7 " + s.server;
  $("meta").textContent = "armsd " + s.service.version + ", pid " + s.service.pid + ", up " + duration(s.service.uptime) +
    (s.reboots.count ? ", reboots by monitoring " + s.reboots.count + " of " + s.reboots.max : "") +
    (s.cluster ? " \u00b7 cluster " + s.cluster.name + ": " + s.cluster.state + (s.cluster.problem ? " (" + s.cluster.problem + ")" : "") : "");

  var servers = $("servers");
  servers.replaceChildren.apply(servers, s.servers.map(function (v) {
    var about = v.self ? ["this server", "pid " + v.pid, "armsd " + v.version] : [v.state + (v.since ? " since " + ago(v.since) : "")];
    if (s.cluster) about.push(v.groups.length ? "runs " + v.groups.join(", ") : "runs no group");
    return h("div", { cls: "card", "data-server": v.name },
      h("div", { cls: "top" }, h("span", { cls: "name", text: v.name }), badge(v.state)),
      h("div", { cls: "sub", text: about.join(" \u00b7 ") }));
  }));

  var groups = $("groups");
  if (!s.groups.length) groups.replaceChildren(h("div", { cls: "empty", text: "No groups are configured (arms.yaml, groups:)." }));
  else groups.replaceChildren.apply(groups, s.groups.map(function (g) {
    var base = "/api/v1/groups/" + enc(g.name) + "/";
    var last = g.lastEvent ? g.lastEvent.action + " " + g.lastEvent.event + (g.lastEvent.factor ? " " + g.lastEvent.factor : "") + ": " + g.lastEvent.result : "never started";
    return h("div", { cls: "card", "data-group": g.name },
      h("div", { cls: "top" }, h("span", { cls: "name", text: g.name }), badge(g.state), h("span", { cls: "sub owner", text: g.owner ? "on " + g.owner : "on no server" })),
      h("div", { cls: "sub", text: "since " + ago(g.since) + " \u00b7 " + last + (g.queued ? " \u00b7 " + g.queued + " queued" : "") +
        " \u00b7 failovers " + g.failovers.recent + "/" + g.failovers.max }),
      g.lastError ? h("div", { cls: "err", text: g.lastError.message + " (" + ago(g.lastError.at) + ")" }) : null,
      h("div", { cls: "buttons" }, action("Start", base + "start"), action("Stop", base + "stop", "Tap to stop"),
        action("Restart", base + "restart", "Tap to restart"), s.servers.length > 1 ? action("Move", base + "move", "Tap to move") : null));
  }));

  var watches = $("watches");
  if (!s.watches.length) watches.replaceChildren(h("div", { cls: "empty", text: "No watches (ARMLOAD starts them)." }));
  else watches.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, ["Watch", "Group", "State", "PID", "Restarts", "Last exit", ""].map(function (t) { return h("th", { text: t }); }))),
    h("tbody", {}, s.watches.map(function (w) {
      var exit = w.lastExit ? (w.lastExit.signal ? w.lastExit.signal : "code " + w.lastExit.code) + ", " + ago(w.lastExit.at) : "";
      return h("tr", { "data-watch": w.id },
        h("td", { "data-label": "Watch", text: w.id, title: w.command }),
        h("td", { "data-label": "Group", text: w.group || "-" }),
        h("td", { "data-label": "State" }, badge(w.state), w.suspended ? [" ", badge("suspended")] : null),
        h("td", { "data-label": "PID", cls: "num", text: w.pid == null ? "-" : String(w.pid) }),
        h("td", { "data-label": "Restarts", cls: "num restarts", text: w.restartsUsed + " of " + w.restartsAllowed + (w.resetsAt ? " (resets " + clock(w.resetsAt) + ")" : "") }),
        h("td", { "data-label": "Last exit", text: exit }),
        h("td", {}, h("div", { cls: "buttons" },
          w.suspended ? action("Resume", "/api/v1/watches/" + enc(w.id) + "/resume") : action("Suspend", "/api/v1/watches/" + enc(w.id) + "/suspend", "Tap to suspend"),
          w.state === "running" || w.state === "ended" ? action("Kill", "/api/v1/watches/" + enc(w.id) + "/kill", "Tap to kill") : null)));
    }))));

  /* A suspended monitor that never reported still has its row: the operator resumes it there. */
  var reported = {};
  s.monitors.forEach(function (m) { reported[m.monitor.toUpperCase()] = true; });
  var quiet = (s.suspendedMonitors || []).filter(function (n) { return !reported[n]; }).map(function (n) {
    return { monitor: n, group: null, kind: "", resource: "", ok: true, failures: 0, detail: "no result yet", at: null, suspended: true };
  });
  var rows = s.monitors.concat(quiet);
  var monitors = $("monitors");
  if (!rows.length) monitors.replaceChildren(h("div", { cls: "empty", text: "No monitor has reported (ARMRSP)." }));
  else monitors.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, ["Monitor", "Resource", "Result", "Detail", "Checked", ""].map(function (t) { return h("th", { text: t }); }))),
    h("tbody", {}, rows.map(function (m) {
      var base = "/api/v1/monitors/" + enc(m.monitor) + "/";
      return h("tr", { "data-monitor": m.monitor },
        h("td", { "data-label": "Monitor", text: m.monitor + (m.group ? " (" + m.group + ")" : "") }),
        h("td", { "data-label": "Resource", text: (m.kind + " " + m.resource).trim() || "-" }),
        h("td", { "data-label": "Result" }, m.suspended ? badge("suspended") : badge(m.ok ? "ok" : "failed " + m.failures + "x", m.ok ? "ok" : "failed")),
        h("td", { "data-label": "Detail", text: m.detail }),
        h("td", { "data-label": "Checked", text: ago(m.at) }),
        h("td", {}, m.suspended ? action("Resume", base + "resume") : action("Suspend", base + "suspend", "Tap to suspend")));
    }))));

  var alerts = $("alerts");
  var levels = { 40: "WARN", 50: "ERR" };
  if (!s.alerts.length) alerts.replaceChildren(h("li", { cls: "empty", text: "No alerts." }));
  else alerts.replaceChildren.apply(alerts, s.alerts.slice().reverse().map(function (a) {
    var lvl = levels[a.level] || "INFO";
    return h("li", {}, h("time", { text: clock(a.time) }), badge(lvl), " ", a.group ? "[" + a.group + "] " : "", String(a.msg || ""));
  }));
  $("main").hidden = false;
}

function live() {
  if (stream) stream.close();
  stream = new EventSource("/api/v1/events");
  stream.addEventListener("status", function (e) {
    $("conn").className = "live";
    $("conn").textContent = "live";
    render(JSON.parse(e.data));
  });
  stream.addEventListener("monitors", function (e) {
    if (!shown) return;
    shown.monitors = JSON.parse(e.data);
    render(shown);
  });
  stream.onerror = function () {
    $("conn").className = "";
    $("conn").textContent = "reconnecting";
    /* A stream refused for the token is not retried by the browser: ask again. */
    if (stream.readyState === EventSource.CLOSED) load();
  };
}
function load() {
  fetch("/api/v1/session", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (session) {
    if (!session.signedIn && !session.publicReads) return signIn();
    return fetch("/api/v1/status", { credentials: "same-origin" }).then(function (r) {
    if (r.status === 401) return signIn();
      return r.json().then(function (s) { $("signin").style.display = "none"; render(s); live(); });
    });
  }).catch(function () {
    $("conn").className = "";
    $("conn").textContent = "service not reachable";
    setTimeout(load, 3000);
  });
}
function signIn() {
  if (stream) stream.close();
  $("main").hidden = true;
  $("conn").textContent = "signed out";
  $("signin").style.display = "block";
}
$("signin").addEventListener("submit", function (e) {
  e.preventDefault();
  fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ token: $("token").value.trim() }) })
    .then(function (r) { if (r.ok) { $("signin-error").textContent = ""; load(); } else $("signin-error").textContent = "That is not the token."; });
});
/* Relative times move on between events. */
setInterval(function () { if (shown && !document.querySelector("button.arm")) render(shown); }, 30000);
load();
</script>
</body>
</html>
`;
