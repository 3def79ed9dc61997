"""Reference data bundled with Loa: Vietnamese names, provinces, numbering plan."""
