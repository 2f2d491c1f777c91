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

function render(snap) {
  const t = snap.totals, job = snap.job;
  $("job-name").textContent = job.name;
  $("job-line").textContent = `${job.name} · ${bytes(job.totalBytes)} in ${job.pieceCount} pieces · info-hash ${job.infoHash} · policy ${job.policy.mode}`;
  $("t-done").textContent = `${t.done} / ${t.expected > 0 ? t.expected : t.clients}`;
  $("t-done").dataset.done = String(t.done);
  $("t-rate").textContent = rate(t.aggregateDownloadRate);
  $("t-origin").textContent = bytes(t.originUploaded);
  $("t-peers").textContent = bytes(t.peerUploaded);
  $("t-origin-rate").textContent = rate(t.originUploadRate);
  $("t-elapsed").textContent = duration(t.elapsedSeconds);
  const body = document.querySelector("#clients tbody");
  body.replaceChildren();
  for (const c of snap.clients) {
    const r = c.report;
    const tr = document.createElement("tr");
    tr.dataset.client = c.id;
    cell(tr, r.hostname || c.id).title = c.id;
    cell(tr, c.address);
    cell(tr, c.stale ? `${r.state} (silent)` : r.state, c.stale ? "stale" : `state-${r.state}`);
    const td = cell(tr, "", "wide");
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    const pct = Math.min(100, Math.max(0, r.progress * 100));
    fill.style.width = pct.toFixed(1) + "%";
    const label = document.createElement("em");
    label.className = "pct";
    label.textContent = pct.toFixed(1) + "%";
    bar.append(fill, label);
    td.appendChild(bar);
    cell(tr, rate(r.downloadRate));
    cell(tr, rate(r.uploadRate));
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
