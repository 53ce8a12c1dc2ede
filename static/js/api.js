// Small helpers shared by the page scripts: JSON calls with the session's CSRF token.
window.icApi = {
  escape(value) { return icLive.escape(value); },  // live.js is on every page (templates/base.html)
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
