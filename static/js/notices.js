// Job state changes pushed to every page of the user: a banner, and pages listing jobs refresh theirs.
(function () {
  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/notices/`);
    socket.onopen = () => { delay = 1000; };
    socket.onmessage = (event) => {
      const notice = JSON.parse(event.data);
      const done = ["succeeded", "failed", "cancelled"].includes(notice.state);
      if (!done) return;
      const accuracy = notice.metrics && notice.metrics["validation:accuracy"];
      const banner = document.createElement("p");
      banner.className = `message notice ${notice.state === "succeeded" ? "success" : "error"}`;
      banner.dataset.job = notice.job;
      banner.innerHTML = `<a href="/jobs/${notice.job}/">Job #${notice.job}</a> ${notice.state}` +
        (accuracy !== undefined ? ` — validation accuracy ${(100 * accuracy).toFixed(2)}%` : "") +
        (notice.reason && notice.state !== "succeeded" ? `: ${notice.reason.replace(/[&<>"']/g, "")}` : "");
      document.querySelector("main").prepend(banner);
      document.querySelectorAll(`[data-job-state="${notice.job}"]`).forEach((el) => { el.textContent = notice.state; });
    };
    socket.onclose = () => { setTimeout(connect, delay); delay = Math.min(delay * 2, 30000); };
  }
  if (document.body.dataset.user) connect();
})();
