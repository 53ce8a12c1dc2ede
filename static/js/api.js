// Small helpers shared by the page scripts: JSON calls with the session's CSRF token.
window.icApi = {
  // Names come from uploads (file names, folder names as classes): text, never markup.
  escape(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },
  csrf() { return document.body.dataset.csrf; },
  async json(url, options = {}) {
    const response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { "X-CSRFToken": this.csrf(), "Content-Type": "application/json", ...(options.headers || {}) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  },
};
