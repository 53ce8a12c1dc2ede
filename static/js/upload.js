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
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        for (const child of batch) await walk(child, prefix + entry.name + "/", out);
      } while (batch.length);
    }
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

  function show(report) {
    const rows = report.rejected.map((r) => `<li><code>${icApi.escape(r.file)}</code>: ${icApi.escape(r.reason)}</li>`).join("");
    const dups = report.duplicates.map((d) => `<li><code>${icApi.escape(d.file)}</code> = <code>${icApi.escape(d.duplicate_of)}</code></li>`).join("");
    reportBox.innerHTML = `<p class="message success" data-accepted="${report.accepted}">${report.accepted} images added,
      ${report.rejected.length} rejected, ${report.duplicates.length} duplicates.</p>
      ${rows ? `<h3>Rejected</h3><ul class="rejected">${rows}</ul>` : ""}
      ${dups ? `<h3>Duplicates</h3><ul>${dups}</ul>` : ""}
      <p><a href="">Reload to label them</a></p>`;
  }

  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", async (e) => {
    e.preventDefault();
    form.classList.remove("over");
    const items = [];
    for (const entry of [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry())) {
      if (entry) await walk(entry, "", items);
    }
    upload(items);
  });
  for (const input of [document.getElementById("upload-files"), document.getElementById("upload-folder")]) {
    input.addEventListener("change", () =>
      upload([...input.files].map((f) => ({ file: f, path: f.webkitRelativePath || f.name }))));
  }
})();
