"""One servicer per gRPC service of the contract."""
