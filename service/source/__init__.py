"""The PyTorch-source front end: Python code in, the JSON program it means out, and back.

* :mod:`.prefilter` checks a source's size, lines and bracket nesting before Python's parser sees
  it, and blanks the notebook and doctest decorations a pasted cell carries;
* :mod:`.translator` walks the ``ast`` (never executing anything) and emits the JSON program the
  ``program`` form would send, refusing every construct outside a whitelist with its location;
* :mod:`.locate` maps a JSON pointer into that program back to the source span it came from;
* :mod:`.exporter` writes a program as a torch script that prints what gradserve printed.
"""

from service.source.exporter import export_program
from service.source.translator import Translation, translate

__all__ = ["Translation", "export_program", "translate"]
