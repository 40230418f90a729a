"""The offline checks of deploy/, one module per concern; `validate.py` runs them all."""
