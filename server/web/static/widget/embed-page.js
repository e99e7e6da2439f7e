// /embed: as the options change, ask the server for the new snippets (it writes them, and
// checks the options) and update the snippets, the widget preview and the iframe preview.
// Without JavaScript the form reloads the page with the same result.
(() => {
  "use strict";
  const DELAY_MS = 300;
  const form = document.getElementById("options");
  const problem = document.getElementById("options-error");
  const widget = document.getElementById("preview-widget");
  const frame = document.getElementById("preview-frame");
  const scriptSnippet = document.getElementById("snippet-script");
  const frameSnippet = document.getElementById("snippet-iframe");
  let timer = null;
  let latest = 0;

  function query() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim()) params.set(name, String(value).trim());
    }
    return params;
  }

  function markInvalid(parameter) {
    for (const field of form.elements) {
      if (field.name && field.name === parameter) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }
  }

  async function update() {
    const params = query();
    const mine = ++latest;
    const response = await fetch(`/embed/snippet?${params}`);
    const body = await response.json();
    if (mine !== latest) return; // a newer change already asked
    if (!response.ok) {
      const error = body.error;
      problem.textContent = `Parameter ${error.parameter} is wrong: ${error.message}`;
      markInvalid(error.parameter);
      return;
    }
    problem.textContent = "";
    markInvalid(null);
    scriptSnippet.value = body.script;
    frameSnippet.value = body.iframe;
    for (const name of widget.getAttributeNames()) {
      if (name !== "id" && !(name in body.attributes)) widget.removeAttribute(name);
    }
    for (const [name, value] of Object.entries(body.attributes)) widget.setAttribute(name, value);
    if (frame.src !== body.frame_url) frame.src = body.frame_url;
    history.replaceState(null, "", params.size ? `?${params}` : location.pathname);
  }

  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, DELAY_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    update();
  });

  for (const button of document.querySelectorAll("button.copy")) {
    const source = document.getElementById(button.dataset.copy);
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Selected: press Ctrl+C to copy";
      }
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
})();
