"""The ``pocketping`` command line: one module per command group, each thin (it calls the
same actions as the API). The groups are put together in ``pocketping.wiring.cli_app``."""
