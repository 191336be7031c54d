"""One folder per ZeroShop service; each runs alone as `python -m services.<name>`."""
