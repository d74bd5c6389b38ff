"""The sandbox web's sites, one module per site family; :mod:`linkkeeper.sandbox.web` lists them."""
