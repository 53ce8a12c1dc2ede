// Versions being built, as their worker's notices tell it (icLive.notices): the dataset page's rows and a
// version's own page. The page draws the first state itself; a version still building is fetched once
// whenever the channel (re)opens, for what was missed.
(function () {
  const shown = [...document.querySelectorAll("[data-version]")];
  if (!shown.length) return;
  const BUILDING = ["queued", "building"];
  const fileLink = (element, name) =>
    `<a href="${element.dataset.fileUrl.replace("__name__", encodeURIComponent(name))}">${icApi.escape(name)}</a>`;

  function drawRow(row, version) {
    row.querySelector(".status progress").value = version.progress;
    row.querySelector(".status span").textContent = version.status + (version.error ? `: ${version.error}` : "");
    row.querySelector(".files").innerHTML = version.files.map((name) => fileLink(row, name)).join(" ")
      + (version.status === "ready" ? ` <a class="train" href="${row.dataset.trainUrl}">Train…</a>` : "");
  }

  function drawPage(section, version) {
    section.querySelector("[data-version-status]").textContent = version.status;
    const progress = section.querySelector(".status progress");
    if (progress) {
      progress.value = version.progress;
      progress.hidden = !BUILDING.includes(version.status);
    }
    document.getElementById("version-error").textContent = version.error ? ` — ${version.error}` : "";
    document.getElementById("train-link-row").hidden = version.status !== "ready";
    const list = document.getElementById("version-files");
    list.querySelectorAll("li:not([data-always])").forEach((item) => item.remove());
    list.prepend(...version.files.map((name) => {
      const item = document.createElement("li");
      item.innerHTML = fileLink(section, name);
      return item;
    }));
  }

  const heard = new Map();  // notices drawn per element: a catch-up answered after one of them is older
  function draw(element, version) {
    element.dataset.status = version.status;
    (element.tagName === "TR" ? drawRow : drawPage)(element, version);
  }

  icLive.notices
    .on("version", (notice) => {
      shown.filter((element) => Number(element.dataset.version) === notice.version).forEach((element) => {
        heard.set(element, (heard.get(element) || 0) + 1);
        draw(element, notice);
      });
    })
    .on("open", () => shown.filter((element) => BUILDING.includes(element.dataset.status)).forEach(async (element) => {
      const before = heard.get(element) || 0;
      const version = await icApi.json(element.dataset.versionUrl).catch(() => null);
      if (version && (heard.get(element) || 0) === before) draw(element, version);
    }));
})();
