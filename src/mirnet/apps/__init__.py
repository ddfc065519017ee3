"""What users do with identities, composed from the Embedder and Separator APIs: verification
between two recordings, identification against an enrolled gallery."""

# What verify's two recordings are, each with its own shipped calibration (``calibration.SHIPPED``);
# named here so that the CLI can offer them without importing torch.
VERIFY_CONDITIONS = ("mixture", "enrolled", "clean")
