"""The PFOCR search server, in two parts:

- :mod:`server.search`: the search service (query syntax, matching, facets, suggestions,
  result dicts) over an index generation; plain Python, no web stack;
- :mod:`server.web`: the Flask application (JSON API, HTML pages, the widget) over it.
"""
