"""Simulated phone fleet (see plugins/module_utils/phonesim.py).  Run: python -m tools.phonesim --help"""
