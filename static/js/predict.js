// The model page's prediction panel: each dropped, chosen or webcam image is posted on its own,
// and gets a card with the image, its top classes as bars, and where the time went.
(() => {
  const panel = document.getElementById("predict");
  if (!panel) return;
  const results = document.getElementById("predictions");
  const drop = document.getElementById("predict-drop");
  const url = panel.dataset.predictUrl;
  const queue = [];
  let running = 0;
  const PARALLEL = 4; // enough to fill a serving batch without flooding the server

  function card(name, blob) {
    const element = document.createElement("article");
    element.className = "prediction pending";
    element.innerHTML = `<img alt=""><div><h3></h3><ol class="bars"></ol><p class="latency">waiting…</p></div>`;
    element.querySelector("img").src = URL.createObjectURL(blob);
    element.querySelector("h3").textContent = name;
    results.prepend(element);
    return element;
  }

  function show(element, answer, roundTrip) {
    element.classList.remove("pending");
    element.dataset.top = answer.top[0].label;
    element.querySelector("ol").innerHTML = answer.top.map((entry) => {
      const percent = (entry.probability * 100).toFixed(1);
      return `<li><span class="label">${icApi.escape(entry.label)}</span>` +
        `<span class="bar"><span style="width:${percent}%"></span></span><span class="value">${percent}%</span></li>`;
    }).join("");
    element.querySelector(".latency").textContent =
      `${roundTrip.toFixed(0)} ms round trip · ${answer.server_ms.toFixed(1)} ms in the server · ` +
      `${answer.model_ms.toFixed(1)} ms for the model (batch of ${answer.batch_size})`;
  }

  function fail(element, message) {
    element.classList.remove("pending");
    element.classList.add("failed");
    element.querySelector(".latency").textContent = message;
  }

  async function send({ name, blob, element }) {
    const started = performance.now();
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin", body: blob,
        headers: { "Content-Type": blob.type || "application/x-image", "X-CSRFToken": icApi.csrf() },
      });
      const answer = await response.json().catch(() => ({ error: response.statusText }));
      if (!response.ok) throw new Error(answer.error || response.statusText);
      show(element, answer, performance.now() - started);
    } catch (error) {
      fail(element, `${name}: ${error.message}`);
    }
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      running += 1;
      send(queue.shift()).finally(() => { running -= 1; pump(); });
    }
  }

  function add(files) {
    if (!panel.dataset.ready) {
      alert("This model is not ready to predict yet.");
      return;
    }
    for (const file of files) queue.push({ name: file.name, blob: file, element: card(file.name, file) });
    pump();
  }

  document.getElementById("predict-files").addEventListener("change", (event) => {
    add(event.target.files);
    event.target.value = "";
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    add([...event.dataTransfer.files].filter((file) => /^image\//.test(file.type)));
  });

  const webcam = document.getElementById("webcam");
  const video = document.getElementById("webcam-video");
  let stream = null;
  document.getElementById("webcam-start").addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch (error) {
      alert(`No webcam: ${error.message}`);
      return;
    }
    video.srcObject = stream;
    webcam.hidden = false;
  });
  document.getElementById("webcam-stop").addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    webcam.hidden = true;
  });
  document.getElementById("webcam-snap").addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth || 320;
    canvas.height = video.videoHeight || 240;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => add([new File([blob], `webcam-${new Date().toISOString()}.jpg`, { type: "image/jpeg" })]),
      "image/jpeg", 0.92);
  });
})();
