"""The SRE's event plan: what-ifs, capacity plans and their reports and manifests."""
