// Versions being built: poll their status (politely) until ready, then list their files.
(function () {
  const rows = [...document.querySelectorAll("tr[data-version-url]")];
  async function refresh(row) {
    const version = await icApi.json(row.dataset.versionUrl);
    row.dataset.status = version.status;
    row.querySelector(".status progress").value = version.progress;
    row.querySelector(".status span").textContent = version.status + (version.error ? `: ${version.error}` : "");
    row.querySelector(".files").innerHTML = version.files
      .map((name) => `<a href="/api/versions/${version.id}/files/${name}">${name}</a>`).join(" ")
      + (version.status === "ready" ? ` <a class="train" href="/versions/${version.id}/train/">Train…</a>` : "");
    if (version.status === "queued" || version.status === "building") setTimeout(() => refresh(row), 1000);
  }
  rows.forEach(refresh);
})();
