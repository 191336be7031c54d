"""ZeroShop's shared platform package: contracts, messaging, persistence, runtime and CLI."""
