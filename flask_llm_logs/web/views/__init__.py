"""The UI's pages, one module per section; importing them adds their routes."""
