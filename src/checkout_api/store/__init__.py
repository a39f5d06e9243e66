"""The store: the one place that talks to the database."""
