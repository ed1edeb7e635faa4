"""punie-agent: a local coding agent with Code Mode tools, LoRA training and a tdom UI."""

__version__ = "0.4.0"
