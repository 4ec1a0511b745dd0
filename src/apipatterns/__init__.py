"""API Patterns: the catalog core (load, validate, render) behind the site."""
