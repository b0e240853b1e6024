"""Django management commands of the keyseal app."""
