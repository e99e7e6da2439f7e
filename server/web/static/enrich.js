/* PFOCR enrichment page: progressive enhancement. Without this file the page works (the
   example button posts, the server fills the list); with it, the example fills the list
   at once, and the list says how many of its entries are recognised as you type. */
(function () {
  "use strict";

  var box = document.getElementById("genes");
  var counter = document.getElementById("genes-count");
  if (!box || !counter) return;
  var timer = null;
  var asked = 0;

  function say(read) {
    var text = read.recognised.toLocaleString("en") + " of " + read.entries.toLocaleString("en") +
      (read.entries === 1 ? " entry" : " entries") + " recognised";
    if (read.unrecognised.length) {
      var shown = read.unrecognised.slice(0, 8).join(", ");
      text += " · not recognised: " + shown + (read.unrecognised.length > 8 ? ", …" : "");
    }
    counter.textContent = read.entries ? text : "";
    counter.classList.toggle("has-unrecognised", read.unrecognised.length > 0);
  }

  function count() {
    var ticket = ++asked;
    fetch("/api/genes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ genes: box.value })
    }).then(function (response) {
      if (!response.ok) return response.json().then(function (body) { throw body; });
      return response.json();
    }).then(function (read) {
      if (ticket === asked) say(read);
    }).catch(function (body) {
      if (ticket !== asked) return;
      counter.textContent = body && body.error ? body.error.message : "";
    });
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(count, 250);
  });

  var example = document.querySelector("button[data-example]");
  if (example) {
    example.addEventListener("click", function (event) {
      event.preventDefault();
      box.value = example.getAttribute("data-example");
      box.focus();
      count();
    });
  }
})();
