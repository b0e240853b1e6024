"""An example Django project that caches a partner API's access token through keyseal."""
