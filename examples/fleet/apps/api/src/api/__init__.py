"""The example API service (a placeholder: the fleet is about its Dockerfiles)."""
