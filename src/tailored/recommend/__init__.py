"""Recommendation: recommenders behind one interface, over the store's catalogue and interactions."""
