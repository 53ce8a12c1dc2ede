// A job's live dashboard: history then live stream over one WebSocket, charts updated in place.
(function () {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const epochs = Number(root.dataset.epochs);
  const series = {
    batch: { x: [], loss: [], accuracy: [] },         // x = fractional epoch
    epoch: { x: [], trainLoss: [], valLoss: [], trainAcc: [], valAcc: [], topk: [], lr: [] },
  };
  let lastSeq = 0;
  let finished = false;

  function chart(id, labels, colours) {
    const width = Math.min(440, root.clientWidth / 3 - 20);
    return new uPlot({
      width, height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "epoch" }, {}],
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colours[i], width: 2, points: { show: !label.startsWith("batch") } }))],
    }, [[], ...labels.map(() => [])], document.getElementById(id));
  }
  const charts = {
    loss: chart("chart-loss", ["batch loss", "train loss", "val loss"], ["#9aa5b1", "#2f6fdb", "#e15759"]),
    accuracy: chart("chart-accuracy", ["batch accuracy", "train acc", "val acc", "val top-k"], ["#9aa5b1", "#2f6fdb", "#e15759", "#59a14f"]),
    lr: chart("chart-lr", ["lr"], ["#b07aa1"]),
  };

  // Batch and epoch points share one x axis; each series is undefined where it has no point.
  function redraw() {
    const xs = [...new Set([...series.batch.x, ...series.epoch.x.map((e) => e + 1)])].sort((a, b) => a - b);
    const at = (keys, values, x, shift) => { const i = keys.indexOf(x - shift); return i < 0 ? null : values[i]; };
    const batchAt = (values) => xs.map((x) => at(series.batch.x, values, x, 0));
    const epochAt = (values) => xs.map((x) => at(series.epoch.x, values, x, 1));
    charts.loss.setData([xs, batchAt(series.batch.loss), epochAt(series.epoch.trainLoss), epochAt(series.epoch.valLoss)]);
    charts.accuracy.setData([xs, batchAt(series.batch.accuracy), epochAt(series.epoch.trainAcc), epochAt(series.epoch.valAcc), epochAt(series.epoch.topk)]);
    charts.lr.setData([series.epoch.x.map((e) => e + 1), series.epoch.lr]);
    root.dataset.points = series.batch.x.length + series.epoch.x.length;
  }

  function onMetric(m) {
    const values = m.metrics;
    if (m.batch !== null) {
      series.batch.x.push(m.epoch + (m.batch + 1) / values.batches);
      series.batch.loss.push(values["train:batch_loss"]);
      series.batch.accuracy.push(values["train:batch_accuracy"]);
      const done = (m.epoch * values.batches + m.batch + 1) / (values.batches * epochs);
      document.getElementById("job-progress").value = done;
      document.getElementById("job-figures").textContent =
        `epoch ${m.epoch + 1}/${epochs} · ${Math.round(values.images_per_sec)} images/s · ${(100 * done).toFixed(0)}%` +
        (series.etaSeconds ? ` · ETA ${Math.round(series.etaSeconds)} s` : "");
    } else {
      const e = series.epoch;
      e.x.push(m.epoch);
      e.trainLoss.push(values["train:loss"]); e.valLoss.push(values["validation:loss"]);
      e.trainAcc.push(values["train:accuracy"]); e.valAcc.push(values["validation:accuracy"]);
      const topk = Object.keys(values).find((k) => k.startsWith("validation:top_k_accuracy_"));
      e.topk.push(topk ? values[topk] : null);
      e.lr.push(values.lr);
      series.etaSeconds = values.eta;
      const row = document.createElement("tr");
      row.innerHTML = [m.epoch, values["train:accuracy"], values["validation:accuracy"], values["train:loss"],
        values["validation:loss"], values.lr].map((v, i) => `<td>${i ? Number(v).toPrecision(4) : v}</td>`).join("");
      document.querySelector("#epoch-table tbody").append(row);
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
      document.getElementById("job-state").textContent = message.state;
      document.getElementById("job-reason").textContent = message.reason || "";
      finished = ["succeeded", "failed", "cancelled"].includes(message.state);
      if (message.state === "succeeded" && !document.getElementById("job-model")) showModel();
    }
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; redraw(); }); }
  }

  // The model this job made, linked as soon as the job succeeds (the page may predate it).
  async function showModel() {
    const models = await icApi.json("/api/models/").catch(() => []);
    const model = models.find((m) => m.job === jobId());
    if (!model) return;
    const link = document.createElement("a");
    link.id = "job-model";
    link.className = "button";
    link.href = `/models/${model.id}/`;
    link.textContent = `Model ${model.name}: predict`;
    document.querySelector(".title-row").append(link);
  }
  function jobId() { return Number(root.dataset.ws.match(/jobs\/(\d+)/)[1]); }

  let delay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.ws}?after=${lastSeq}`);
    socket.onopen = () => { delay = 500; };
    socket.onmessage = (event) => handle(JSON.parse(event.data));
    socket.onclose = () => {
      if (finished) return;
      // Reconnect with the last seq seen: the server replays what was missed, then streams.
      setTimeout(connect, delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
