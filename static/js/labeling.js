// The labeling grid: a page of thumbnails, mouse selection, number keys and a class picker, undo,
// a search by file name and a larger view of one image.
(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const multiLabel = grid.dataset.multiLabel === "1";
  const classes = [...document.querySelectorAll("tr[data-class-id]")].map((row) => ({
    id: Number(row.dataset.classId), name: row.dataset.className, colour: row.dataset.colour,
  }));
  const byId = new Map(classes.map((c) => [c.id, c]));
  const state = { page: 1, pages: 1, images: [], selected: new Set(), anchor: null, undo: [], viewing: null };
  const filters = {
    label: document.getElementById("filter-label"),
    split: document.getElementById("filter-split"),
    unlabeled: document.getElementById("filter-unlabeled"),
    name: document.getElementById("filter-name"),
  };
  const status = document.getElementById("grid-status");
  const viewer = document.getElementById("viewer");
  // Keys go to the grid from anywhere but a field being typed in: a ticked checkbox or a pressed
  // button keeps the focus, and must not swallow the number keys.
  grid.tabIndex = 0;

  function say(text) { status.textContent = text; }

  function query() {
    const params = new URLSearchParams({ page: state.page });
    if (filters.label.value) params.set("label", filters.label.value);
    if (filters.split.value) params.set("split", filters.split.value === "none" ? "" : filters.split.value);
    if (filters.unlabeled.checked) params.set("unlabeled", "1");
    if (filters.name.value.trim()) params.set("search", filters.name.value.trim());
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
    state.anchor = null;
    render();
    document.getElementById("page").textContent = `page ${state.page} of ${state.pages} · ${body.count} images`;
    if (!body.count && filters.name.value.trim()) say(`No file name contains “${filters.name.value.trim()}”.`);
    if (viewer.open) {
      if (state.images.length) show(Math.min(state.viewing ?? 0, state.images.length - 1));
      else viewer.close();
    }
  }

  function chips(image) {
    const tags = image.labels.map((id) => byId.get(id)).filter(Boolean)
      .map((c) => `<span class="chip" style="background:${icApi.escape(c.colour)}">${icApi.escape(c.name)}</span>`).join("");
    return tags || '<span class="chip none">unlabeled</span>';
  }

  function render() {
    grid.replaceChildren(...state.images.map((image, i) => {
      const cell = document.createElement("figure");
      cell.className = "cell" + (state.selected.has(image.id) ? " selected" : "");
      cell.dataset.index = i;
      cell.dataset.imageId = image.id;
      cell.title = image.file_name;
      cell.innerHTML = `<img loading="lazy" src="${image.thumbnail_url}" alt="${icApi.escape(image.file_name)}" draggable="false">
        <button type="button" class="zoom" tabindex="-1" aria-label="Open ${icApi.escape(image.file_name)} larger">⤢</button>
        <figcaption>${chips(image)}${image.split ? ` <small>${image.split}</small>` : ""}</figcaption>`;
      return cell;
    }));
  }

  function paint() {
    // Selection changes restyle the cells in place: the nodes (and a click in progress on them) stay.
    for (const cell of grid.children) cell.classList.toggle("selected", state.selected.has(Number(cell.dataset.imageId)));
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
    say("");
    paint();
  }

  let dragFrom = null;
  grid.addEventListener("mousedown", (e) => {
    const cell = e.target.closest(".cell");
    if (!cell) return;
    e.preventDefault();  // no text selection or image drag; so the focus is moved by hand
    grid.focus({ preventScroll: true });
    if (e.target.closest(".zoom")) return;
    dragFrom = Number(cell.dataset.index);
    select(dragFrom, e.shiftKey, e.ctrlKey || e.metaKey);
  });
  grid.addEventListener("mouseover", (e) => {
    const cell = e.target.closest(".cell");
    if (dragFrom === null || !cell || !(e.buttons & 1)) return;
    const to = Number(cell.dataset.index);
    state.selected = new Set();
    for (let i = Math.min(dragFrom, to); i <= Math.max(dragFrom, to); i++) state.selected.add(state.images[i].id);
    paint();
  });
  grid.addEventListener("click", (e) => {
    const zoom = e.target.closest(".zoom");
    if (zoom) show(Number(zoom.closest(".cell").dataset.index));
  });
  grid.addEventListener("dblclick", (e) => {
    const cell = e.target.closest(".cell");
    if (cell) show(Number(cell.dataset.index));
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
    try {
      await icApi.json(grid.dataset.labelsUrl, { method: "POST", body: JSON.stringify(payload) });
    } catch (error) {
      say(`Labels not saved: ${error.message}`);
      return;
    }
    state.undo.push(before);
    document.getElementById("undo").disabled = false;
    for (const img of state.images) {
      if (!ids.includes(img.id)) continue;
      if (payload.set !== undefined) img.labels = payload.set === null ? [] : [payload.set];
      else if (payload.add) img.labels = [...new Set([...img.labels, classId])];
      else img.labels = img.labels.filter((id) => id !== classId);
    }
    render();
    if (viewer.open) show(state.viewing);
    say("");
    await refreshCounts();
    advanceIfDone();
  }

  async function refreshCounts() {
    // The class-balance bar, the class counts and the heading follow every assignment without a reload.
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
      const button = document.querySelector(`tr[data-class-id="${c.id}"] button[data-confirm]`);
      if (button) button.dataset.confirm = deleteQuestion(c.name, c.image_count);
    }
    document.getElementById("label-counts").textContent = `${dataset.image_count} images, ${unlabeled} unlabeled`;
  }

  function deleteQuestion(name, count) {
    // As the page first says it (_class_delete_consequence.html), with the count of now.
    const images = `${count} image${count === 1 ? "" : "s"}`;
    return multiLabel ? `Delete class ${name}? ${images} ${count === 1 ? "loses" : "lose"} this label.`
      : `Delete class ${name}? ${images} will become unlabeled.`;
  }

  function advanceIfDone() {
    // Labeling the unlabeled: once a page is done, the next unlabeled page comes up by itself.
    if (filters.unlabeled.checked && state.images.length && state.images.every((img) => img.labels.length)) load(1);
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
    await load();
    refreshCounts();
  }

  // The larger view: one image of the page, its name and labels; keys label it, arrows move.
  function show(index) {
    const image = state.images[index];
    if (!image) return;
    state.viewing = index;
    state.selected = new Set([image.id]);
    state.anchor = index;
    paint();
    const picture = document.getElementById("viewer-image");
    picture.src = image.image_url;
    picture.alt = image.file_name;
    document.getElementById("viewer-name").textContent = image.file_name;
    document.getElementById("viewer-labels").innerHTML = chips(image);
    document.getElementById("viewer-facts").textContent = `${image.width}×${image.height} ${image.format}` +
      `${image.split ? ` · ${image.split === "val" ? "validation" : "train"}` : ""} · ${index + 1} of ${state.images.length} on this page`;
    if (!viewer.open) viewer.showModal();
  }

  async function move(step) {
    const next = state.viewing + step;
    if (next >= 0 && next < state.images.length) return show(next);
    if (step > 0 && state.page < state.pages) { await load(state.page + 1); show(0); }
    else if (step < 0 && state.page > 1) { await load(state.page - 1); show(state.images.length - 1); }
  }

  viewer.addEventListener("close", () => { state.viewing = null; grid.focus({ preventScroll: true }); });
  viewer.addEventListener("click", (e) => { if (e.target === viewer) viewer.close(); });  // the backdrop
  document.getElementById("viewer-close").addEventListener("click", () => viewer.close());
  document.getElementById("viewer-prev").addEventListener("click", () => move(-1));
  document.getElementById("viewer-next").addEventListener("click", () => move(1));

  function typing(target) {
    if (target.isContentEditable || target.matches("textarea, select")) return true;
    return target.matches("input") && !target.matches("[type=checkbox], [type=radio], [type=button], [type=submit], [type=color]");
  }

  function labelKey(key) {
    if (/^[1-9]$/.test(key)) return classes[Number(key) - 1] ? classes[Number(key) - 1].id : undefined;
    return key === "0" ? null : undefined;
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) {
      if (typing(e.target)) return;
      if (e.key === "a" && (e.ctrlKey || e.metaKey) && !viewer.open) {
        e.preventDefault();
        state.selected = new Set(state.images.map((img) => img.id));
        paint();
      } else if (e.key === "z" && (e.ctrlKey || e.metaKey)) undo();
      return;
    }
    const classId = labelKey(e.key);
    if (viewer.open) {
      if (e.key === "ArrowRight") { e.preventDefault(); move(1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); move(-1); }
      else if (e.key === " ") { e.preventDefault(); viewer.close(); }
      else if (classId !== undefined) assign(classId);
      return;
    }
    if (typing(e.target)) return;
    if (classId !== undefined) {
      if (!state.selected.size) say("Select images first: click a thumbnail (shift-click or drag for more), then press the key.");
      else assign(classId);
    } else if (/^[1-9]$/.test(e.key)) {
      say(`No class ${e.key} yet: add classes in the Classes table (keys follow its order).`);
    } else if (e.key === " " && state.selected.size && !e.target.matches("button, input, a, summary")) {
      e.preventDefault();
      const first = state.images.findIndex((img) => state.selected.has(img.id));
      show(state.anchor !== null && state.selected.has(state.images[state.anchor]?.id) ? state.anchor : first);
    } else if (e.key === "ArrowRight" && state.page < state.pages) load(state.page + 1);
    else if (e.key === "ArrowLeft" && state.page > 1) load(state.page - 1);
  });

  const search = document.getElementById("class-search");
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const wanted = search.value.trim().toLowerCase();
    const match = classes.find((c) => c.name.toLowerCase() === wanted)
      || classes.find((c) => c.name.toLowerCase().startsWith(wanted));
    if (!match) say(`No class called “${search.value.trim()}”.`);
    else if (!state.selected.size) say("Select images first, then type the class and press Enter.");
    else { assign(match.id); search.value = ""; }
  });
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("prev").addEventListener("click", () => state.page > 1 && load(state.page - 1));
  document.getElementById("next").addEventListener("click", () => state.page < state.pages && load(state.page + 1));
  for (const input of [filters.label, filters.split, filters.unlabeled]) input.addEventListener("change", () => { say(""); load(1); });
  let typed;
  filters.name.addEventListener("input", () => {
    clearTimeout(typed);
    typed = setTimeout(() => { say(""); load(1); }, 250);
  });
  filters.name.addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(typed); load(1); } });
  load(1);
})();
