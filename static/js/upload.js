// Drag-and-drop upload of files, folders, zips, .lst and .rec, with a progress bar and the report.
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const bar = document.querySelector("#upload-progress progress");
  const label = document.querySelector("#upload-progress span");
  const reportBox = document.getElementById("upload-report");
  const BATCH_BYTES = 64 * 1024 * 1024;

  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      out.push(await new Promise((ok, fail) => entry.file((f) => ok({ file: f, path: prefix + f.name }), fail)));
    } else if (entry.isDirectory) {
      await walkChildren(entry, prefix + entry.name + "/", out);
    }
  }

  async function walkChildren(directory, prefix, out) {
    const reader = directory.createReader();
    let batch;
    do {
      batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      for (const child of batch) await walk(child, prefix, out);
    } while (batch.length);
  }

  // The folder a person chooses (or drops on its own) holds the dataset: its sub-folders are the
  // classes and its loose files stay unlabeled, as in a zip of it. So its own name leaves the paths.
  function withinChosenFolder(path) {
    const slash = path.indexOf("/");
    return slash < 0 ? path : path.slice(slash + 1);
  }

  function send(items, done, total) {
    return new Promise((resolve, reject) => {
      const data = new FormData();
      for (const { file, path } of items) { data.append("files", file); data.append("paths", path); }
      const request = new XMLHttpRequest();
      request.open("POST", form.dataset.url);
      request.setRequestHeader("X-CSRFToken", document.body.dataset.csrf);
      request.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          bar.value = (100 * (done + e.loaded)) / total;
          label.textContent = `${Math.round(bar.value)}%`;
        }
      };
      request.onload = () => (request.status < 300 ? resolve(JSON.parse(request.responseText))
        : reject(new Error(JSON.parse(request.responseText || "{}").error || request.statusText)));
      request.onerror = () => reject(new Error("network error"));
      request.send(data);
    });
  }

  async function upload(items) {
    if (!items.length) return;
    document.getElementById("upload-progress").hidden = false;
    const total = items.reduce((n, i) => n + i.file.size, 0);
    const report = { accepted: 0, rejected: [], duplicates: [] };
    let batch = [], size = 0, done = 0;
    try {
      for (const item of [...items, null]) {
        if (item === null || (size + item.file.size > BATCH_BYTES && batch.length)) {
          const part = await send(batch, done, total);
          report.accepted += part.accepted;
          report.rejected.push(...part.rejected);
          report.duplicates.push(...part.duplicates);
          done += size; batch = []; size = 0;
        }
        if (item) { batch.push(item); size += item.file.size; }
      }
      bar.value = 100;
      label.textContent = "done";
      show(report);
    } catch (error) {
      reportBox.innerHTML = `<p class="message error">Upload failed: ${icApi.escape(error.message)}</p>`;
    }
  }

  const LONG = 10;  // lists longer than this start folded: their summary line says enough

  function countsByReason(rejected) {
    // Reasons read "<what is wrong>: <detail>"; the summary counts the what.
    const counts = new Map();
    for (const r of rejected) {
      const kind = r.reason.split(": ")[0];
      counts.set(kind, (counts.get(kind) || 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${icApi.escape(kind)} (${n})`).join(" · ");
  }

  function show(report) {
    const rejected = report.rejected.map((r) => `<li><code>${icApi.escape(r.file)}</code>: ${icApi.escape(r.reason)}</li>`).join("");
    const duplicates = report.duplicates.map((d) => `<li><code>${icApi.escape(d.file)}</code> is <code>${icApi.escape(d.duplicate_of)}</code>` +
      (d.labeled ? `, now labeled ${icApi.escape(d.labeled)}` : "") + "</li>").join("");
    const relabeled = report.duplicates.filter((d) => d.labeled).length;
    const open = (n) => (n <= LONG ? " open" : "");
    reportBox.innerHTML = `<p class="message ${report.accepted ? "success" : "notice"}" data-accepted="${report.accepted}">
      ${report.accepted} image${report.accepted === 1 ? "" : "s"} added, ${report.rejected.length} rejected,
      ${report.duplicates.length} duplicate${report.duplicates.length === 1 ? "" : "s"}.</p>
      ${rejected ? `<details class="rejected"${open(report.rejected.length)}><summary>Rejected ${report.rejected.length}:
        ${countsByReason(report.rejected)}</summary><ul>${rejected}</ul></details>` : ""}
      ${duplicates ? `<details class="duplicates"${open(report.duplicates.length)}><summary>${report.duplicates.length}
        already in the dataset, not stored again${relabeled ? `; ${relabeled} of them had no class and took their folder's` : ""}</summary>
        <ul>${duplicates}</ul></details>` : ""}
      ${report.accepted || relabeled ? '<p><a href="">Reload to label them</a></p>' : ""}`;
  }

  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", async (e) => {
    e.preventDefault();
    form.classList.remove("over");
    const items = [];
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (entries.length === 1 && entries[0].isDirectory) {
      await walkChildren(entries[0], "", items);  // one folder dropped: the chosen folder
    } else {
      for (const entry of entries) await walk(entry, "", items);  // several: the chosen folder's contents
    }
    upload(items);
  });
  const files = document.getElementById("upload-files");
  files.addEventListener("change", () => upload([...files.files].map((f) => ({ file: f, path: f.name }))));
  const folder = document.getElementById("upload-folder");
  folder.addEventListener("change", () => upload([...folder.files].map((f) =>
    ({ file: f, path: withinChosenFolder(f.webkitRelativePath || f.name) }))));
})();
