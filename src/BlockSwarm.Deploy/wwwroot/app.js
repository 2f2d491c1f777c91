// Live dashboard: one EventSource on /api/events; every message is a full snapshot.
"use strict";
const $ = (id) => document.getElementById(id);

function bytes(n) {
  if (n == null) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + u[i];
}
const rate = (n) => bytes(n) + "/s";
function duration(s) {
  if (s == null) return "–";
  s = Math.round(s);
  const m = Math.floor(s / 60), r = s % 60;
  return m > 0 ? `${m}m ${String(r).padStart(2, "0")}s` : `${r}s`;
}
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// States after which a client moves no more data: its last reported rates are history, not news.
const finished = new Set(["done", "failed", "refused", "interrupted"]);

// The address peers reach a client on: its BitTorrent endpoint when it listens on a real address,
// else the address its reports came from (plus the port it listens on).
function where(c) {
  const ep = c.report.endpoint;
  if (!ep) return c.address;
  const m = /^(.*):(\d+)$/.exec(ep);
  if (!m) return ep;
  const host = m[1];
  return host === "0.0.0.0" || host === "[::]" ? `${c.address}:${m[2]}` : ep;
}

function progressBar(pct, cls) {
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = pct.toFixed(1) + "%";
  if (cls) fill.className = cls;
  const label = document.createElement("em");
  label.className = "pct";
  label.textContent = pct.toFixed(1) + "%";
  bar.append(fill, label);
  return bar;
}

function render(snap) {
  const t = snap.totals, job = snap.job;
  const of = t.expected > 0 ? t.expected : t.clients;
  document.title = `${t.done}/${of} done · BlockSwarm ${job.name}`;
  $("job-name").textContent = job.name;
  $("job-line").textContent = `${job.name} · ${bytes(job.totalBytes)} in ${job.pieceCount} pieces · info-hash ${job.infoHash} · policy ${job.policy.mode}`
    + (job.serverKey ? ` · server key ${job.serverKey}` : "");
  $("t-done").textContent = `${t.done} / ${of}`;
  $("t-done").dataset.done = String(t.done);
  $("c-done").classList.toggle("all-done", t.allDone);
  const stale = snap.clients.filter((c) => c.stale).length;
  const notes = [];
  if (t.failed > 0) notes.push(`${t.failed} failed`);
  if (stale > 0) notes.push(`${stale} silent`);
  if (t.expected > 0 && t.clients < t.expected) notes.push(`${t.expected - t.clients} not seen yet`);
  $("t-failed").textContent = notes.join(" · ");
  $("t-failed").classList.toggle("bad", t.failed > 0);
  $("t-rate").textContent = rate(t.aggregateDownloadRate);
  $("t-origin").textContent = bytes(t.originUploaded);
  $("t-peers").textContent = bytes(t.peerUploaded);
  $("t-origin-rate").textContent = rate(t.originUploadRate);
  $("t-elapsed").textContent = duration(t.elapsedSeconds);

  // The whole room: clients not seen yet count as 0%.
  const sum = snap.clients.reduce((a, c) => a + Math.min(1, Math.max(0, c.report.progress)), 0);
  const roomPct = of > 0 ? (100 * sum) / Math.max(of, snap.clients.length) : 0;
  $("room-fill").style.width = roomPct.toFixed(1) + "%";
  $("room-fill").className = t.allDone ? "ok" : "";
  $("room-pct").textContent = of > 0 ? `room ${roomPct.toFixed(1)}%` + (t.allDone ? " · all done" : "") : "waiting for clients";

  const body = document.querySelector("#clients tbody");
  body.replaceChildren();
  for (const c of snap.clients) {
    const r = c.report;
    const over = finished.has(r.state);
    const tr = document.createElement("tr");
    tr.dataset.client = c.id;
    tr.dataset.state = r.state;
    cell(tr, r.hostname || c.id).title = c.id;
    cell(tr, where(c)).title = r.target || "";
    cell(tr, c.stale ? `${r.state} (silent)` : r.state, c.stale ? "stale" : `state-${r.state}`);
    const pct = Math.min(100, Math.max(0, r.progress * 100));
    const fillClass = r.state === "done" || r.state === "seeding" ? "ok" : r.state === "failed" || r.state === "refused" ? "bad" : "";
    cell(tr, "", "wide").appendChild(progressBar(pct, fillClass));
    cell(tr, over ? "–" : rate(r.downloadRate));
    cell(tr, over ? "–" : rate(r.uploadRate));
    cell(tr, bytes(r.fromOrigin));
    cell(tr, c.etaSeconds == null ? "–" : duration(c.etaSeconds));
    cell(tr, r.error || "", "error");
    body.appendChild(tr);
  }
  $("empty").style.display = snap.clients.length ? "none" : "block";
}

function connect() {
  const es = new EventSource("/api/events");
  es.onopen = () => { $("connection").textContent = "live"; $("connection").className = "pill live"; };
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "pill"; };
}
connect();
