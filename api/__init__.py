"""How people reach placematch: the command line (``api.cli``) and, later, the FastAPI service
and its pages. The outermost layer: it may import every other package; none imports it."""
