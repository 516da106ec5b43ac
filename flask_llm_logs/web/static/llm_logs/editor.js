// Optional comfort for the prompt editor; it works the same without it.
// Message boxes grow with their text.
"use strict";
document.addEventListener("input", (event) => {
  const box = event.target;
  if (box.matches("textarea.code")) {
    box.style.height = "auto";
    box.style.height = `${box.scrollHeight + 2}px`;
  }
});
