"""Narrated runs (``ipsecsim explain``)."""
