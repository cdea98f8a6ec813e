"""Search spaces shipped with mfsearch (YAML files a user copies and edits)."""
