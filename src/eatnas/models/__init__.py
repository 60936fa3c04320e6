"""nn.Module builders for the search spaces and the shared layer library."""
