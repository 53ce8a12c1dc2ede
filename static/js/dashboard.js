// A job's live dashboard: history then live stream over one WebSocket (icLive), charts updated in place.
// Epochs are counted from 1 everywhere on the page (the stream carries MXNet's 0-based numbers).
(function () {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const epochs = Number(root.dataset.epochs);
  const FINISHED = ["succeeded", "failed", "cancelled"];
  const series = {
    batch: { x: [], loss: [], accuracy: [] },         // x = fractional epoch
    epoch: { x: [], trainLoss: [], valLoss: [], trainAcc: [], valAcc: [], topk: [], lr: [] },  // x = 1-based epoch
  };
  let lastSeq = 0;
  const renderedSeq = Number(root.dataset.lastSeq);  // the job's last event when the page was made
  let state = root.dataset.state;
  let finished = FINISHED.includes(state);
  const live = !finished;  // whether this page sees the job run (else it replays a finished job)

  const HEIGHT = 220;
  function chart(id, labels, colours) {
    const box = document.getElementById(id);
    const plot = new uPlot({
      width: Math.max(box.clientWidth, 200), height: HEIGHT,
      scales: { x: { time: false } },
      axes: [{ label: "epoch" }, {}],
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colours[i], width: 2, points: { show: !label.startsWith("batch") } }))],
    }, [[], ...labels.map(() => [])], box);
    // Each chart fills its figure, whatever the window does (phone, resize, a hidden section shown).
    new ResizeObserver(() => {
      if (box.clientWidth > 0 && Math.abs(box.clientWidth - plot.width) > 1) plot.setSize({ width: box.clientWidth, height: HEIGHT });
    }).observe(box);
    return plot;
  }
  const charts = {
    loss: chart("chart-loss", ["batch loss", "train loss", "val loss"], ["#9aa5b1", "#2f6fdb", "#e15759"]),
    accuracy: chart("chart-accuracy", ["batch accuracy", "train acc", "val acc", "val top-k"], ["#9aa5b1", "#2f6fdb", "#e15759", "#59a14f"]),
    lr: chart("chart-lr", ["lr"], ["#b07aa1"]),
  };

  // Batch and epoch points share one x axis; each series is undefined where it has no point.
  function redraw() {
    const xs = [...new Set([...series.batch.x, ...series.epoch.x])].sort((a, b) => a - b);
    const at = (keys, values, x) => { const i = keys.indexOf(x); return i < 0 ? null : values[i]; };
    const batchAt = (values) => xs.map((x) => at(series.batch.x, values, x));
    const epochAt = (values) => xs.map((x) => at(series.epoch.x, values, x));
    charts.loss.setData([xs, batchAt(series.batch.loss), epochAt(series.epoch.trainLoss), epochAt(series.epoch.valLoss)]);
    charts.accuracy.setData([xs, batchAt(series.batch.accuracy), epochAt(series.epoch.trainAcc), epochAt(series.epoch.valAcc), epochAt(series.epoch.topk)]);
    charts.lr.setData([series.epoch.x, series.epoch.lr]);
    root.dataset.points = series.batch.x.length + series.epoch.x.length;
  }

  function figures(text) { document.getElementById("job-figures").textContent = text; }

  function onMetric(m) {
    root.hidden = false;
    document.getElementById("job-queue").hidden = true;
    const values = m.metrics;
    if (m.batch !== null) {
      series.batch.x.push(m.epoch + (m.batch + 1) / values.batches);
      series.batch.loss.push(values["train:batch_loss"]);
      series.batch.accuracy.push(values["train:batch_accuracy"]);
      if (finished) return;  // a replayed history: the finished job's figures stay
      const done = (m.epoch * values.batches + m.batch + 1) / (values.batches * epochs);
      document.getElementById("job-progress").value = done;
      figures(`epoch ${m.epoch + 1}/${epochs} · ${Math.round(values.images_per_sec)} images/s · ${(100 * done).toFixed(0)}%` +
        (series.etaSeconds ? ` · ETA ${Math.round(series.etaSeconds)} s` : ""));
    } else {
      const e = series.epoch;
      const number = m.epoch + 1;
      e.x.push(number);
      e.trainLoss.push(values["train:loss"]); e.valLoss.push(values["validation:loss"]);
      e.trainAcc.push(values["train:accuracy"]); e.valAcc.push(values["validation:accuracy"]);
      const topk = Object.keys(values).find((k) => k.startsWith("validation:top_k_accuracy_"));
      e.topk.push(topk ? values[topk] : null);
      e.lr.push(values.lr);
      series.etaSeconds = values.eta;
      const row = document.createElement("tr");
      row.dataset.epoch = number;
      row.innerHTML = [number, values["train:accuracy"], values["validation:accuracy"], values["train:loss"],
        values["validation:loss"], values.lr].map((v, i) => `<td>${i ? Number(v).toPrecision(4) : v}</td>`).join("");
      document.querySelector("#epoch-table tbody").append(row);
      markKept();
    }
  }

  function markKept() {
    const kept = root.dataset.kept;
    document.querySelectorAll("#epoch-table tbody tr").forEach((row) => {
      row.classList.toggle("kept", row.dataset.epoch === kept);
      row.title = row.dataset.epoch === kept ? "the epoch the model holds" : "";
    });
  }

  // A finished job keeps no live controls: no Cancel, no ETA; what it left is offered instead.
  function onFinished(message) {
    document.getElementById("cancel-form")?.remove();
    const done = series.epoch.x.length;
    figures(`${message.state}${done ? ` after epoch ${done} of ${epochs}` : ""}`);
    if (message.state === "succeeded") document.getElementById("job-progress").value = 1;
    if (!live) return;  // the page was rendered finished: it already shows what the job left
    refreshJob(message.state);
  }

  async function refreshJob(finalState) {
    const job = await icApi.json(root.dataset.jobUrl).catch(() => null);
    if (!job) return;
    if (finalState === "succeeded") {
      if (job.kept_reason) {
        const kept = document.getElementById("job-kept");
        const accuracy = (job.kept_metrics || {})["validation:accuracy"];
        kept.textContent = `The model holds ${job.kept_reason}.` +
          (accuracy !== undefined ? ` Its validation accuracy: ${accuracy.toFixed(4)}.` : "");
        kept.hidden = false;
        root.dataset.kept = job.kept_epoch;
        markKept();
      }
      if (!document.getElementById("job-model")) showModel();
    } else if (finalState === "cancelled" && !document.getElementById("resume-form")) {
      offerCheckpoint(job.checkpoint);
    }
  }

  function postButton(id, action, label) {
    const form = document.createElement("form");
    form.method = "post"; form.action = action; form.id = id;
    form.innerHTML = `<input type="hidden" name="csrfmiddlewaretoken" value="${icApi.escape(icApi.csrf())}"><button>${icApi.escape(label)}</button>`;
    document.getElementById("job-controls").append(form);
  }
  function offerCheckpoint(checkpoint) {
    postButton("resume-form", root.dataset.resumeUrl, checkpoint ? `Resume after epoch ${checkpoint.epoch}` : "Start again");
    if (checkpoint && checkpoint.model_epoch) {
      postButton("model-form", root.dataset.modelMakeUrl, `Make a model of epoch ${checkpoint.model_epoch}`);
    }
  }

  let pending = false;
  function handle(message) {
    if (message.seq <= lastSeq) return;  // never twice, whatever the network does
    lastSeq = message.seq;
    if (message.type === "metric") onMetric(message);
    else if (message.type === "log") {
      const log = document.getElementById("log");
      log.textContent += message.line + "\n";
      log.scrollTop = log.scrollHeight;
    } else if (message.type === "state") {
      state = message.state;
      document.getElementById("job-state").textContent = message.state;
      document.getElementById("job-reason").textContent = message.reason || "";
      if (message.state !== "queued") document.getElementById("job-queue").hidden = true;
      // A job can stop and go on (cancelled, then resumed): only its latest state acts on the page.
      if (message.seq >= renderedSeq) {
        finished = FINISHED.includes(message.state);
        if (finished) onFinished(message);
      }
    }
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; redraw(); }); }
  }

  // The model this job made, linked as soon as the job succeeds (the page may predate it).
  async function showModel() {
    const models = await icApi.json(root.dataset.modelsUrl).catch(() => []);
    const model = models.find((m) => m.job === jobId());
    if (!model) return;
    const link = document.createElement("a");
    link.id = "job-model";
    link.className = "button";
    link.href = icLive.withId(root.dataset.modelUrl, model.id);
    link.textContent = `Model ${model.name}: predict`;
    document.querySelector(".title-row").append(link);
  }
  function jobId() { return Number(root.dataset.job); }

  // A queued job's place in the queue changes as the jobs before it finish.
  async function followQueue() {
    if (state !== "queued") return;
    const job = await icApi.json(root.dataset.jobUrl).catch(() => null);
    if (job && job.queue && state === "queued") {
      const note = document.getElementById("job-queue");
      note.textContent = job.queue.text;
      note.hidden = false;
    }
    if (state === "queued") setTimeout(followQueue, queuePoll);
  }
  const queuePoll = Number(root.dataset.queuePollMs);
  setTimeout(followQueue, queuePoll);

  // Each (re)connect asks for what came after the last seq seen: the server replays it, then streams.
  const stream = icLive.connect(() => `${root.dataset.ws}?after=${lastSeq}`, { reconnect: () => !FINISHED.includes(state) });
  for (const type of ["metric", "log", "state"]) stream.on(type, handle);
})();
