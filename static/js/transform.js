// A batch transform's progress, as its worker's notices tell it (icLive.notices); the page draws its
// first state itself, and the transform is fetched once whenever the channel (re)opens, for what was missed.
(() => {
  const section = document.getElementById("transform");
  if (!section) return;
  const id = Number(section.dataset.transform);
  const FINISHED = ["succeeded", "failed", "cancelled"];
  let state = section.dataset.state;

  function draw(transform) {
    state = transform.state;
    section.dataset.state = state;
    document.getElementById("transform-progress").value = transform.progress;
    document.getElementById("transform-count").textContent = `${transform.done} / ${transform.total}`;
    document.getElementById("transform-state").textContent =
      transform.state + (transform.reason ? `: ${transform.reason}` : "");
    const failed = document.getElementById("transform-failed");
    failed.hidden = !transform.failed;
    failed.textContent = `${transform.failed} images could not be decoded; their lines carry "error".`;
    const output = document.getElementById("transform-output");  // absent for a SageMaker job (its output is in S3)
    if (transform.state === "succeeded" && output) output.hidden = false;
    if (FINISHED.includes(transform.state)) document.getElementById("transform-cancel")?.remove();
  }

  let heard = 0;  // notices drawn: a catch-up fetch answered after one of them is older than it
  icLive.notices
    .on("transform", (notice) => { if (notice.transform === id) { heard += 1; draw(notice); } })
    .on("open", async () => {
      if (FINISHED.includes(state)) return;
      const before = heard;
      const transform = await icApi.json(section.dataset.url).catch(() => null);
      if (transform && heard === before) draw(transform);
    });
})();
