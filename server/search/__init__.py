"""The search service: what a search means and what it answers, with no HTTP.

``service.SearchService`` is the entry point; ``models`` holds what it is asked
(``SearchRequest``) and what it raises.
"""
