"""The dry run: Code Mode code run in a sandbox against recording stubs of the catalog's tools.

`trace` (plain records) is what the scorer and the reports read; `sandbox` is the only module that
starts pydantic-monty, lazily, so importing the plugin stays cheap.
"""
