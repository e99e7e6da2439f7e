/*! <pfocr-search> 1.0.1: PFOCR pathway figure search for any page. MIT licence.
 *
 *   <script src="https://PFOCR-SERVER/embed/v1/pfocr-search.js" defer></script>
 *   <pfocr-search gene="STAT3" organism="Homo sapiens" limit="5"></pfocr-search>
 *
 * Attributes: q (starting query), gene, organism, year-min, year-max (fixed filters),
 * limit (1-20 results), server (the PFOCR origin; by default the one serving this script).
 * Theme with CSS custom properties on the element or any ancestor: --pfocr-font,
 * --pfocr-text, --pfocr-muted, --pfocr-background, --pfocr-accent, --pfocr-accent-text,
 * --pfocr-border, --pfocr-mark, --pfocr-focus, --pfocr-radius; or with ::part(form | input |
 * button | status | hits | hit | title | meta | snippet | genes | more | error).
 *
 * Everything renders inside a Shadow DOM, so the page's CSS cannot reach in and ours cannot
 * leak out. Record text only ever becomes text nodes: the API's escaped snippet is parsed
 * inert and rebuilt from its text and <mark> elements alone.
 */
(() => {
  "use strict";
  const TAG = "pfocr-search";
  if (!window.customElements || customElements.get(TAG)) return; // loaded twice: one is enough

  const VERSION = "1.0.1";
  const DEFAULT_LIMIT = 5;
  const MAX_LIMIT = 20;
  const MAX_GENES_SHOWN = 8;
  const ATTRIBUTE_DELAY_MS = 250; // several attributes set in a row: one request
  // The script's own origin, read while it runs: the API and figure pages live there.
  const SCRIPT_ORIGIN = document.currentScript
    ? new URL(document.currentScript.src, location.href).origin
    : location.origin;

  const CSS = `
:host { all: initial; display: block; }
:host([hidden]) { display: none; }
.root {
  all: initial; display: block; box-sizing: border-box; max-width: 100%;
  font: 15px/1.45 var(--pfocr-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--pfocr-text, #1b2430); background: var(--pfocr-background, #fff);
  border: 1px solid var(--pfocr-border, #dde2e8); border-radius: var(--pfocr-radius, 6px);
  padding: 0.75em;
}
* { box-sizing: border-box; }
form { display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center; margin: 0 0 0.5em; }
label { flex: 1 0 100%; font-weight: 600; }
input {
  flex: 1 1 12em; min-width: 0; font: inherit; color: inherit;
  background: var(--pfocr-background, #fff); padding: 0.35em 0.5em;
  border: 1px solid var(--pfocr-muted, #5f6b7a); border-radius: var(--pfocr-radius, 6px);
}
button {
  font: inherit; font-weight: 600; padding: 0.35em 0.9em; cursor: pointer;
  color: var(--pfocr-accent-text, #fff); background: var(--pfocr-accent, #0a58a8);
  border: 1px solid var(--pfocr-accent, #0a58a8); border-radius: var(--pfocr-radius, 6px);
}
input:focus-visible, button:focus-visible, a:focus-visible {
  outline: 3px solid var(--pfocr-focus, #c2410c); outline-offset: 2px;
}
.scope, .status, .meta, .genes { color: var(--pfocr-muted, #5f6b7a); font-size: 0.9em; }
.scope, .status { margin: 0.25em 0; }
ol { list-style: none; margin: 0; padding: 0; }
li { padding: 0.5em 0; border-top: 1px solid var(--pfocr-border, #dde2e8); }
a { color: var(--pfocr-accent, #0a58a8); }
.title { font-weight: 600; overflow-wrap: anywhere; }
p { margin: 0.15em 0; overflow-wrap: anywhere; }
mark { background: var(--pfocr-mark, #fff1a8); color: inherit; padding: 0 0.1em; }
.error { color: #a40e26; font-weight: 600; }
.more { display: inline-block; margin-top: 0.5em; }
`;

  let sharedSheet = null;
  /** Our styles for one shadow root: one constructed sheet shared by every instance. */
  function adoptStyles(root) {
    if ("adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype) {
      if (!sharedSheet) {
        sharedSheet = new CSSStyleSheet();
        sharedSheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sharedSheet];
    } else {
      root.append(element("style", {}, CSS)); // older browsers
    }
  }

  /** An element with properties (never innerHTML) and text or element children. */
  function element(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "part" || key === "role" || key.startsWith("aria-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    node.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
    return node;
  }

  /** The API's snippet (escaped text with <mark>) as text nodes and <mark> elements only. */
  function snippetNodes(html) {
    // DOMParser documents are inert: no script runs, nothing loads.
    const body = new DOMParser().parseFromString(html, "text/html").body;
    const out = [];
    for (const node of body.childNodes) {
      if (node.nodeName === "MARK") out.push(element("mark", {}, node.textContent));
      else out.push(document.createTextNode(node.textContent));
    }
    return out;
  }

  /** An absolute http(s) URL on ``base`` for an API link, or null. */
  function safeUrl(link, base) {
    if (!link) return null;
    const url = new URL(link, base);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  }

  let instances = 0;

  class PfocrSearch extends HTMLElement {
    static get observedAttributes() {
      return ["q", "gene", "organism", "year-min", "year-max", "limit", "server"];
    }

    constructor() {
      super();
      const id = `pfocr-q-${++instances}`;
      this._root = this.attachShadow({ mode: "open" });
      adoptStyles(this._root);
      this._input = element("input", {
        type: "search", id, name: "q", autocomplete: "off", part: "input",
        placeholder: "gene, pathway, disease…",
      });
      this._form = element(
        "form",
        { role: "search", part: "form", "aria-label": "PFOCR figure search" },
        element("label", { htmlFor: id }, "Search pathway figures"),
        this._input,
        element("button", { type: "submit", part: "button" }, "Search"),
      );
      this._scope = element("p", { className: "scope" });
      this._status = element("p", { className: "status", part: "status", role: "status" });
      this._results = element("div");
      this._root.append(
        element("div", { className: "root", lang: "en" }, this._form, this._scope, this._status, this._results),
      );
      this._form.addEventListener("submit", (event) => {
        event.preventDefault();
        this._search(this._input.value);
      });
      this._started = false;
    }

    connectedCallback() {
      if (!this._started) {
        this._started = true;
        this._input.value = this.getAttribute("q") || "";
        this._search(this._input.value);
      }
    }

    disconnectedCallback() {
      if (this._request) this._request.abort();
      clearTimeout(this._timer);
      this._started = false;
    }

    attributeChangedCallback(name, before, after) {
      if (!this._started || before === after) return;
      if (name === "q") this._input.value = after || "";
      clearTimeout(this._timer);
      this._timer = setTimeout(() => this._search(this._input.value), ATTRIBUTE_DELAY_MS);
    }

    get server() {
      return (this.getAttribute("server") || SCRIPT_ORIGIN).replace(/\/+$/, "");
    }

    /** The limit attribute, checked; throws a message naming it. */
    get limit() {
      const raw = (this.getAttribute("limit") || "").trim();
      if (!raw) return DEFAULT_LIMIT;
      const value = Number(raw);
      if (!/^\d+$/.test(raw) || value < 1 || value > MAX_LIMIT) {
        throw new Error(`limit must be a whole number from 1 to ${MAX_LIMIT}, got "${raw}"`);
      }
      return value;
    }

    /** The search's parameters, as the API and the search page (/) name them (no paging). */
    _filters(q) {
      const params = new URLSearchParams();
      if (q.trim()) params.set("q", q.trim());
      for (const name of ["gene", "organism", "year-min", "year-max"]) {
        const value = (this.getAttribute(name) || "").trim();
        if (value) params.set(name.replace("-", "_"), value);
      }
      return params;
    }

    async _search(q) {
      if (this._request) this._request.abort();
      const request = (this._request = new AbortController());
      let params;
      try {
        params = this._filters(q);
        params.set("per_page", String(this.limit));
      } catch (problem) {
        return this._showError(problem.message);
      }
      params.set("facets", ""); // counts are not shown: do not ask for them
      this._describeScope();
      this._status.textContent = "Searching…";
      this.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(`${this.server}/api/search?${params}`, {
          mode: "cors", credentials: "omit", signal: request.signal,
        });
        const body = await response.json().catch(() => null);
        if (!response.ok) {
          const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
          throw new Error(`The search failed: ${message}`);
        }
        this._render(body, q);
      } catch (problem) {
        if (problem.name === "AbortError") return; // a newer search took over
        this._showError(
          problem instanceof TypeError ? `Cannot reach ${this.server}` : problem.message,
        );
      } finally {
        if (this._request === request) this.removeAttribute("aria-busy");
      }
    }

    _describeScope() {
      const gene = this.getAttribute("gene");
      const organism = this.getAttribute("organism");
      const low = this.getAttribute("year-min");
      const high = this.getAttribute("year-max");
      const parts = [];
      if (gene) parts.push(`gene ${gene}`);
      if (organism) parts.push(organism);
      if (low || high) parts.push(`${low || "…"}–${high || "…"}`);
      this._scope.textContent = parts.length ? `Figures of ${parts.join(", ")}` : "";
    }

    _render(body, q) {
      const hits = body.hits || [];
      const total = body.total || 0;
      this._status.textContent =
        total === 0 ? "No figures found." : `${hits.length} of ${total.toLocaleString("en")} figures`;
      const list = element("ol", { part: "hits" }, ...hits.map((hit) => this._hit(hit)));
      const more = total > hits.length
        ? element(
            "a",
            { className: "more", part: "more", href: `${this.server}/?${this._filters(q)}` },
            `All ${total.toLocaleString("en")} figures on PFOCR`,
          )
        : null;
      this._results.replaceChildren(list, ...(more ? [more] : []));
    }

    _hit(hit) {
      const href = safeUrl(hit.links && hit.links.page, this.server);
      const title = hit.title || hit.paper_title || hit.figid;
      const organisms = (hit.organisms || []).map((o) => o.label || o.name);
      const meta = [hit.paper_title, hit.year, ...organisms].filter(Boolean).join(" · ");
      const genes = (hit.genes || []).map((g) => g.symbol);
      const shown = genes.slice(0, MAX_GENES_SHOWN).join(", ");
      const extra = genes.length > MAX_GENES_SHOWN ? ` and ${genes.length - MAX_GENES_SHOWN} more` : "";
      return element(
        "li",
        { part: "hit" },
        href
          ? element("a", { className: "title", part: "title", href }, title)
          : element("span", { className: "title", part: "title" }, title),
        element("p", { className: "meta", part: "meta" }, meta),
        hit.snippet ? element("p", { part: "snippet" }, ...snippetNodes(hit.snippet)) : null,
        genes.length ? element("p", { className: "genes", part: "genes" }, `Genes: ${shown}${extra}`) : null,
      );
    }

    _showError(message) {
      this._status.textContent = "";
      this._results.replaceChildren(
        element("p", { className: "error", part: "error", role: "alert" }, message),
      );
    }
  }

  PfocrSearch.version = VERSION;
  customElements.define(TAG, PfocrSearch);
})();
