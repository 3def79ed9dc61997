"""The customer book: reading spreadsheets, importing, finding, exporting and erasing people."""
