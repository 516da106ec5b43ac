project = "flask-llm-logs"
copyright = "2026, flask-llm-logs contributors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", None),
    "flask": ("https://flask.palletsprojects.com/en/stable/", None),
}
html_theme = "alabaster"
html_static_path = ["_static"]
exclude_patterns = ["_build"]
