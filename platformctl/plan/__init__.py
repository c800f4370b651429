"""The platform spec (config + version lock) and the component DAG."""
