"""crossling: find where cross-lingual transfer happens inside multilingual encoders.

The package follows one data flow: ``data`` <- ``models`` <- ``training`` / ``similarity`` <-
``analysis`` <- ``experiments`` <- ``report`` <- ``cli``. Lower layers never import higher ones.
"""

__version__ = "0.1.0"
