"""The personalized judge: which answer a given user would prefer, and how sure it is."""
