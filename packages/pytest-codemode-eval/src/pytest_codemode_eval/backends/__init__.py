"""Backends turn a GenerationRequest into a Generation; each lives in its own module."""
