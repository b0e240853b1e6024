"""The partner API client of the example: an access token cached (sealed) for its lifetime."""
