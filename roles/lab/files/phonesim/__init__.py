"""The lab's simulated phone fleet (engine: sim.py, per-vendor User-Agents and boot files: vendors.py).

Shipped with the lab role and run by path: ``python <role>/files/phonesim --help``; from a checkout also
``python -m tools.phonesim --help``.  Not a collection plugin: nothing under plugins/ imports it.
"""
