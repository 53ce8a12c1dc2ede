// The labeling grid: a page of thumbnails, mouse selection, number keys and a class picker, undo.
(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const multiLabel = grid.dataset.multiLabel === "1";
  const classes = [...document.querySelectorAll("tr[data-class-id]")].map((row) => ({
    id: Number(row.dataset.classId), name: row.dataset.className, colour: row.dataset.colour,
  }));
  const byId = new Map(classes.map((c) => [c.id, c]));
  const state = { page: 1, pages: 1, images: [], selected: new Set(), anchor: null, undo: [] };
  const filters = {
    label: document.getElementById("filter-label"),
    split: document.getElementById("filter-split"),
    unlabeled: document.getElementById("filter-unlabeled"),
  };

  function query() {
    const params = new URLSearchParams({ page: state.page });
    if (filters.label.value) params.set("label", filters.label.value);
    if (filters.split.value) params.set("split", filters.split.value === "none" ? "" : filters.split.value);
    if (filters.unlabeled.checked) params.set("unlabeled", "1");
    return `${grid.dataset.imagesUrl}?${params}`;
  }

  async function load(page = state.page) {
    state.page = page;
    let body;
    try {
      body = await icApi.json(query());
    } catch (error) {
      if (page > 1) return load(page - 1);  // the last page emptied out under a filter
      throw error;
    }
    state.images = body.results;
    state.pages = Math.max(1, Math.ceil(body.count / 100));
    state.selected.clear();
    render();
    document.getElementById("page").textContent = `page ${state.page} of ${state.pages} · ${body.count} images`;
  }

  function render() {
    grid.replaceChildren(...state.images.map((image, i) => {
      const cell = document.createElement("figure");
      cell.className = "cell" + (state.selected.has(image.id) ? " selected" : "");
      cell.dataset.index = i;
      cell.dataset.imageId = image.id;
      const tags = image.labels.map((id) => byId.get(id)).filter(Boolean)
        .map((c) => `<span class="chip" style="background:${icApi.escape(c.colour)}">${icApi.escape(c.name)}</span>`).join("");
      cell.innerHTML = `<img loading="lazy" src="${image.thumbnail_url}" alt="${icApi.escape(image.file_name)}" draggable="false">
        <figcaption>${tags || '<span class="chip none">unlabeled</span>'}${image.split ? ` <small>${image.split}</small>` : ""}</figcaption>`;
      return cell;
    }));
  }

  function select(index, extend, toggle) {
    const id = state.images[index].id;
    if (extend && state.anchor !== null) {
      const [a, b] = [Math.min(state.anchor, index), Math.max(state.anchor, index)];
      for (let i = a; i <= b; i++) state.selected.add(state.images[i].id);
    } else if (toggle) {
      state.selected.has(id) ? state.selected.delete(id) : state.selected.add(id);
      state.anchor = index;
    } else {
      state.selected = new Set([id]);
      state.anchor = index;
    }
    render();
  }

  let dragFrom = null;
  grid.addEventListener("mousedown", (e) => {
    const cell = e.target.closest(".cell");
    if (!cell) return;
    e.preventDefault();
    dragFrom = Number(cell.dataset.index);
    select(dragFrom, e.shiftKey, e.ctrlKey || e.metaKey);
  });
  grid.addEventListener("mouseover", (e) => {
    const cell = e.target.closest(".cell");
    if (dragFrom === null || !cell || !(e.buttons & 1)) return;
    const to = Number(cell.dataset.index);
    state.selected = new Set();
    for (let i = Math.min(dragFrom, to); i <= Math.max(dragFrom, to); i++) state.selected.add(state.images[i].id);
    render();
  });
  document.addEventListener("mouseup", () => { dragFrom = null; });

  async function assign(classId) {
    const ids = [...state.selected];
    if (!ids.length) return;
    const before = state.images.filter((img) => state.selected.has(img.id)).map((img) => ({ id: img.id, labels: [...img.labels] }));
    let payload;
    if (classId === null) payload = { images: ids, set: null };
    else if (!multiLabel) payload = { images: ids, set: classId };
    else {
      const all = before.every((img) => img.labels.includes(classId));
      payload = all ? { images: ids, remove: [classId] } : { images: ids, add: [classId] };
    }
    await icApi.json(grid.dataset.labelsUrl, { method: "POST", body: JSON.stringify(payload) });
    state.undo.push(before);
    document.getElementById("undo").disabled = false;
    for (const img of state.images) {
      if (!state.selected.has(img.id)) continue;
      if (payload.set !== undefined) img.labels = payload.set === null ? [] : [payload.set];
      else if (payload.add) img.labels = [...new Set([...img.labels, classId])];
      else img.labels = img.labels.filter((id) => id !== classId);
    }
    render();
    refreshBalance();
    advanceIfDone();
  }

  async function refreshBalance() {
    // The class-balance bar and counts follow every assignment without a reload.
    const dataset = await icApi.json(grid.dataset.datasetUrl);
    const bar = document.getElementById("balance");
    const labeled = dataset.classes.map((c) => `<span style="flex: ${c.image_count}; background: ${icApi.escape(c.colour)}"
      title="${icApi.escape(c.name)}: ${c.image_count}"></span>`);
    const unlabeled = dataset.image_count - dataset.labeled_count;
    bar.innerHTML = labeled.join("") + (unlabeled ? `<span class="unlabeled" style="flex: ${unlabeled}"
      title="unlabeled: ${unlabeled}"></span>` : "");
    for (const c of dataset.classes) {
      const row = document.querySelector(`tr[data-class-id="${c.id}"] td:nth-child(3)`);
      if (row) row.textContent = c.image_count;
    }
  }

  function advanceIfDone() {
    // Labeling the unlabeled: once a page is done, the next unlabeled page comes up by itself.
    if (filters.unlabeled.checked && state.images.every((img) => img.labels.length)) load(1);
  }

  async function undo() {
    const last = state.undo.pop();
    if (!last) return;
    for (const { id, labels } of last) {
      await icApi.json(grid.dataset.labelsUrl, { method: "POST", body: JSON.stringify(
        multiLabel ? { images: [id], add: labels, remove: classes.map((c) => c.id).filter((c) => !labels.includes(c)) }
          : { images: [id], set: labels.length ? labels[0] : null }) });
    }
    document.getElementById("undo").disabled = !state.undo.length;
    load();
  }

  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, select, textarea")) return;
    if (/^[1-9]$/.test(e.key) && classes[Number(e.key) - 1]) assign(classes[Number(e.key) - 1].id);
    else if (e.key === "0") assign(null);
    else if (e.key === "ArrowRight" && state.page < state.pages) load(state.page + 1);
    else if (e.key === "ArrowLeft" && state.page > 1) load(state.page - 1);
    else if (e.key === "a" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      state.selected = new Set(state.images.map((img) => img.id));
      render();
    } else if (e.key === "z" && (e.ctrlKey || e.metaKey)) undo();
  });

  const search = document.getElementById("class-search");
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const wanted = search.value.trim().toLowerCase();
    const match = classes.find((c) => c.name.toLowerCase() === wanted)
      || classes.find((c) => c.name.toLowerCase().startsWith(wanted));
    if (match) { assign(match.id); search.value = ""; }
  });
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("prev").addEventListener("click", () => state.page > 1 && load(state.page - 1));
  document.getElementById("next").addEventListener("click", () => state.page < state.pages && load(state.page + 1));
  for (const input of Object.values(filters)) input.addEventListener("change", () => load(1));
  load(1);
})();
