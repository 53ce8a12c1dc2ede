// A batch transform's progress bar, polled until it finishes.
(() => {
  const section = document.getElementById("transform");
  if (!section) return;
  const id = section.dataset.transform;
  async function poll() {
    let transform;
    try {
      transform = await icApi.json(`/api/transforms/${id}/`);
    } catch (error) {
      setTimeout(poll, 2000);
      return;
    }
    document.getElementById("transform-progress").value = transform.progress;
    document.getElementById("transform-count").textContent = `${transform.done} / ${transform.total}`;
    document.getElementById("transform-state").textContent =
      transform.state + (transform.reason ? `: ${transform.reason}` : "");
    const failed = document.getElementById("transform-failed");
    failed.hidden = !transform.failed;
    failed.textContent = `${transform.failed} images could not be decoded; their lines carry "error".`;
    if (transform.state === "succeeded") document.getElementById("transform-output").hidden = false;
    if (!["succeeded", "failed"].includes(transform.state)) setTimeout(poll, 1000);
  }
  poll();
})();
