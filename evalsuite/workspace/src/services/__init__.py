"""Application services, wired together with svcs-di (``Inject[...]`` fields)."""
