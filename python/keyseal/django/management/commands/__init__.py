"""``manage.py keyseal``."""
