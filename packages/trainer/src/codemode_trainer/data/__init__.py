"""Training data built from the catalog: phrasings, arguments, code and episodes per tool."""
