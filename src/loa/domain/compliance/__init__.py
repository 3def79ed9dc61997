"""Compliance: each market's law as a policy pack (data in `packs/*.toml`), and the rules that
read it. Pure: no I/O beyond loading the packs shipped with Loa."""
