// The decision explorer: plain DOM, no framework, nothing loaded from elsewhere (the page's
// CSP allows only this origin). Every value from the server is set with textContent, never
// parsed as HTML: audit data is caller data.
"use strict";

(() => {
  let token = "";
  let nextBefore = null;
  const $ = (id) => document.getElementById(id);

  function say(message) {
    $("status").textContent = message;
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = body.error || {};
      throw new Error(`${response.status} ${error.code || ""}: ${error.message || "request failed"}`);
    }
    return body;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text == null ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  function when(ts) {
    return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : "";
  }

  function filters() {
    const params = new URLSearchParams();
    for (const name of ["sub", "role", "model", "tool", "reason", "decision"]) {
      const value = $("search-form").elements[name].value.trim();
      if (value) params.set(name, value);
    }
    for (const name of ["since", "until"]) {
      const value = $("search-form").elements[name].value;
      if (value) params.set(name, `${value}:00+00:00`);
    }
    return params;
  }

  function openButton(decisionId, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    button.setAttribute("aria-label", `Open decision ${decisionId}`);
    button.addEventListener("click", () => openDecision(decisionId));
    return button;
  }

  async function search(more) {
    if (!token) return say("Enter a token first.");
    const params = filters();
    params.set("limit", "50");
    if (more && nextBefore !== null) params.set("before", String(nextBefore));
    say("Searching…");
    try {
      const page = await api(`/v1/decisions?${params}`);
      const body = $("results").tBodies[0];
      if (!more) body.replaceChildren();
      for (const d of page.decisions) {
        const row = body.insertRow();
        cell(row, when(d.ts));
        cell(row, d.sub);
        cell(row, (d.roles || []).join(", "));
        cell(row, d.model || d.tool || d.action);
        cell(row, d.allow ? "allow" : "deny", d.allow ? "allow" : "deny");
        cell(row, d.reason);
        row.insertCell().append(openButton(d.decision_id, "Open"));
      }
      nextBefore = page.next_before;
      $("results").hidden = body.rows.length === 0;
      $("no-results").hidden = body.rows.length !== 0;
      $("more").hidden = nextBefore === null;
      say(`${body.rows.length} decisions shown.`);
    } catch (error) {
      say(`Search failed: ${error.message}`);
    }
  }

  function fact(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value == null ? "–" : String(value);
    list.append(dt, dd);
  }

  async function openDecision(decisionId) {
    say("Opening decision…");
    try {
      const d = await api(`/v1/decisions/${encodeURIComponent(decisionId)}`);
      const facts = $("detail-facts");
      facts.replaceChildren();
      fact(facts, "Decision id", d.decision_id);
      fact(facts, "Time (UTC)", when(d.ts));
      fact(facts, "Caller", `${d.sub || "–"} (${(d.roles || []).join(", ")})`);
      fact(facts, "Route", `${d.route} (${d.action})`);
      fact(facts, "Outcome", `${d.allow ? "allow" : "deny"}, HTTP ${d.status}`);
      fact(facts, "Model", d.served_model && d.served_model !== d.requested_model
        ? `${d.requested_model} → ${d.served_model}` : d.requested_model || d.tool);
      if (d.outcome) fact(facts, "Guard", d.outcome.guard);
      fact(facts, "Bundle revision", d.bundle && d.bundle.revision);
      const reasons = $("detail-reasons");
      reasons.replaceChildren();
      for (const r of d.reasons) {
        const item = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = r.code;
        item.append(code, document.createTextNode(r.message ? `: ${r.message}` : ""));
        reasons.append(item);
      }
      if (!d.reasons.length) reasons.append(Object.assign(document.createElement("li"), { textContent: "none" }));
      const timings = $("detail-timings").tBodies[0];
      timings.replaceChildren();
      for (const [stage, ms] of Object.entries(d.timings_ms || {})) {
        const row = timings.insertRow();
        cell(row, stage);
        cell(row, Number(ms).toFixed(3));
      }
      $("detail-input").textContent = d.policy_input ? JSON.stringify(d.policy_input, null, 2) : "not recorded";
      $("detail").hidden = false;
      $("detail-heading").focus();
      say(`Decision ${d.decision_id} opened.`);
    } catch (error) {
      say(`Could not open the decision: ${error.message}`);
    }
  }

  async function listCandidates() {
    try {
      const { candidates } = await api("/v1/replay/candidates");
      const select = $("candidate");
      select.replaceChildren();
      const none = new Option(candidates.length ? "choose a candidate" : "no candidates configured", "");
      select.append(none, ...candidates.map((name) => new Option(name, name)));
    } catch (error) {
      say(`Could not list candidates: ${error.message}`);
    }
  }

  function outcomeText(o) {
    if (!o) return "engine error";
    return `${o.allow ? "allow" : "deny"}${o.model ? ` ${o.model}` : ""}${o.reasons.length ? ` (${o.reasons.join(", ")})` : ""}`;
  }

  async function runReplay() {
    const candidate = $("candidate").value;
    if (!candidate) return say("Choose a candidate bundle first.");
    const params = filters();
    params.delete("decision");
    params.delete("until");
    params.set("candidate", candidate);
    params.set("since", String(Date.now() / 1000 - Number($("window").value)));
    say("Replaying…");
    try {
      const report = await api(`/v1/replay?${params}`);
      $("replay-summary").textContent =
        `Replayed ${report.replayed} decisions with ${report.candidate_name} (revision ${report.candidate.revision}): ` +
        `${report.changed} would change, ${report.unchanged} unchanged.`;
      const body = $("replay-changes").tBodies[0];
      body.replaceChildren();
      for (const c of report.changes) {
        const row = body.insertRow();
        row.insertCell().append(openButton(c.decision_id, c.decision_id));
        cell(row, c.sub);
        cell(row, c.model || c.tool || c.action);
        cell(row, c.kind + (c.partial ? " (arguments not recorded)" : ""));
        cell(row, outcomeText(c.before));
        cell(row, outcomeText(c.after));
      }
      $("replay-changes").hidden = body.rows.length === 0;
      say(`Replay done: ${report.changed} changed.`);
    } catch (error) {
      say(`Replay failed: ${error.message}`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      token = $("token").value.trim();
      $("token").value = "";
      say(token ? "Token set." : "Enter a token.");
      if (token) listCandidates();
    });
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      search(false);
    });
    $("more").addEventListener("click", () => search(true));
    $("replay-form").addEventListener("submit", (event) => {
      event.preventDefault();
      runReplay();
    });
  });
})();
