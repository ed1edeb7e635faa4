// Draws the report from the JSON data block. Model text reaches the DOM only as text nodes
// (`textContent`, `append(string)`) or attribute values: never as markup.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("codemode-data").textContent);
  const doc = data.results;
  const cmp = doc.comparison || null;
  const base = data.baseline;
  const cases = doc.cases || [];
  const repeated = (doc.repeats || 1) > 1;
  const CHUNK = 250; // rows added per step: the first screen at once, the rest between frames
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %");
  const points = (v) => (v >= 0 ? "+" : "") + (v * 100).toFixed(1);
  const interval = (ci) => (ci ? `[${(ci[0] * 100).toFixed(1)}–${(ci[1] * 100).toFixed(1)}]` : "");
  const scoreClass = (s) => (s >= 1 ? "full" : s > 0 ? "part" : "zero");
  const caseKey = (c) => (repeated ? `${c.id}[${(c.repeat || 0) + 1}]` : c.id);
  const badge = (c) => el("span", { class: "badge " + scoreClass(c.score), text: c.verdict });

  // ---- identity and headline ------------------------------------------------------------
  function renderIdentity() {
    const id = doc.identity || {};
    const model = id.model || {};
    const header = document.getElementById("identity");
    header.append(el("h1", { text: document.title }));
    const rows = [
      ["Date", id.started],
      ["Backend", id.backend],
      ["Model", model.path || model.name],
      ["Fingerprint", model.fingerprint && `${model.fingerprint}${model.fingerprint_method ? ` (${model.fingerprint_method})` : ""}`],
      ["Adapter", model.adapter && `${model.adapter} (${model.adapter_fingerprint || "?"})`],
      ["Suite", `${id.suite || "?"} · hash ${id.suite_hash || "?"}`],
      ["Prompt renderer", id.renderer_hash],
      ["Settings", settingsText(model.settings, id.generation)],
      ["Output cache", id.cache],
      ["Baseline targets", doc.baseline],
    ];
    const list = el("dl", { class: "identity" });
    for (const [name, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", { text: name }), el("dd", { class: "mono", text: value }));
    }
    header.append(list);
    const warnings = [...(id.warnings || [])];
    if (doc.missing && doc.missing.length) warnings.push(`${doc.missing.length} case(s) produced no result: ${doc.missing.join(", ")}`);
    for (const w of warnings) header.append(el("div", { class: "warning", text: "⚠ " + w }));
  }
  function settingsText(settings, generation) {
    const merged = Object.assign({}, settings || {}, generation || {});
    return Object.entries(merged)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" · ");
  }

  // ---- categories: table and chart -------------------------------------------------------
  function decisionOf(row) {
    if (row.decision) return row.decision;
    return row.target != null && row.evaluated === false ? "not evaluated" : "—";
  }
  function renderSummary() {
    const section = document.getElementById("summary");
    const o = doc.overall;
    const gate = doc.gate || {};
    const target = o.target == null ? "" : ` (target ≥ ${pct(o.target)})`;
    section.append(el("p", { class: "headline" },
      `Overall ${pct(o.score)} ${interval(o.ci95)}${target} over ${o.n} cases · decision: `,
      el("span", { class: "decision-" + (o.decision || "none"), text: decisionOf(o) }),
      o.target == null ? "" : ` · point gate: ${gate.passed ? "passed" : "missed"}`));
    section.append(el("h2", { text: "Categories against the pre-registered targets" }));
    const caption = el("p", { class: "caption", text: "Actual: mean score with its 95 % Wilson interval over the distinct cases. Decision: pass when the whole interval is at or above the target, fail when all of it is below, inconclusive otherwise. Cases needed: cases at the observed score that would lift the lower bound to the target. Format: share of outputs holding a parseable call. ⚠: the interval does not support the point verdict." });
    section.append(el("div", { class: "overview" }, el("div", {}, categoryTable(), caption), categoryChart()));
  }
  function categoryTable() {
    const head = ["Category", "n", "Baseline", "Target", "Actual [95 % CI]", "Point", "Decision", "Cases needed", "Format"];
    if (repeated) head.push(`pass^${doc.repeats}`);
    const table = el("table", { class: "categories" });
    table.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const row of [...doc.categories, doc.overall]) {
      const point = row.pass === true ? "✓ met" : row.pass === false ? "✗ missed" : "—";
      const cells = [
        el("td", { text: row.name }),
        el("td", { class: "num", text: row.n }),
        el("td", { class: "num", text: pct(row.baseline) }),
        el("td", { class: "num", text: row.target == null ? "—" : "≥ " + pct(row.target) }),
        el("td", { class: "num", text: `${pct(row.score)} ${interval(row.ci95)}` }),
        el("td", { class: row.pass === true ? "decision-pass" : row.pass === false ? "decision-fail" : "", text: point + (row.supported === false ? " ⚠" : "") }),
        el("td", { class: "decision-" + (row.decision || "none"), text: decisionOf(row) }),
        el("td", { class: "num", text: row.cases_needed === null || row.cases_needed === undefined ? "—" : row.cases_needed }),
        el("td", { class: "num", text: pct(row.format_adherence) }),
      ];
      if (repeated) cells.push(el("td", { class: "num", text: pct(row.pass_hat_k) }));
      body.append(el("tr", { class: row === doc.overall ? "overall" : "" }, ...cells));
    }
    table.append(body);
    return table;
  }
  function categoryChart() {
    const rows = [...doc.categories, doc.overall];
    const left = 100, width = 300, right = 60, rowH = 26, top = 22;
    const height = top + rows.length * rowH + 30;
    const chart = svg("svg", { width: left + width + right, height, role: "img", "aria-label": "score per category with 95 % interval and target" });
    const x = (v) => left + v * width;
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { x1: x(tick), x2: x(tick), y1: top - 6, y2: height - 26, stroke: "#e5e7eb" }));
      chart.append(svg("text", { x: x(tick), y: top - 10, "text-anchor": "middle" }, `${tick * 100}`));
    }
    const colour = { pass: "#15803d", fail: "#b91c1c", inconclusive: "#b45309" };
    rows.forEach((row, i) => {
      const y = top + i * rowH;
      const fill = colour[row.decision] || "#6b7280";
      chart.append(svg("text", { x: left - 8, y: y + 16, "text-anchor": "end", "font-weight": row === doc.overall ? 700 : 400 }, row.name));
      chart.append(svg("rect", { x: left, y: y + 5, width: Math.max(row.score * width, 1), height: rowH - 10, fill, "fill-opacity": 0.55 }));
      const [lo, hi] = row.ci95 || [row.score, row.score];
      const mid = y + rowH / 2;
      chart.append(svg("line", { x1: x(lo), x2: x(hi), y1: mid, y2: mid, stroke: "#111827", "stroke-width": 1.5 }));
      for (const end of [lo, hi]) chart.append(svg("line", { x1: x(end), x2: x(end), y1: mid - 5, y2: mid + 5, stroke: "#111827", "stroke-width": 1.5 }));
      if (row.target != null && row.target !== undefined) {
        chart.append(svg("line", { x1: x(row.target), x2: x(row.target), y1: y + 2, y2: y + rowH - 2, stroke: "#dc2626", "stroke-width": 2.5 }));
      }
      chart.append(svg("text", { x: left + width + 8, y: y + 16 }, pct(row.score)));
    });
    chart.append(svg("text", { x: 4, y: height - 8 }, "bar: score · whisker: 95 % interval · red: target · colour: decision"));
    return chart;
  }

  // ---- confusion matrix ------------------------------------------------------------------
  function renderConfusion() {
    const m = doc.confusion;
    if (!m || (!m.rows.length && !Object.keys(m.chains || {}).length)) return;
    const section = document.getElementById("confusion");
    section.append(el("h2", { text: "Tool routing: confusion matrix" }));
    section.append(el("p", { class: "caption", text: "Rows: the tool each single-tool case expects. Columns: the first catalog tool the output called (wrapped or direct), or what it produced instead. Outlined: the right tool." }));
    if (m.rows.length) {
      const max = Math.max(1, ...m.counts.flat());
      const table = el("table", { class: "confusion" });
      table.append(el("thead", {}, el("tr", {}, el("th", { text: "expected \\ called" }), ...m.columns.map((c) => el("th", { class: "col", text: c })))));
      const body = el("tbody");
      m.rows.forEach((row, r) => {
        const tr = el("tr", {}, el("th", { text: row }));
        m.columns.forEach((column, c) => {
          const n = m.counts[r][c];
          const td = el("td", { class: (row === column ? "diagonal " : "") + (n ? "" : "zero"), text: n || "·" });
          if (n) td.style.background = `rgba(29, 78, 216, ${(0.12 + 0.6 * n / max).toFixed(2)})`;
          tr.append(td);
        });
        body.append(tr);
      });
      table.append(body);
      section.append(table);
    }
    const chains = Object.entries(m.chains || {});
    if (chains.length) {
      const total = chains.reduce((sum, [, n]) => sum + n, 0);
      section.append(el("p", { text: `Chains (${total} sample${total === 1 ? "" : "s"}): ` + chains.map(([v, n]) => `${v} ${n}`).join(", ") }));
    }
  }

  // ---- comparison with the baseline ------------------------------------------------------
  function renderComparison() {
    if (!cmp) return;
    const section = document.getElementById("comparison");
    section.append(el("h2", { text: "Paired comparison with a baseline run" }));
    section.append(el("p", {}, "Baseline: ", el("code", { text: cmp.baseline }), ` · cases compared: ${cmp.overall.n} · flips: ${cmp.flips.length}`));
    for (const w of cmp.warnings || []) section.append(el("div", { class: "warning", text: `⚠ ${w}: the comparison is not like for like` }));
    const head = ["Category", "n", "Before", "After", "Δ points [95 % CI]", "↑ / ↓", "McNemar p", "sign p", "Verdict"];
    const table = el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))));
    const body = el("tbody");
    for (const g of [...cmp.categories, cmp.overall]) {
      const verdictClass = g.verdict === "better" ? "decision-pass" : g.verdict === "worse" ? "decision-fail" : "decision-none";
      body.append(el("tr", { class: g === cmp.overall ? "overall" : "" },
        el("td", { text: g.name }), el("td", { class: "num", text: g.n }),
        el("td", { class: "num", text: pct(g.before) }), el("td", { class: "num", text: pct(g.after) }),
        el("td", { class: "num", text: `${points(g.delta)} [${points(g.ci95[0])} – ${points(g.ci95[1])}]` }),
        el("td", { class: "num", text: `${g.improved} / ${g.regressed}` }),
        el("td", { class: "num", text: g.mcnemar_p.toPrecision(3) }), el("td", { class: "num", text: g.sign_p.toPrecision(3) }),
        el("td", { class: verdictClass, text: g.verdict.replace(/_/g, " ") })));
    }
    table.append(body);
    section.append(table);
    for (const [label, ids] of [["Only in the baseline", cmp.only_baseline], ["Only in this run", cmp.only_new]]) {
      if (ids && ids.length) section.append(el("p", { text: `${label} (${ids.length}): ${ids.join(", ")}` }));
    }
  }

  // ---- cases: filters, lazy rows, details on demand --------------------------------------
  const flips = new Map((cmp ? cmp.flips : []).map((f) => [f.id, f]));
  const baseCases = new Map();
  for (const c of base ? base.cases : []) {
    baseCases.set(`${c.id}#${c.repeat || 0}`, c);
    if (!baseCases.has(c.id)) baseCases.set(c.id, c);
  }
  const before = (c) => baseCases.get(`${c.id}#${c.repeat || 0}`) || baseCases.get(c.id) || null;
  const state = { q: "", category: "", verdict: "", change: "", open: new Set() };
  const tbody = document.querySelector("#cases tbody");
  const counter = el("span", { id: "counter" });
  const inputs = {}; // the filter controls by state key, kept in step with the URL
  let haystacks = null; // lower-cased searchable text per case, built on the first search
  let renderToken = 0;

  function readLocation() {
    const text = (location.hash || location.search || "").replace(/^[#?]/, "");
    const params = new URLSearchParams(text);
    for (const key of ["q", "category", "verdict", "change"]) state[key] = params.get(key) || "";
    for (const id of params.getAll("case")) state.open.add(id);
  }
  function writeLocation() {
    const params = new URLSearchParams();
    for (const key of ["verdict", "category", "change", "q"]) if (state[key]) params.set(key, state[key]);
    for (const id of state.open) params.append("case", id);
    const text = params.toString();
    history.replaceState(null, "", text ? "#" + text : location.pathname + location.search);
  }
  function select(name, label, options) {
    const node = el("select", { name, "aria-label": label });
    for (const [value, text] of options) node.append(el("option", { value, text }));
    node.value = state[name];
    inputs[name] = node;
    node.addEventListener("change", () => { state[name] = node.value; writeLocation(); renderRows(); });
    return el("label", {}, label + " ", node);
  }
  function countBy(key) {
    const counts = new Map();
    for (const c of cases) counts.set(c[key], (counts.get(c[key]) || 0) + 1);
    return [...counts].map(([value, n]) => [value, `${value} (${n})`]);
  }
  function renderControls() {
    const controls = document.getElementById("controls");
    const search = el("input", { type: "search", placeholder: "search id, prompt, output, note…", "aria-label": "search" });
    search.value = state.q;
    inputs.q = search;
    search.addEventListener("input", () => { state.q = search.value; writeLocation(); renderRows(); });
    controls.append(search,
      select("category", "Category", [["", "all"], ...countBy("category")]),
      select("verdict", "Verdict", [["", "all"], ...countBy("verdict")]));
    if (cmp) {
      const improved = cmp.flips.filter((f) => f.direction === "improved").length;
      controls.append(select("change", "Change", [["", "all cases"], ["flipped", `flipped (${cmp.flips.length})`],
        ["improved", `improved only (${improved})`], ["regressed", `regressed only (${cmp.flips.length - improved})`]]));
    }
    controls.append(counter);
    const head = ["Case", "Category", "Verdict", "Score"];
    if (cmp) head.push("Baseline");
    head.push("Seconds", "Note");
    document.querySelector("#cases thead").append(el("tr", {}, ...head.map((h) => el("th", { text: h }))));
  }
  function matches(c, i) {
    if (state.category && c.category !== state.category) return false;
    if (state.verdict && c.verdict !== state.verdict) return false;
    if (state.change) {
      const flip = flips.get(c.id);
      if (!flip || (state.change !== "flipped" && flip.direction !== state.change)) return false;
    }
    if (!state.q) return true;
    if (!haystacks) haystacks = cases.map((k) => [caseKey(k), k.category, k.prompt, k.note, k.output, k.think || ""].join("\n").toLowerCase());
    return haystacks[i].includes(state.q.toLowerCase());
  }
  function caseRow(c) {
    const flip = flips.get(c.id);
    const key = caseKey(c);
    const row = el("tr", { class: "case" + (flip ? " " + flip.direction : ""), "data-id": key, "data-verdict": c.verdict, "data-category": c.category, tabindex: 0 },
      el("td", { class: "mono", text: key }), el("td", { text: c.category }), el("td", {}, badge(c)),
      el("td", { class: "num", text: c.score.toFixed(2) }));
    if (cmp) {
      const b = before(c);
      const text = b ? `${Number(b.score).toFixed(2)} ${b.verdict}` : flip ? `${flip.before.toFixed(2)} ${flip.before_verdict}` : "—";
      row.append(el("td", { class: "change", text: (flip ? (flip.direction === "improved" ? "▲ " : "▼ ") : "") + text }));
    }
    row.append(el("td", { class: "num", text: c.seconds.toFixed(1) }), el("td", { class: "note", text: c.note }));
    const toggle = () => {
      if (state.open.has(key)) state.open.delete(key); else state.open.add(key);
      setOpen(row, c);
      writeLocation();
    };
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") toggle(); });
    return row;
  }
  function setOpen(row, c) {
    const open = state.open.has(row.dataset.id);
    const next = row.nextElementSibling;
    const shown = next && next.classList.contains("detail");
    row.classList.toggle("open", open);
    if (open && !shown) row.after(el("tr", { class: "detail" }, el("td", { colspan: row.children.length }, details(c))));
    if (!open && shown) next.remove();
  }
  function renderRows() {
    const token = ++renderToken;
    const shown = [];
    cases.forEach((c, i) => { if (matches(c, i)) shown.push(c); });
    tbody.textContent = "";
    document.body.dataset.rendered = "false";
    counter.textContent = `${shown.length} of ${cases.length} cases shown`;
    let next = 0;
    const step = () => {
      if (token !== renderToken) return; // a newer filter took over
      const fragment = document.createDocumentFragment();
      const rows = [];
      for (const end = Math.min(next + CHUNK, shown.length); next < end; next++) {
        const row = caseRow(shown[next]);
        fragment.append(row);
        if (state.open.has(row.dataset.id)) rows.push([row, shown[next]]);
      }
      tbody.append(fragment);
      for (const [row, c] of rows) setOpen(row, c);
      if (next < shown.length) setTimeout(step, 0);
      else finished();
    };
    step();
  }
  let scrolled = false;
  function finished() {
    document.body.dataset.rendered = "true";
    const first = tbody.querySelector("tr.case.open");
    if (first && !scrolled) { scrolled = true; first.scrollIntoView({ block: "nearest" }); }
  }

  // ---- one case, expanded ----------------------------------------------------------------
  function details(c) {
    const expected = c.expected && c.expected.length ? c.expected.join(" → ") : "no tool";
    const box = el("div", { class: "case-details" },
      el("h3", { text: "Prompt" }), el("pre", { class: "prompt", text: c.prompt || "" }),
      el("p", { class: "meta", text: `expected: ${expected}` }));
    if (!base) box.append(side(c, null));
    else box.append(el("div", { class: "sides" }, side(before(c), `Baseline (${base.label})`), side(c, "This run")));
    return box;
  }
  function side(c, title) {
    const box = el("div", { class: "side" });
    if (title) box.append(el("h3", { text: title }));
    if (!c) { box.append(el("p", { class: "meta", text: "not in this run" })); return box; }
    const tokens = [c.prompt_tokens !== null && c.prompt_tokens !== undefined ? `${c.prompt_tokens} prompt tokens` : null,
      c.generated_tokens !== null && c.generated_tokens !== undefined ? `${c.generated_tokens} generated tokens` : null,
      c.tokens_per_second ? `${c.tokens_per_second.toFixed(1)} tok/s` : null].filter(Boolean);
    box.append(el("p", { class: "meta" }, badge(c),
      ` score ${Number(c.score).toFixed(2)} · ${Number(c.seconds || 0).toFixed(2)} s · finish ${c.finish || "?"}` + (tokens.length ? " · " + tokens.join(" · ") : "") + (c.cached ? " · from the output cache" : "")));
    box.append(el("h3", { text: "Note" }), el("p", { text: c.note || "—" }));
    box.append(el("h3", { text: "Tools called" }),
      el("p", { class: "mono", text: c.tools_called && c.tools_called.length ? c.tools_called.join(", ") : "none" }));
    if (c.server_tool_calls && c.server_tool_calls.length) box.append(el("h3", { text: "Server-parsed tool calls" }), el("pre", { text: JSON.stringify(c.server_tool_calls, null, 2) }));
    if (c.error) box.append(el("h3", { text: "Error" }), el("pre", { text: c.error }));
    if (c.think) box.append(el("h3", { text: "Think block" }), el("pre", { class: "think", text: c.think }));
    box.append(el("h3", { text: "Raw output" }), el("pre", { class: "output", text: c.output || "" }));
    if (c.dry_run) box.append(dryRun(c.dry_run));
    return box;
  }
  function dryRun(runs) {
    const count = runs.length ? `${runs.length} execute_code run${runs.length === 1 ? "" : "s"}` : "no execute_code call to run";
    const box = el("div", { class: "dry-run" }, el("h3", { text: `Dry run: ${count}` }));
    runs.forEach((run, i) => {
      const where = run.line ? ` (line ${run.line})` : "";
      box.append(el("p", { class: "meta", text: `#${i + 1}: ${run.status} in ${Number(run.seconds || 0).toFixed(3)} s` + (run.error ? ` · ${run.error}${where}` : "") }));
      if (run.calls && run.calls.length) box.append(el("ul", { class: "calls mono" }, ...run.calls.map((call) => el("li", { text: callText(call) }))));
      if (run.stdout) box.append(el("pre", { text: run.stdout }));
    });
    return box;
  }
  function callText(call) {
    const args = (call.args || []).map((a) => JSON.stringify(a));
    for (const [name, value] of Object.entries(call.kwargs || {})) args.push(`${name}=${JSON.stringify(value)}`);
    return `${call.tool}(${args.join(", ")})`;
  }

  readLocation();
  renderIdentity();
  renderSummary();
  renderComparison();
  renderConfusion();
  renderControls();
  renderRows();
  window.addEventListener("hashchange", () => {
    state.open.clear();
    readLocation();
    for (const [key, input] of Object.entries(inputs)) input.value = state[key];
    renderRows();
  });
})();
