"""One module per component; each exposes a ``COMPONENT`` satisfying components.base.Component."""
