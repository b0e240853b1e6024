"""Django integration for keyseal (the django helper's version of this file wins at merge)."""
