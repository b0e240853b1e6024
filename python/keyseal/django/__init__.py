"""keyseal for Django (the django helper's version of this file replaces this placeholder)."""
