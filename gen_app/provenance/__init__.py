"""Provenance marks on every output: invisible watermarks (images, audio, text), content credentials (C2PA), and
the checks that read them back (the "Check a file" tab)."""
