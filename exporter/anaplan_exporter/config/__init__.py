"""The configuration: a YAML file turned into validated, immutable values (``file`` has the whole and its
small sections, ``source`` the loading and the typed getters, the other modules one section each)."""
