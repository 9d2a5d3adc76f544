"""The gRPC API: authentication, request checks, and one servicer per service."""
