// The UI's only script: confirmation before destructive posts, "expand all /
// collapse all" for the span tree, and loading the input and output of a span
// of a very large trace when it is opened, and the traces list's totals. No
// inline handlers anywhere; every page works without it (a span's own page
// shows everything, a link opens the totals).
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-toggle-tree]");
  if (!button) return;
  const open = button.dataset.toggleTree === "open";
  document.querySelectorAll(".tree details.span").forEach((details) => {
    details.open = open;
  });
});
// "toggle" does not bubble: listen in the capture phase.
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!details.open || !details.matches("details.span")) return;
  const body = details.querySelector(":scope > .span-body[data-body-url]");
  if (!body || body.dataset.state) return;
  body.dataset.state = "loading";
  fetch(body.dataset.bodyUrl, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      // Server-rendered and escaped like the page itself.
      body.innerHTML = html;
      body.dataset.state = "loaded";
    })
    .catch(() => {
      body.dataset.state = "";
    });
}, true);
// The traces list's totals read every trace of its filter: loaded after the
// page, so the list never waits for them (without script, a link opens them).
document.querySelectorAll("section[data-totals-url]").forEach((section) => {
  fetch(section.dataset.totalsUrl, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      // Server-rendered and escaped like the page itself.
      section.innerHTML = html;
      section.dataset.state = "loaded";
    })
    .catch(() => {});
});
