// Several runs' epoch curves on shared axes.
(async function () {
  const root = document.getElementById("compare");
  const ids = root.dataset.jobs.split(",").filter(Boolean);
  const colours = ["#2f6fdb", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2"];
  const runs = await Promise.all(ids.map(async (id) => {
    const events = await icApi.json(icLive.withId(root.dataset.metricsUrl, id));
    return events.filter((e) => e.type === "metric" && e.batch === null);
  }));
  const epochs = Math.max(0, ...runs.map((r) => r.length));
  const xs = Array.from({ length: epochs }, (_, i) => i + 1);
  function plot(element, metric) {
    const box = document.getElementById(element);
    const series = runs.map((run) => xs.map((x) => (run[x - 1] ? run[x - 1].metrics[metric] : null)));
    const chart = new uPlot({ width: Math.max(box.clientWidth, 200), height: 260, scales: { x: { time: false } },
      axes: [{ label: "epoch" }, {}],
      series: [{}, ...ids.map((id, i) => ({ label: `#${id}`, stroke: colours[i % colours.length], width: 2 }))] },
    [xs, ...series], box);
    // The chart fills its figure and follows the window (a phone, a resized window).
    new ResizeObserver(() => {
      if (box.clientWidth > 0 && Math.abs(box.clientWidth - chart.width) > 1) chart.setSize({ width: box.clientWidth, height: 260 });
    }).observe(box);
  }
  plot("compare-accuracy", "validation:accuracy");
  plot("compare-loss", "train:loss");
  root.dataset.plotted = runs.map((r) => r.length).join(",");
})();
