/* PFOCR figure search: progressive enhancement. Every page works without this file;
   with it, the search box suggests names, results and facets update in place (history
   kept), and images that cannot load give way to a placeholder. */
(function () {
  "use strict";

  var FRAGMENT_HEADER = "X-PFOCR-Fragment";

  // -- images: a tidy placeholder when one cannot load ------------------------------------
  function markBroken(img) {
    var thumb = img.closest(".thumb");
    if (thumb) thumb.classList.add("is-broken");
  }
  // error events do not bubble: listen in the capture phase, for images added later too
  document.addEventListener("error", function (event) {
    if (event.target && event.target.tagName === "IMG") markBroken(event.target);
  }, true);
  function checkImages(root) {
    root.querySelectorAll(".thumb img").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) markBroken(img);  // failed before we ran
    });
  }
  checkImages(document);

  // -- results and facets in place ---------------------------------------------------------
  var region = document.getElementById("results-region");
  var announcer = document.getElementById("announce");
  var input = document.getElementById("q");
  var loading = null;

  function load(url, push, focusKey) {
    if (loading) loading.abort();
    var controller = new AbortController();
    loading = controller;
    document.body.classList.add("is-loading");
    return fetch(url, { headers: { [FRAGMENT_HEADER]: "results" }, signal: controller.signal })
      .then(function (response) {
        // An error answer is a whole page in the site's style: show it as a page.
        if (!response.ok) { window.location.assign(url); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        region.innerHTML = html;  // server-rendered and escaped; scripts in it never run
        if (push) history.pushState({ pfocr: true }, "", url);
        var root = document.getElementById("results-root");
        if (root) {
          document.title = root.dataset.title;
          if (input && document.activeElement !== input) input.value = root.dataset.q || "";
          if (announcer) announcer.textContent = root.dataset.announce;
        }
        checkImages(region);
        restoreFocus(focusKey);
      })
      .catch(function (error) {
        if (error.name !== "AbortError") window.location.assign(url);
      })
      .finally(function () {
        if (loading === controller) {
          loading = null;
          document.body.classList.remove("is-loading");
        }
      });
  }

  function restoreFocus(key) {
    if (key === undefined) return;
    var target = key && region.querySelector('[data-key="' + CSS.escape(key) + '"]');
    target = target || document.getElementById("results-title");
    if (target) target.focus({ preventScroll: !!key && target.id !== "results-title" });
  }

  function samePage(url) {
    return url.origin === window.location.origin && url.pathname === window.location.pathname;
  }

  function modified(event) {
    return event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
  }

  function formUrl(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (String(value).trim()) params.append(name, value);
    });
    var query = params.toString();
    return new URL(form.getAttribute("action") + (query ? "?" + query : ""), window.location.href);
  }

  if (region && window.fetch && window.history && window.history.pushState) {
    region.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-nav]");
      if (!link || event.defaultPrevented || modified(event)) return;
      var url = new URL(link.getAttribute("href"), window.location.href);
      if (!samePage(url)) return;
      event.preventDefault();
      load(url.href, true, link.getAttribute("data-key") || "");
    });
    region.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.hasAttribute("data-nav-form")) return;
      var url = formUrl(form);
      if (!samePage(url)) return;
      event.preventDefault();
      load(url.href, true, "");
    });
    var searchForm = document.getElementById("search-form");
    if (searchForm && input) {
      searchForm.addEventListener("submit", function (event) {
        // The hidden fields were rendered with the first page; the URL holds the state now.
        event.preventDefault();
        closeSuggestions();
        var url = new URL(window.location.href);
        url.searchParams.delete("page");
        if (input.value.trim()) url.searchParams.set("q", input.value.trim());
        else url.searchParams.delete("q");
        load(url.href, true, "");
      });
    }
    window.addEventListener("popstate", function () {
      load(window.location.href, false);
    });
  }

  // -- autocomplete: the ARIA combobox pattern -----------------------------------------------
  var list = document.getElementById("q-suggestions");
  var items = [];
  var active = -1;
  var timer = null;
  var asked = 0;
  var replaceFrom = 0;

  var FIELDS = { gene: "gene:", alias: "gene:", organism: "organism:", disease: "disease:" };
  var KINDS = { gene: "gene", alias: "printed name", organism: "organism", disease: "disease", word: "title word" };

  function closeSuggestions() {
    if (!list) return;
    list.hidden = true;
    list.textContent = "";
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function show(suggestions) {
    list.textContent = "";
    items = suggestions;
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (!items.length) { closeSuggestions(); return; }
    items.forEach(function (item, index) {
      var option = document.createElement("li");
      option.id = "q-option-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      var text = document.createElement("span");
      text.textContent = item.text;
      var kind = document.createElement("span");
      kind.className = "suggestion__kind";
      kind.textContent = " " + (KINDS[item.kind] || item.kind);
      text.appendChild(kind);
      var count = document.createElement("span");
      count.className = "suggestion__count";
      count.textContent = item.figures.toLocaleString("en") + (item.figures === 1 ? " figure" : " figures");
      option.appendChild(text);
      option.appendChild(count);
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();  // keep the focus in the box
        pick(index);
      });
      list.appendChild(option);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    options.forEach(function (option, i) { option.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function asQuery(item) {
    var field = FIELDS[item.kind];
    if (!field) return item.text;
    return field + (/[\s:"()]/.test(item.text) ? '"' + item.text.replace(/"/g, "") + '"' : item.text);
  }

  function pick(index) {
    var item = items[index];
    if (!item) return;
    input.value = input.value.slice(0, replaceFrom) + asQuery(item);
    closeSuggestions();
    var form = input.form;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function suggest() {
    var value = input.value;
    var whole = value.trim();
    if (whole.length < 2) { closeSuggestions(); return; }
    var ticket = ++asked;
    fetchSuggestions(whole).then(function (found) {
      replaceFrom = value.length - value.trimStart().length;
      var lastSpace = value.trimEnd().lastIndexOf(" ");
      if (found.length || lastSpace < 0) return found;
      // Nothing names the whole text: complete its last word instead.
      replaceFrom = lastSpace + 1;
      var word = value.slice(replaceFrom).trim();
      return word.length >= 2 ? fetchSuggestions(word) : [];
    }).then(function (found) {
      if (ticket === asked && document.activeElement === input) show(found);
    }).catch(function () { /* suggestions are a convenience: stay quiet */ });
  }

  function fetchSuggestions(prefix) {
    return fetch("/api/suggest?limit=8&q=" + encodeURIComponent(prefix))
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (body) { return body.suggestions || []; });
  }

  if (input && list && window.fetch) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 120);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden && items.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) { suggest(); return; }
        highlight(active + 1 >= items.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (open && active >= 0) { event.preventDefault(); pick(active); }
        else closeSuggestions();
      } else if (event.key === "Escape") {
        if (open) { event.preventDefault(); closeSuggestions(); }
      } else if (event.key === "Tab") {
        closeSuggestions();
      }
    });
    input.addEventListener("blur", function () { setTimeout(closeSuggestions, 100); });
  }
})();
