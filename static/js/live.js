// One live channel for every page: a WebSocket that reconnects with jittered backoff, parses each message
// as JSON and hands it to the subscribers of its "type". A page catches up on what it missed while the
// socket was closed in its "open" subscribers (called on every open, the first included).
// icLive.notices is the signed-in user's notice channel (jobs, versions, transforms), opened here.
window.icLive = {
  // url: a path (body data-notices-url), or a function giving it, asked before every (re)connect (a job's
  // stream resumes with ?after=<last seq seen>). reconnect(): whether to open again once it closes.
  connect(url, { reconnect = () => true, first = 500, most = 15000 } = {}) {
    const subscribers = new Map();
    let delay = first, socket = null, closed = false;
    const deliver = (type, message) => (subscribers.get(type) || []).forEach((fn) => fn(message));
    function open() {
      if (closed) return;
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}${typeof url === "function" ? url() : url}`);
      socket.onopen = () => { delay = first; deliver("open", {}); };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        deliver(message.type, message);
      };
      socket.onclose = () => {
        if (closed || !reconnect()) return;
        // Jittered, so the pages of a restarted server do not all knock at once.
        setTimeout(open, delay * (0.5 + Math.random()));
        delay = Math.min(delay * 2, most);
      };
    }
    const channel = {
      on(type, fn) {
        if (!subscribers.has(type)) subscribers.set(type, []);
        subscribers.get(type).push(fn);
        // A page script that comes after the socket opened still gets its catch-up.
        if (type === "open" && socket?.readyState === WebSocket.OPEN) queueMicrotask(() => fn({}));
        return channel;
      },
      close() { closed = true; socket?.close(); },
    };
    // Once the page's scripts have run, so each has subscribed before the first message.
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", open, { once: true });
    else open();
    return channel;
  },

  // Names come from users (file names, class names, reasons quoting them): text, never markup.
  escape(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },

  // A URL rendered for id 0 ({% url 'job-detail' 0 %}: "/jobs/0/") made the URL of ``id``.
  withId(template, id) { return template.replace("/0/", `/${encodeURIComponent(id)}/`); },
};

(function () {
  const body = document.body.dataset;
  // Pages without a user get a channel that never opens, so their scripts can subscribe all the same.
  icLive.notices = body.user && body.noticesUrl
    ? icLive.connect(body.noticesUrl, { first: 1000, most: 30000 })
    : { on() { return this; }, close() {} };
})();
