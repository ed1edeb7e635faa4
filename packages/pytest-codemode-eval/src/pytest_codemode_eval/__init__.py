"""pytest-codemode-eval: Code Mode tool-routing evals as pytest items.

Data flows one way: suite -> cases -> backend -> parse -> score -> aggregate -> report/gate.
"""
