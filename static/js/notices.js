// Job state changes pushed to every page of the user (icLive.notices): a banner, and pages listing jobs
// refresh theirs.
(function () {
  const jobUrl = document.body.dataset.jobUrl;
  icLive.notices.on("job", (notice) => {
    document.querySelectorAll(`[data-job-state="${notice.job}"]`).forEach((el) => { el.textContent = notice.state; });
    if (!["succeeded", "failed", "cancelled"].includes(notice.state)) return;
    const accuracy = notice.metrics && notice.metrics["validation:accuracy"];
    const banner = document.createElement("p");
    banner.className = `message notice ${notice.state === "succeeded" ? "success" : "error"}`;
    banner.dataset.job = notice.job;
    banner.innerHTML = `<a href="${icLive.withId(jobUrl, notice.job)}">Job #${Number(notice.job)}</a> ${icLive.escape(notice.state)}` +
      (accuracy !== undefined ? ` — validation accuracy ${(100 * accuracy).toFixed(2)}%` : "") +
      (notice.reason && notice.state !== "succeeded" ? `: ${icLive.escape(notice.reason)}` : "");
    document.querySelector("main").prepend(banner);
  });
})();
