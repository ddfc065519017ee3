"""What users do with identities, composed from the Embedder and Separator APIs: verification
between two recordings, identification against an enrolled gallery."""
