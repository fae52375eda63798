"""The `hwnat` command line: thin click commands over the library."""
