"""platformctl: a laptop with Docker → a cloud-native platform, in one command."""

__version__ = "0.1.0"
