// A finished job's evaluation: confusion matrix (click a cell for its images), per-class figures,
// and the misclassified images, which a number key relabels in the dataset's working copy.
(function () {
  const section = document.getElementById("evaluation");
  if (!section) return;
  let evaluation = null, selected = null;

  async function load() {
    try {
      evaluation = await icApi.json(section.dataset.url);
    } catch (error) {
      return false;  // not finished yet
    }
    section.hidden = false;
    const e = evaluation;
    document.getElementById("evaluation-summary").textContent =
      `top-1 accuracy ${(100 * e.accuracy).toFixed(2)}%` +
      (e.top_k ? ` · top-${e.top_k} accuracy ${(100 * e.top_k_accuracy).toFixed(2)}%` : "") +
      ` · ${e.predictions.length} images`;
    const names = e.class_names;
    if (e.confusion.length) {
      const max = Math.max(1, ...e.confusion.flat());
      document.getElementById("confusion").innerHTML =
        `<tr><th></th>${names.map((n) => `<th>${icApi.escape(n)}</th>`).join("")}</tr>` +
        e.confusion.map((row, t) => `<tr><th>${icApi.escape(names[t])}</th>${row.map((n, p) =>
          `<td data-true="${t}" data-predicted="${p}" style="background: rgba(47,111,219,${n / max})"
               class="${t === p ? "diagonal" : ""}">${n}</td>`).join("")}</tr>`).join("");
    }
    document.getElementById("per-class").innerHTML = "<tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Images</th></tr>" +
      e.per_class.map((c) => `<tr><td>${icApi.escape(c.name)}</td><td>${c.precision.toFixed(3)}</td><td>${c.recall.toFixed(3)}</td>
        <td>${c.f1.toFixed(3)}</td><td>${c.support}</td></tr>`).join("");
    show((row) => !row.correct, "Misclassified, most confident first");
    return true;
  }

  function show(filter, title) {
    document.getElementById("mistakes-title").textContent = title;
    const names = evaluation.class_names;
    const rows = evaluation.predictions.filter(filter).slice(0, 200);
    document.getElementById("mistakes").innerHTML = rows.map((row) => `
      <figure class="cell" data-image="${row.image}">
        <img loading="lazy" src="${row.thumbnail}" alt="">
        <figcaption>true <b>${icApi.escape(row.labels.map((i) => names[i]).join(", "))}</b><br>
          predicted <b>${icApi.escape(row.predicted.map((i) => names[i]).join(", "))}</b> (${(100 * row.confidence).toFixed(0)}%)</figcaption>
      </figure>`).join("") || "<p>None.</p>";
  }

  document.getElementById("confusion").addEventListener("click", (event) => {
    const cell = event.target.closest("td[data-true]");
    if (!cell) return;
    const t = Number(cell.dataset.true), p = Number(cell.dataset.predicted);
    show((row) => row.labels[0] === t && row.predicted[0] === p,
      `True ${evaluation.class_names[t]}, predicted ${evaluation.class_names[p]}`);
  });
  document.getElementById("mistakes").addEventListener("click", (event) => {
    const cell = event.target.closest(".cell");
    if (!cell) return;
    document.querySelectorAll("#mistakes .cell.selected").forEach((c) => c.classList.remove("selected"));
    cell.classList.add("selected");
    selected = cell;
  });
  document.addEventListener("keydown", async (event) => {
    if (!selected || !/^[1-9]$/.test(event.key)) return;
    const name = evaluation.class_names[Number(event.key) - 1];
    if (!name || !evaluation.class_ids[name]) return;
    await icApi.json(section.dataset.labelsUrl, { method: "POST",
      body: JSON.stringify({ images: [Number(selected.dataset.image)], set: evaluation.class_ids[name] }) });
    selected.querySelector("figcaption").innerHTML += `<br><span class="chip" style="background:#2e8540">relabeled ${icApi.escape(name)}</span>`;
    selected.dataset.relabeled = name;
  });

  // Only a succeeded job has an evaluation: asked for at once when the page was made after it, else when
  // the job's notice says it succeeded, or when the notice channel (re)opens after the job did.
  const job = Number(section.dataset.job);
  let loading = null;
  const loadOnce = () => {
    if (!evaluation && !loading) loading = load().finally(() => { loading = null; });
  };
  if (section.dataset.state === "succeeded") loadOnce();
  icLive.notices
    .on("job", (notice) => { if (notice.job === job && notice.state === "succeeded") loadOnce(); })
    .on("open", () => { if (document.getElementById("job-state").textContent === "succeeded") loadOnce(); });
})();
