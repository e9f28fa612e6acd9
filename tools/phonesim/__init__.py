"""Checkout entry point of the lab's phone simulator (roles/lab/files/phonesim).  Run: python -m tools.phonesim --help"""
