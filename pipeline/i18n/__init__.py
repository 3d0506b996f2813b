"""Message catalogs (JSON, one file per language) for texts shown to users."""
