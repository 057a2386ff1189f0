"""Benchmarks, run by ``make bench`` as ``python -m bench``.

Contract of a benchmark module: a file ``bench/bench_NAME.py`` with a
function ``run()`` (plain or ``async``) that returns a list of rows, each a
mapping of column name to value (str, int or float). ``python -m bench``
imports every such module, runs them one after the other and prints all the
rows as one table; its columns are the union of the rows' keys, in the order
first seen, after ``bench`` (the module's NAME). ``python -m bench NAME ...``
runs only those.
"""
