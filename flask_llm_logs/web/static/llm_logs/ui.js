// The UI's only script: confirmation before destructive posts, and
// "expand all / collapse all" for the span tree. No inline handlers anywhere.
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
