// The Tune form (ranges switched on and off) and a tuning job's live page: its trials' table and a scatter of
// the trials against the objective, an inline SVG drawn here, redrawn from each "tuning" notice and from
// GET /api/tuning-jobs/<id>/ whenever the notice socket (re)opens.
(function () {
  const esc = (value) => icLive.escape(value);

  // The form ---------------------------------------------------------------------------------------------
  const form = document.getElementById("tuning-form");
  if (form) {
    // A range switched off keeps what was typed in it (it is sent, and ignored), only greyed.
    const sync = () => form.querySelectorAll(".range").forEach((row) => {
      const on = row.querySelector("input[name$=_on]").checked;
      row.classList.toggle("off", !on);
      const shared = form.querySelector(`[data-static="${row.dataset.range}"]`);
      if (shared) shared.classList.toggle("tuned", on);
    });
    form.addEventListener("change", sync);
    sync();
  }

  // The tuning job's page --------------------------------------------------------------------------------
  const section = document.getElementById("tuning");
  if (!section) return;
  const id = Number(section.dataset.tuning);
  const axis = document.getElementById("scatter-x");
  let summary = JSON.parse(document.getElementById("tuning-summary").textContent);

  const number = (v) => (v === null || v === undefined || v === "" ? NaN : Number(v));
  const shortValue = (v) => {
    const n = number(v);
    if (Number.isNaN(n) || Number.isInteger(n)) return String(v);
    return Math.abs(n) < 1e-3 || Math.abs(n) >= 1e4 ? n.toExponential(2) : String(Number(n.toPrecision(3)));
  };
  const figure = (t) => (t.objective ?? t.current);

  function render(next) {
    summary = next;
    document.getElementById("tuning-status").textContent = summary.status;
    const reason = document.getElementById("tuning-reason");
    reason.textContent = summary.reason || "";
    reason.hidden = !summary.reason;
    const stop = document.getElementById("stop-form");
    if (stop && summary.finished) stop.remove();
    const c = summary.counts;
    document.getElementById("tuning-counts").textContent =
      `${c.total} of ${summary.max_jobs} trials started: ${c.completed} completed, ${c.in_progress} training or waiting` +
      `, ${c.early_stopped} stopped early` + (c.failed ? `, ${c.failed} failed` : "") +
      (c.stopped - c.early_stopped > 0 ? `, ${c.stopped - c.early_stopped} stopped` : "") + ".";
    drawBest();
    drawTable();
    drawScatter();
  }

  function drawBest() {
    const line = document.getElementById("tuning-best");
    const best = summary.best;
    line.hidden = !best;
    if (!best) return;
    const tuned = Object.entries(best.tuned || {}).map(([k, v]) => `${esc(k)} ${esc(shortValue(v))}`).join(", ");
    const model = summary.best_model
      ? ` · <a id="best-model" href="${esc(summary.best_model.url)}">model ${esc(summary.best_model.name)}</a>` : "";
    line.innerHTML = `Best: <a href="${esc(best.job_url)}">trial ${esc(best.number)}</a>` +
      (best.objective !== null ? `, ${esc(summary.objective)} ${number(best.objective).toFixed(4)}` : "") +
      (tuned ? ` with ${tuned}` : "") + model;
  }

  function drawTable() {
    const table = document.getElementById("trials");
    const names = summary.tuned_names;
    table.tHead.innerHTML = `<tr><th>Trial</th><th>Job</th><th>State</th>${names.map((n) => `<th>${esc(n)}</th>`).join("")}` +
      `<th>${esc(summary.objective)}</th><th>Stopped early</th></tr>`;
    const best = summary.best && summary.best.job;
    table.tBodies[0].innerHTML = summary.trials.length ? summary.trials.map((t) => {
      const value = t.objective !== null ? number(t.objective).toFixed(4)
        : t.current !== null && t.current !== undefined ? `<i title="its last epoch">${number(t.current).toFixed(4)}</i>` : "—";
      const state = t.job_state === "running" ? `running ${Math.round(100 * t.progress)}%` : t.state;
      return `<tr data-trial="${esc(t.number)}" class="${t.job === best ? "best" : ""}">` +
        `<td>${esc(t.number)}${t.job === best ? ' <span class="badge">best</span>' : ""}</td>` +
        `<td><a href="${esc(t.job_url)}">${esc(t.job_name || `#${t.job}`)}</a></td>` +
        `<td data-trial-state title="${esc(t.reason)}">${esc(state)}</td>` +
        names.map((n) => `<td title="${esc(t.tuned[n])}">${esc(shortValue(t.tuned[n] ?? ""))}</td>`).join("") +
        `<td>${value}</td><td>${t.early_stopped ? "yes" : ""}</td></tr>`;
    }).join("") : `<tr><td colspan="${names.length + 5}">No trial has started yet.</td></tr>`;
  }

  // The scatter: x the trial number or a tuned hyperparameter (on a log scale when it is searched on one, by
  // category when it is categorical), y the objective.
  function drawScatter() {
    const box = document.getElementById("scatter");
    const width = Math.max(240, box.clientWidth || 600), height = Math.round(Math.min(320, Math.max(200, width * 0.5)));
    const pad = { left: 46, right: 14, top: 12, bottom: 40 };
    const name = axis.value;
    const trials = summary.trials.filter((t) => !Number.isNaN(number(figure(t))));
    const raw = (t) => (name ? t.tuned[name] : t.number);
    const categorical = name && summary.trials.some((t) => t.tuned[name] !== undefined && Number.isNaN(number(t.tuned[name])));
    const categories = categorical ? [...new Set(summary.trials.map(raw).filter((v) => v !== undefined))].sort() : [];
    const log = !categorical && summary.log_scaled.includes(name) && trials.every((t) => number(raw(t)) > 0);
    const xOf = (t) => (categorical ? categories.indexOf(raw(t)) : log ? Math.log10(number(raw(t))) : number(raw(t)));

    // The searched range spans the axis, so a point's place says where in it the trial landed.
    const searched = Object.values(summary.ranges || {}).flat().find((r) => r.Name === name && "MinValue" in r);
    const bounds = searched ? [searched.MinValue, searched.MaxValue].map(number).filter((v) => !log || v > 0) : [];
    let xs = trials.map(xOf).concat(bounds.map((v) => (log ? Math.log10(v) : v))).filter((x) => Number.isFinite(x));
    if (!name) xs = xs.concat([0, Math.max(summary.max_jobs - 1, 1)]);
    let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
    if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
    const margin = name ? (x1 - x0) * 0.04 : 0.5;  // no point half outside the plot
    [x0, x1] = [x0 - margin, x1 + margin];
    if (categorical) [x0, x1] = [-0.5, Math.max(categories.length - 0.5, 0.5)];
    const ys = trials.map((t) => number(figure(t)));
    let [y0, y1] = [Math.min(0, ...ys), Math.max(1, ...ys)];
    const px = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
    const py = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);

    const parts = [];
    for (let i = 0; i <= 4; i++) {
      const y = y0 + ((y1 - y0) * i) / 4;
      parts.push(`<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${py(y)}" y2="${py(y)}"/>`,
        `<text class="tick" x="${pad.left - 6}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(2)}</text>`);
    }
    const ticks = categorical ? categories.map((c, i) => [i, c])
      : !name ? Array.from({ length: Math.ceil(x1) - Math.ceil(x0) }, (_, i) => Math.ceil(x0) + i)
        .filter((x, _, all) => all.length <= 12 || x % Math.ceil(all.length / 10) === 0).map((x) => [x, String(x)])
        : Array.from({ length: 5 }, (_, i) => x0 + margin + ((x1 - x0 - 2 * margin) * i) / 4)
          .map((x) => [x, shortValue(log ? 10 ** x : x)]);
    ticks.filter(([, label]) => label !== "").forEach(([x, label]) => parts.push(
      `<text class="tick" x="${px(x)}" y="${height - pad.bottom + 16}" text-anchor="middle">${esc(label)}</text>`));
    parts.push(`<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}"/>`,
      `<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}"/>`,
      `<text class="label" x="${(pad.left + width - pad.right) / 2}" y="${height - 6}" text-anchor="middle">${esc(name || "trial number")}${log ? " (log scale)" : ""}</text>`);
    const best = summary.best && summary.best.job;
    trials.forEach((t) => {
      const x = xOf(t);
      if (Number.isNaN(x)) return;
      const kind = t.job === best ? "best" : t.early_stopped ? "stopped" : t.objective === null ? "live" : "done";
      const tip = `trial ${t.number}: ${summary.objective} ${number(figure(t)).toFixed(4)}` +
        Object.entries(t.tuned).map(([k, v]) => `\n${k} ${v}`).join("");
      parts.push(`<circle class="point ${kind}" data-trial="${esc(t.number)}" cx="${px(x).toFixed(1)}" cy="${py(number(figure(t))).toFixed(1)}"` +
        ` r="${kind === "best" ? 8 : 5}"><title>${esc(tip)}</title></circle>`);
    });
    if (!trials.length) parts.push(`<text class="label" x="${width / 2}" y="${height / 2}" text-anchor="middle">no trial has a figure yet</text>`);
    box.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` role="img" aria-label="trials against ${esc(summary.objective)}">${parts.join("")}</svg>`;
  }

  // Live: every notice carries the whole summary; a socket that (re)opens catches up with one fetch, and a
  // trial job's own notice asks for one too (so a missed tuning notice costs a second at most).
  let fetching = null, again = false;
  function refresh() {
    if (fetching) { again = true; return; }
    fetching = icApi.json(section.dataset.apiUrl).then(render).catch(() => {}).finally(() => {
      fetching = null;
      if (again) { again = false; setTimeout(refresh, 1000); }
    });
  }
  icLive.notices.on("tuning", (notice) => { if (notice.tuning === id) render(notice); });
  icLive.notices.on("open", refresh);
  icLive.notices.on("job", (notice) => {
    if (!summary.finished || summary.trials.some((t) => t.job === notice.job && !["succeeded", "failed", "cancelled"].includes(t.job_state))) refresh();
  });
  axis.addEventListener("change", drawScatter);
  let resized = null;
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(drawScatter, 100); });
  render(summary);
})();
