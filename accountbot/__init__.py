"""The ``accountbot`` command line and the local development stack."""
