"""The demo page and its server (``mirnet serve``): above the CLI's level, holding no logic of its own."""
